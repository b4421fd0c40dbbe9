"""A process killed (SIGKILL) in the middle of training, evaluation, deployment or a write loses nothing.

The main job runs the test model in a subprocess against a persistent instance and MLflow store in a temporary
folder, and kills itself at a named fault point (mlops_assets/infra/faults.py). Then it runs again: it must finish the
work, and nothing half-written may be read: the MLflow database passes SQLite's integrity check, aliases point at
complete (READY) versions, and every stored asset value loads.
"""

import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.stages.registry import CHAMPION, PREVIOUS
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import MODEL, subprocess_env

pytestmark = pytest.mark.slow

FAULT_POINTS = [
    "io_manager.before_rename",
    "training.after_log_model",
    "evaluation.after_logging",
    "deployment.after_previous_alias",
]


def run_main(root: Path, months: int, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = subprocess_env(
        DAGSTER_HOME=str(root / "state"), MLOPS_DATA_DIR=str(root / "data"), MLOPS_STATE_DIR=str(root / "state")
    )
    if kill_at:
        env["MLOPS_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "mlops_assets.commands.main", "--model", MODEL.name, "--versions", str(months)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_nothing_half_done(root: Path) -> None:
    state = root / "state"
    with sqlite3.connect(state / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = MLflowTracking(state_dir=str(state)).client()
    for model in client.search_registered_models():
        for alias, version in model.aliases.items():
            assert client.get_model_version(model.name, version).status == "READY", (alias, version)
    for path in (state / "assets").rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            with path.open("rb") as file:
                pickle.load(file)  # a truncated file would raise


@pytest.mark.parametrize("fault", FAULT_POINTS)
def test_a_killed_run_is_finished_by_the_next_start(tmp_path, fault):
    (tmp_path / "state").mkdir()
    shutil.copy(PROJECT_ROOT / "state" / "dagster.yaml", tmp_path / "state" / "dagster.yaml")
    # The deployment fault point is reached only when a champion is replaced: the second version does that.
    months = 2 if fault.startswith("deployment") else 1
    if months == 2:
        assert run_main(tmp_path, 1).returncode == 0

    killed = run_main(tmp_path, months, kill_at=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_nothing_half_done(tmp_path)

    again = run_main(tmp_path, months)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert_nothing_half_done(tmp_path)

    state = tmp_path / "state"
    client = MLflowTracking(state_dir=str(state)).client()
    aliases = client.get_registered_model(MODEL.model_name).aliases
    assert CHAMPION in aliases
    if months == 2:
        assert PREVIOUS in aliases and aliases[PREVIOUS] != aliases[CHAMPION]
    with dg.DagsterInstance.from_config(str(state)) as instance:
        statuses = [record.dagster_run.status for record in instance.get_run_records()]
        assert dg.DagsterRunStatus.STARTED not in statuses  # the killed run was marked failed, not left running
        assert dg.DagsterRunStatus.FAILURE in statuses
        latest = instance.fetch_materializations(MODEL.key("deployed_model"), limit=1).records
        assert latest, "the rerun deployed a champion"
    running = client.search_runs(
        [client.get_experiment_by_name("mlops_assets").experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    assert not running, [run.info.run_name for run in running]
