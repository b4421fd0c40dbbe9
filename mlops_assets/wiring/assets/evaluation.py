"""Evaluation: `<model>/model_evaluation`, the candidate against the champion and a baseline, gated by blocking
checks."""

import functools

import dagster as dg

from mlops_assets.infra.alerts import Notifier
from mlops_assets.infra.faults import fault_point
from mlops_assets.settings import ModelSettings
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.checks import gate_check_results, gate_check_specs
from mlops_assets.wiring.partitions import version_partitions
from mlops_assets.wiring.resources import MLflowTracking


def evaluation_assets(model: ModelSettings) -> list[dg.AssetsDefinition]:
    @pipeline_asset(
        model,
        "evaluation",
        name="model_evaluation",
        talks_to_mlflow=True,
        code_version="1",
        kinds={"scikit-learn", "mlflow"},
        ins={
            "dataset_split": dg.AssetIn(model.key("dataset_split")),
            "candidate_model": dg.AssetIn(model.key("candidate_model")),
        },
        check_specs=gate_check_specs(model.key("model_evaluation"), version_partitions(model.dataset)),
        description="The candidate, the current champion and a naive baseline scored on the same holdout rows: "
        "metrics, a paired bootstrap interval of candidate minus champion, metrics per slice and plots. Its four "
        "blocking checks are the promotion gates: a failed gate stops deployment.",
    )
    def model_evaluation(
        context: dg.AssetExecutionContext,
        dataset_split,
        candidate_model,
        mlflow_tracking: MLflowTracking,
        notifier: Notifier,
    ):  # no return annotation: with check specs Dagster would read it as several outputs
        from mlops_assets.stages.evaluation import evaluate
        from mlops_assets.stages.registry import current_champion

        champion = current_champion(mlflow_tracking, model.model_name)
        with mlflow_tracking.asset_run(context, tags={"model": model.name}) as run:
            evaluation = evaluate(dataset_split, candidate_model, champion, model, mlflow_tracking, context.run.run_id)
            evaluation.log_to_mlflow()
            fault_point("evaluation.after_logging")
        if not evaluation.passed:
            notifier.notify(
                f"Gates failed for {model.name}[{context.partition_key}]",
                f"candidate {candidate_model.run_id} failed {', '.join(evaluation.failed_gates)}; the champion stays.",
            )
        return dg.MaterializeResult(
            value=evaluation,
            metadata=evaluation.to_metadata(
                mlflow_tracking.run_link(run), functools.partial(mlflow_tracking.artifact_link, run)
            ),
            check_results=gate_check_results(evaluation.gates),
        )

    return [model_evaluation]
