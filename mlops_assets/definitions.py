"""The code location: the assets, checks, jobs and sensors of defs/, with the project's resources bound.

`dagster dev -w workspace.yaml`, `dg dev` and every run load `defs`. Tests call `build_definitions` with their own
settings and stores. Loading stays light: scikit-learn, SciPy, pandas and MLflow are imported inside the functions
that use them.
"""

import functools

import dagster as dg

from mlops_assets.config import ProjectSettings
from mlops_assets.infra.alerts import Notifier, notifier_from_env
from mlops_assets.wiring.executors import executor_from_env
from mlops_assets.wiring.io_managers import AtomicFilesystemIOManager
from mlops_assets.wiring.resources import MLflowTracking


@functools.cache
def _defs_folder() -> dg.Definitions:
    from mlops_assets.wiring import assets, checks, jobs, sensors  # noqa: F401  (temporary, until components)
    from mlops_assets.wiring.assets import deployment, evaluation, features, ingestion, monitoring, training
    from mlops_assets.wiring.sensors import alerts, dataset_versions, retraining

    modules = [deployment, evaluation, features, ingestion, monitoring, training]
    return dg.Definitions(
        assets=dg.load_assets_from_modules(modules),
        jobs=[jobs.version_pipeline_job, jobs.train_and_deploy_multiprocess_job],
        sensors=[
            alerts.run_failure_alert_sensor,
            dataset_versions.dataset_version_sensor,
            retraining.retraining_sensor,
        ],
    )


def build_definitions(
    settings: ProjectSettings | None = None,
    mlflow_tracking: MLflowTracking | None = None,
    notifier: Notifier | None = None,
) -> dg.Definitions:
    """The project's definitions with the given resources (tests pass their own temporary folders)."""
    settings = settings or ProjectSettings()
    resources = dg.Definitions(
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
    return dg.Definitions.merge(_defs_folder(), resources)


defs = build_definitions()
