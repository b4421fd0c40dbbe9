"""The code location: every asset, check, job, sensor and resource of the project.

Loading this module stays light: scikit-learn, SciPy and MLflow are imported inside the functions that use them.
"""

import dagster as dg

from mlops_assets import assets
from mlops_assets.alerts import Notifier, notifier_from_env
from mlops_assets.config import ProjectSettings
from mlops_assets.executors import executor_from_env
from mlops_assets.io_managers import AtomicFilesystemIOManager
from mlops_assets.jobs import train_and_deploy_multiprocess_job, version_pipeline_job
from mlops_assets.resources import MLflowTracking
from mlops_assets.sensors import dataset_version_sensor, retraining_sensor, run_failure_alert_sensor


def build_definitions(
    settings: ProjectSettings | None = None,
    mlflow_tracking: MLflowTracking | None = None,
    notifier: Notifier | None = None,
) -> dg.Definitions:
    """The project's definitions with the given resources (tests pass their own temporary folders)."""
    settings = settings or ProjectSettings()
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        jobs=[version_pipeline_job, train_and_deploy_multiprocess_job],
        sensors=[dataset_version_sensor, retraining_sensor, run_failure_alert_sensor],
        resources={
            "settings": settings,
            "io_manager": AtomicFilesystemIOManager.for_state(settings.state_dir),
            "mlflow_tracking": mlflow_tracking or MLflowTracking(),
            "notifier": notifier or notifier_from_env(),
        },
        # Each step of the default multiprocess executor re-imports the code (4-6 s here); in-process runs a
        # version's steps in one process. Production chooses multiprocess or Celery with MLOPS_EXECUTOR.
        executor=executor_from_env(),
    )


defs = build_definitions()
