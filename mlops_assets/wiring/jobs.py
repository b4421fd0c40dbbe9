"""Jobs: named asset selections that sensors and people launch."""

import dagster as dg

# Every asset of one dataset version. Sensors launch it with an asset selection (a subset) per request.
version_pipeline_job = dg.define_asset_job(
    name="version_pipeline",
    selection=dg.AssetSelection.all(),
    description="The whole pipeline for one dataset version; sensors run subsets of it.",
)

INGESTION_ASSETS = [dg.AssetKey("raw_dataset"), dg.AssetKey("feature_table")]
# Train, gate and deploy a candidate, then score the version with whichever model is champion afterwards.
TRAINING_ASSETS = [
    dg.AssetKey("dataset_split"),
    dg.AssetKey("candidate_model"),
    dg.AssetKey("model_evaluation"),
    dg.AssetKey("deployed_model"),
    dg.AssetKey("batch_predictions"),
]

# With a champion in place, a new version is scored and monitored; the retraining sensor decides the rest.
MONITORING_ASSETS = [dg.AssetKey("batch_predictions"), dg.AssetKey("model_monitoring")]

# Ingest, train, gate, deploy and score one version with one process per step (the multiprocess executor): a
# crashing step cannot take the others down, and several versions can train at once on a bigger machine. Each step
# pays a process start and an import of the code (4-6 s here), so the in-process default is faster on one laptop.
train_and_deploy_multiprocess_job = dg.define_asset_job(
    name="train_and_deploy_multiprocess",
    selection=dg.AssetSelection.assets(*INGESTION_ASSETS, *TRAINING_ASSETS),
    executor_def=dg.multiprocess_executor,
    description="Ingest, train, gate, deploy and score one dataset version, one process per step.",
)
