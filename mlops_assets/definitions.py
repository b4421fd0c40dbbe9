"""The code location: every asset, check, job, sensor and resource of the project.

Loading this module stays light: scikit-learn, SciPy and MLflow are imported inside the functions that use them.
"""

from __future__ import annotations

import dagster as dg

from mlops_assets import assets
from mlops_assets.alerts import notifier_from_env
from mlops_assets.config import ProjectSettings
from mlops_assets.jobs import version_pipeline_job
from mlops_assets.resources import MLflowTracking
from mlops_assets.sensors import dataset_version_sensor, retraining_sensor, run_failure_alert_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[version_pipeline_job],
    sensors=[dataset_version_sensor, retraining_sensor, run_failure_alert_sensor],
    resources={
        "settings": ProjectSettings(),
        "mlflow_tracking": MLflowTracking(),
        "notifier": notifier_from_env(),
    },
    # Each step of the default multiprocess executor re-imports the code (4-6 s here); in-process runs a version's
    # steps in one process. Choose multiprocess or Celery in production by setting the executor in run config.
    executor=dg.in_process_executor,
)
