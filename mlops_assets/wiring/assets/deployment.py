"""Deployment: `<model>/deployed_model` (the registry's champion alias) and `<model>/batch_predictions` (the
champion's scores)."""

import dagster as dg

from mlops_assets.settings import ModelSettings
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.column_schemas import predictions_schema
from mlops_assets.wiring.resources import MLflowTracking


def deployment_assets(model: ModelSettings) -> list[dg.AssetsDefinition]:
    @pipeline_asset(
        model,
        "deployment",
        name="deployed_model",
        talks_to_mlflow=True,
        code_version="1",
        kinds={"mlflow"},
        ins={
            "model_evaluation": dg.AssetIn(model.key("model_evaluation")),
            "candidate_model": dg.AssetIn(model.key("candidate_model")),
        },
        description=f"Registers the candidate as a version of the MLflow registered model `{model.model_name}` and "
        "moves alias `champion` to it, keeping the former champion under `previous_champion` for rollback. Only a "
        "candidate that passed every gate against the current champion is promoted: the gates and the champion it "
        "was compared with are checked again here, so a deployment-only run cannot promote a candidate that failed "
        "them or was never compared.",
    )
    def deployed_model(
        context: dg.AssetExecutionContext, model_evaluation, candidate_model, mlflow_tracking: MLflowTracking
    ) -> dg.MaterializeResult:
        from mlops_assets.stages.deployment import deploy
        from mlops_assets.stages.registry import DeploymentRefused

        try:
            promotion = deploy(mlflow_tracking, model, candidate_model, model_evaluation, context.run.run_id)
        except DeploymentRefused as refusal:
            raise dg.Failure(str(refusal)) from None
        return dg.MaterializeResult(value=promotion, metadata=promotion.to_metadata(model.model_name))

    columns = predictions_schema(model)

    @pipeline_asset(
        model,
        "deployment",
        name="batch_predictions",
        talks_to_mlflow=True,
        code_version="1",
        kinds={"pandas", "parquet"},
        ins={"raw_dataset": dg.AssetIn(model.raw_key)},
        deps=[deployed_model],
        metadata={"dagster/column_schema": columns},
        description="The champion scores every row of the version (inputs checked against the contract it was "
        "trained with); the row key, the prediction, and the model's name and version go to "
        f"`data/predictions/{model.name}/<version>.parquet`.",
    )
    def batch_predictions(
        context: dg.AssetExecutionContext, raw_dataset, mlflow_tracking: MLflowTracking
    ) -> dg.MaterializeResult:
        from mlops_assets.stages.scoring import score_batch

        path = model.predictions_dir / f"{context.partition_key}.parquet"
        scored = score_batch(mlflow_tracking, model, raw_dataset, path)
        return dg.MaterializeResult(metadata=scored.to_metadata(columns))

    return [deployed_model, batch_predictions]
