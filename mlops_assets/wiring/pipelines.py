"""The asset factories put together: a dataset's definitions and a model's definitions.

The components (components/) call these with the settings of their defs.yaml; tests and benchmarks call them with
settings of their own. Nothing here reads a global: a model's assets, checks and sensors see only its settings.
"""

import dagster as dg

from mlops_assets.settings import DatasetSettings, ModelSettings
from mlops_assets.wiring.assets.deployment import deployment_assets
from mlops_assets.wiring.assets.evaluation import evaluation_assets
from mlops_assets.wiring.assets.features import feature_assets
from mlops_assets.wiring.assets.ingestion import raw_dataset_asset
from mlops_assets.wiring.assets.monitoring import monitoring_assets
from mlops_assets.wiring.assets.training import training_assets
from mlops_assets.wiring.jobs import dataset_jobs
from mlops_assets.wiring.sensors.dataset_versions import dataset_version_sensor
from mlops_assets.wiring.sensors.retraining import retraining_sensor


def dataset_definitions(dataset: DatasetSettings, models: list[ModelSettings]) -> dg.Definitions:
    """A dataset's ingestion asset (with its version_unchanged check), its jobs and its dataset-version sensor,
    which requests the work of every model in `models` (those reading this dataset)."""
    return dg.Definitions(
        assets=[raw_dataset_asset(dataset)],
        jobs=dataset_jobs(dataset),
        sensors=[dataset_version_sensor(dataset, models)],
    )


def model_definitions(model: ModelSettings) -> dg.Definitions:
    """A model's features, split, training, gated evaluation, deployment, predictions, monitoring and retraining
    decisions, and its retraining sensor."""
    assets = [
        *feature_assets(model),
        *training_assets(model),
        *evaluation_assets(model),
        *deployment_assets(model),
        *monitoring_assets(model),
    ]
    return dg.Definitions(assets=assets, sensors=[retraining_sensor(model)])


def project_definitions(datasets: list[DatasetSettings], models: list[ModelSettings]) -> dg.Definitions:
    """Every dataset and model given, as the components of a defs folder would build them."""
    by_dataset = {dataset.name: [m for m in models if m.dataset.name == dataset.name] for dataset in datasets}
    return dg.Definitions.merge(
        *(dataset_definitions(dataset, by_dataset[dataset.name]) for dataset in datasets),
        *(model_definitions(model) for model in models),
    )
