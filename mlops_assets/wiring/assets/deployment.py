"""Deployment: `deployed_model` (the registry's champion alias) and `batch_predictions` (the champion's scores)."""

import dagster as dg

from mlops_assets.config import ProjectSettings
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.column_schemas import column_schema
from mlops_assets.wiring.resources import MLflowTracking


@pipeline_asset(
    "deployment",
    talks_to_mlflow=True,
    code_version="1",
    kinds={"mlflow"},
    description="Registers the candidate in the MLflow model registry and moves alias `champion` to it, keeping "
    "the former champion under `previous_champion` for rollback. Only a candidate that passed every gate against "
    "the current champion is promoted: the gates and the champion it was compared with are checked again here, so "
    "a deployment-only run cannot promote a candidate that failed them or was never compared.",
)
def deployed_model(
    context: dg.AssetExecutionContext,
    model_evaluation,
    candidate_model,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
) -> dg.MaterializeResult:
    from mlops_assets.stages.deployment import deploy
    from mlops_assets.stages.registry import DeploymentRefused

    try:
        promotion = deploy(mlflow_tracking, settings, candidate_model, model_evaluation, context.run.run_id)
    except DeploymentRefused as refusal:
        raise dg.Failure(str(refusal)) from None
    return dg.MaterializeResult(value=promotion, metadata=promotion.to_metadata(settings.model_name))


@pipeline_asset(
    "deployment",
    talks_to_mlflow=True,
    code_version="1",
    kinds={"pandas", "parquet"},
    deps=[deployed_model],
    metadata={"dagster/column_schema": column_schema("Predictions")},
    description="The champion scores every row of the version (inputs checked against the contract it was trained "
    "with); the row key, the prediction, and the model's name and version go to "
    "`data/predictions/<version>.parquet`.",
)
def batch_predictions(
    context: dg.AssetExecutionContext, raw_dataset, settings: ProjectSettings, mlflow_tracking: MLflowTracking
) -> dg.MaterializeResult:
    from mlops_assets.stages.scoring import score_batch

    scored = score_batch(
        mlflow_tracking, settings, raw_dataset, settings.predictions_dir / f"{context.partition_key}.parquet"
    )
    return dg.MaterializeResult(metadata=scored.to_metadata(column_schema("Predictions")))
