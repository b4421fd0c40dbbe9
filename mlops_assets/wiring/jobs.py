"""Jobs: one per dataset (every asset of its versions: its ingestion and each model on it), and the asset selections
that sensors and people launch through it."""

import dagster as dg

from mlops_assets.settings import DatasetSettings, ModelSettings


def pipeline_job_name(dataset: DatasetSettings) -> str:
    return f"{dataset.name}_pipeline"


def multiprocess_job_name(dataset: DatasetSettings) -> str:
    return f"{dataset.name}_multiprocess"


def dataset_jobs(dataset: DatasetSettings) -> list:
    everything = dg.AssetSelection.tag("dataset", dataset.name)
    return [
        dg.define_asset_job(
            name=pipeline_job_name(dataset),
            selection=everything,
            description=f"Every asset of one {dataset.name} version: its ingestion and each model on it; sensors "
            "run subsets of it.",
        ),
        # One process per step (the multiprocess executor): a crashing step cannot take the others down, and
        # several versions can train at once on a bigger machine. Each step pays a process start and an import of
        # the code (4-6 s here), so the in-process default is faster on one laptop.
        dg.define_asset_job(
            name=multiprocess_job_name(dataset),
            selection=everything,
            executor_def=dg.multiprocess_executor,
            description=f"The same as {pipeline_job_name(dataset)}, one process per step.",
        ),
    ]


def ingestion_selection(model: ModelSettings) -> list[dg.AssetKey]:
    return [model.raw_key, model.key("feature_table")]


def training_selection(model: ModelSettings) -> list[dg.AssetKey]:
    """Train, gate and deploy a candidate, then score the version with whichever model is champion afterwards."""
    names = ("dataset_split", "candidate_model", "model_evaluation", "deployed_model", "batch_predictions")
    return [model.key(name) for name in names]


def monitoring_selection(model: ModelSettings) -> list[dg.AssetKey]:
    """With a champion in place, a new version is scored and monitored; the retraining sensor decides the rest."""
    return [model.key("batch_predictions"), model.key("model_monitoring")]
