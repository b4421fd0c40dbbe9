"""Training: `<model>/candidate_model`, the tuned model logged to MLflow with its manifest and reference profile."""

import dagster as dg

from mlops_assets.settings import ModelSettings
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.resources import MLflowTracking

TRAINING_CODE_VERSION = "1"


def training_assets(model: ModelSettings) -> list[dg.AssetsDefinition]:
    estimator = model.estimator.class_path or "HistGradientBoosting (the default)"

    @pipeline_asset(
        model,
        "training",
        name="candidate_model",
        talks_to_mlflow=True,
        code_version=TRAINING_CODE_VERSION,
        kinds={"scikit-learn", "mlflow"},
        ins={
            "dataset_split": dg.AssetIn(model.key("dataset_split")),
            "feature_table": dg.AssetIn(model.key("feature_table")),
        },
        description=f"The tuned candidate ({estimator}): a seeded random search with cross-validation inside the "
        "training rows, refit on all of them, logged to MLflow (skops format, signature, input example, manifest) "
        "as a pipeline that takes raw contract rows.",
    )
    def candidate_model(
        context: dg.AssetExecutionContext, dataset_split, feature_table, mlflow_tracking: MLflowTracking
    ) -> dg.MaterializeResult:
        from mlops_assets.stages.training import train_candidate

        data_hash = records.data_version(context.instance, model.raw_key, context.partition_key)
        with mlflow_tracking.asset_run(context, tags={"data_version": data_hash or "", "model": model.name}) as run:
            candidate = train_candidate(
                dataset_split,
                feature_table,
                model,
                code_version=TRAINING_CODE_VERSION,
                data_hash=data_hash,
                dataset_version=context.partition_key,
                dagster_run_id=context.run.run_id,
                mlflow_run_id=run.info.run_id,
            )
        return dg.MaterializeResult(value=candidate, metadata=candidate.to_metadata(mlflow_tracking.run_link(run)))

    return [candidate_model]
