"""Training: `candidate_model`, the tuned model logged to MLflow with its manifest and reference profile."""

import dagster as dg

from mlops_assets.config import ProjectSettings
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.resources import MLflowTracking

TRAINING_CODE_VERSION = "1"


@pipeline_asset(
    "training",
    talks_to_mlflow=True,
    code_version=TRAINING_CODE_VERSION,
    kinds={"scikit-learn", "mlflow"},
    description="The tuned candidate model: a seeded random search with cross-validation inside the training rows, "
    "refit on all of them, logged to MLflow (skops format, signature, input example, manifest) as a pipeline "
    "that takes raw contract rows.",
)
def candidate_model(
    context: dg.AssetExecutionContext,
    dataset_split,
    feature_table,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
) -> dg.MaterializeResult:
    from mlops_assets.stages.training import train_candidate

    data_hash = records.data_version(context.instance, "raw_dataset", context.partition_key)
    with mlflow_tracking.asset_run(context, tags={"data_version": data_hash or ""}) as run:
        candidate = train_candidate(
            dataset_split,
            feature_table,
            settings,
            code_version=TRAINING_CODE_VERSION,
            data_hash=data_hash,
            dataset_version=context.partition_key,
            dagster_run_id=context.run.run_id,
            mlflow_run_id=run.info.run_id,
        )
    return dg.MaterializeResult(value=candidate, metadata=candidate.to_metadata(mlflow_tracking.run_link(run)))
