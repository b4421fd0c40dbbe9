"""The code location: every asset, check, job, sensor and resource of the project.

Loading this module stays light: scikit-learn, SciPy and MLflow are imported inside the functions that use them.
"""

from __future__ import annotations

import dagster as dg

from mlops_assets import assets
from mlops_assets.config import ProjectSettings
from mlops_assets.jobs import ingest_version_job
from mlops_assets.sensors import dataset_version_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[ingest_version_job],
    sensors=[dataset_version_sensor],
    resources={"settings": ProjectSettings()},
)
