"""The code location: the datasets and models of defs/ (Dagster Components, one defs.yaml each), the run-failure
alert sensor, and the project's resources.

`dagster dev -w workspace.yaml`, `dg dev` and every run load `defs`. Tests call `build_definitions` with datasets and
models of their own (their own folders and stores). Loading stays light: scikit-learn, SciPy, pandas and MLflow
are imported inside the functions that use them.
"""

import functools
from pathlib import Path

import dagster as dg

from mlops_assets.infra.alerts import Notifier, notifier_from_env
from mlops_assets.settings import DatasetSettings, ModelSettings
from mlops_assets.settings.paths import default_state_dir
from mlops_assets.wiring.executors import executor_from_env
from mlops_assets.wiring.io_managers import AtomicFilesystemIOManager
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensors.alerts import run_failure_alert_sensor


@functools.cache
def _defs_folder() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def build_definitions(
    models: list[ModelSettings] | None = None,
    mlflow_tracking: MLflowTracking | None = None,
    notifier: Notifier | None = None,
    datasets: list[DatasetSettings] | None = None,
    state_dir: str | None = None,
) -> dg.Definitions:
    """The project's definitions: the defs folder's, or those of `models` (and their datasets, or `datasets`)."""
    if models is None and datasets is None:
        pipelines = _defs_folder()
    else:
        from mlops_assets.wiring.pipelines import project_definitions

        models = models or []
        datasets = datasets or list({m.dataset.name: m.dataset for m in models}.values())
        pipelines = project_definitions(datasets, models)
        state_dir = state_dir or next((d.state_dir for d in datasets), None)
    state_dir = state_dir or default_state_dir()
    resources = dg.Definitions(
        resources={
            "io_manager": AtomicFilesystemIOManager.for_state(state_dir),
            "mlflow_tracking": mlflow_tracking or MLflowTracking(),
            "notifier": notifier or notifier_from_env(),
        },
        sensors=[run_failure_alert_sensor],
        # Each step of the default multiprocess executor re-imports the code (4-6 s here); in-process runs a
        # version's steps in one process. Production chooses multiprocess or Celery with MLOPS_EXECUTOR.
        executor=executor_from_env(),
    )
    return dg.Definitions.merge(pipelines, resources)


defs = build_definitions()
