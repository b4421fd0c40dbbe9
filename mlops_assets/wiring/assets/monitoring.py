"""Monitoring: `model_monitoring` (the champion on new rows) and `retraining_decision` (recorded by the sensor)."""

import functools

import dagster as dg

from mlops_assets.config import ProjectSettings
from mlops_assets.infra.alerts import Notifier
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import OWNERS, pipeline_asset
from mlops_assets.wiring.resources import MLflowTracking


@pipeline_asset(
    "monitoring",
    talks_to_mlflow=True,
    code_version="1",
    kinds={"mlflow", "pandas"},
    description="The current champion on the rows of this version it never trained on: realized metrics against "
    "its own evaluation, drift of every input feature and of the predictions against its training data (PSI, "
    "normalised Wasserstein, Jensen-Shannon), and plots. A version with no such rows is recorded as 'nothing to "
    "monitor', one with fewer than monitoring.min_rows as 'too few rows' (neither votes for retraining). The "
    "retraining sensor reads these results.",
)
def model_monitoring(
    context: dg.AssetExecutionContext,
    raw_dataset,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
    notifier: Notifier,
) -> dg.MaterializeResult:
    from mlops_assets.stages.monitoring import monitor
    from mlops_assets.stages.registry import current_champion

    champion = current_champion(mlflow_tracking, settings.model_name)
    history = records.monitoring_history(context.instance, exclude=context.partition_key)
    with mlflow_tracking.asset_run(context, tags={"champion_version": champion.version if champion else ""}) as run:
        monitoring = monitor(context.partition_key, raw_dataset, champion, settings, history, mlflow_tracking)
        monitoring.log_to_mlflow()
    alert = monitoring.result.drift_alert(context.partition_key)
    if alert:
        notifier.notify(*alert)
    return dg.MaterializeResult(
        metadata=monitoring.to_metadata(
            mlflow_tracking.run_link(run), functools.partial(mlflow_tracking.artifact_link, run)
        )
    )


retraining_decision = dg.AssetSpec(
    "retraining_decision",
    deps=[model_monitoring],
    partitions_def=model_monitoring.partitions_def,
    group_name="monitoring",
    kinds={"dagster"},
    code_version="1",
    owners=OWNERS,
    tags={"stage": "monitoring"},
    description="Recorded by the retraining sensor for each model_monitoring result: retrain or not, and why "
    "(degradation, drift, hysteresis, cooldown, cap). When it says retrain, the sensor requests training, "
    "evaluation and deployment for that version.",
)
