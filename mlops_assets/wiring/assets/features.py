"""Features: `<model>/feature_table` (the model's engineered features) and `<model>/dataset_split` (its
deterministic train/holdout split)."""

import dagster as dg

from mlops_assets.settings import ModelSettings
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.column_schemas import features_schema
from mlops_assets.wiring.resources import MLflowTracking


def feature_assets(model: ModelSettings) -> list[dg.AssetsDefinition]:
    columns = features_schema(model)

    @pipeline_asset(
        model,
        "features",
        name="feature_table",
        code_version="1",
        kinds={"pandas", "pandera"},
        ins={"raw_dataset": dg.AssetIn(model.raw_key)},
        metadata={"dagster/column_schema": columns},
        description=f"Engineered features of every row (`{model.features}.make_features`, the same code the "
        "logged model runs at serving time), validated against its Features contract.",
    )
    def feature_table(raw_dataset) -> dg.MaterializeResult:
        from mlops_assets.stages.featurize import feature_table as build_feature_table

        features = build_feature_table(raw_dataset, model)
        return dg.MaterializeResult(
            value=features,
            metadata={
                "dagster/row_count": len(features),
                "dagster/column_schema": columns,
                "preview": dg.MetadataValue.md(features.head(5).round(3).to_markdown()),
            },
        )

    @pipeline_asset(
        model,
        "features",
        name="dataset_split",
        talks_to_mlflow=True,
        code_version="1",
        kinds={"pandas"},
        ins={"raw_dataset": dg.AssetIn(model.raw_key)},
        # In a run of the whole graph, monitoring judges the current champion on this version before a candidate is
        # trained and deployed from it (otherwise it could judge the new champion on its own training rows).
        deps=[model.key("model_monitoring")],
        description="Deterministic train/holdout split of the version's rows. Time split: the newest rows, and never "
        "rows the current champion trained on; hash split: a stable hash of the row key.",
    )
    def dataset_split(raw_dataset, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
        from mlops_assets.stages.registry import current_champion
        from mlops_assets.stages.splitting import split_version

        split = split_version(raw_dataset, model, current_champion(mlflow_tracking, model.model_name))
        return dg.MaterializeResult(value=split, metadata=split.to_metadata())

    return [feature_table, dataset_split]
