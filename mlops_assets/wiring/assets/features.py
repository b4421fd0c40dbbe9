"""Features: `feature_table` (the engineered features) and `dataset_split` (the deterministic train/holdout split)."""

import dagster as dg

from mlops_assets.config import ProjectSettings
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.column_schemas import column_schema
from mlops_assets.wiring.resources import MLflowTracking


@pipeline_asset(
    "features",
    code_version="1",
    kinds={"pandas", "pandera"},
    metadata={"dagster/column_schema": column_schema("Features")},
    description="Engineered features of every row (features.make_features, the same code the logged model runs "
    "at serving time), validated against the Features contract.",
)
def feature_table(raw_dataset) -> dg.MaterializeResult:
    from mlops_assets.stages.featurize import feature_table as build_feature_table

    features = build_feature_table(raw_dataset)
    return dg.MaterializeResult(
        value=features,
        metadata={
            "dagster/row_count": len(features),
            "dagster/column_schema": column_schema("Features"),
            "preview": dg.MetadataValue.md(features.head(5).round(3).to_markdown()),
        },
    )


@pipeline_asset(
    "features",
    talks_to_mlflow=True,
    code_version="1",
    kinds={"pandas"},
    # In a run of the whole graph, monitoring judges the current champion on this version before a candidate is
    # trained and deployed from it (otherwise it could judge the new champion on its own training rows).
    deps=["model_monitoring"],
    description="Deterministic train/holdout split of the version's rows. Time split: the newest rows, and never "
    "rows the current champion trained on; hash split: a stable hash of the row key.",
)
def dataset_split(raw_dataset, settings: ProjectSettings, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    from mlops_assets.stages.registry import current_champion
    from mlops_assets.stages.splitting import split_version

    split = split_version(raw_dataset, settings, current_champion(mlflow_tracking, settings.model_name))
    return dg.MaterializeResult(value=split, metadata=split.to_metadata())
