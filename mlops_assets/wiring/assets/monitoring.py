"""Monitoring: `<model>/model_monitoring` (the champion on new rows) and `<model>/retraining_decision` (recorded by
the model's retraining sensor)."""

import functools

import dagster as dg

from mlops_assets.infra.alerts import Notifier
from mlops_assets.settings import ModelSettings
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import OWNERS, owner_tags, pipeline_asset
from mlops_assets.wiring.partitions import version_partitions
from mlops_assets.wiring.resources import MLflowTracking


def monitoring_assets(model: ModelSettings) -> list:
    @pipeline_asset(
        model,
        "monitoring",
        name="model_monitoring",
        talks_to_mlflow=True,
        code_version="1",
        kinds={"mlflow", "pandas"},
        ins={"raw_dataset": dg.AssetIn(model.raw_key)},
        description="The current champion on the rows of this version it never trained on: realized metrics "
        "against its own evaluation, drift of every input feature and of the predictions against its training data "
        "(PSI, normalised Wasserstein, Jensen-Shannon), and plots. A version with no such rows is recorded as "
        "'nothing to monitor', one with fewer than monitoring.min_rows as 'too few rows' (neither votes for "
        "retraining). The model's retraining sensor reads these results.",
    )
    def model_monitoring(
        context: dg.AssetExecutionContext, raw_dataset, mlflow_tracking: MLflowTracking, notifier: Notifier
    ) -> dg.MaterializeResult:
        from mlops_assets.stages.monitoring import monitor
        from mlops_assets.stages.registry import current_champion

        champion = current_champion(mlflow_tracking, model.model_name)
        history = records.monitoring_history(context.instance, context.asset_key, exclude=context.partition_key)
        tags = {"champion_version": champion.version if champion else "", "model": model.name}
        with mlflow_tracking.asset_run(context, tags=tags) as run:
            monitoring = monitor(context.partition_key, raw_dataset, champion, model, history, mlflow_tracking)
            monitoring.log_to_mlflow()
        alert = monitoring.result.drift_alert(f"{model.name}[{context.partition_key}]")
        if alert:
            notifier.notify(*alert)
        return dg.MaterializeResult(
            metadata=monitoring.to_metadata(
                mlflow_tracking.run_link(run), functools.partial(mlflow_tracking.artifact_link, run)
            )
        )

    retraining_decision = dg.AssetSpec(
        model.key("retraining_decision"),
        deps=[model_monitoring],
        partitions_def=version_partitions(model.dataset),
        group_name=model.name,
        kinds={"dagster"},
        code_version="1",
        owners=OWNERS,
        tags=owner_tags(model, "monitoring"),
        description="Recorded by the model's retraining sensor for each model_monitoring result: retrain or not, and "
        "why (degradation, drift, hysteresis, cooldown, cap). When it says retrain, the sensor requests training, "
        "evaluation and deployment for that version.",
    )
    return [model_monitoring, retraining_decision]
