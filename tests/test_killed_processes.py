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
from mlops_assets.wiring.sensors.alerts import ALERT_TAG
from tests.conftest import MODEL, subprocess_env, webhook

pytestmark = pytest.mark.slow

FAULT_POINTS = [
    "io_manager.before_rename",
    "training.after_log_model",
    "evaluation.after_logging",
    "deployment.after_previous_alias",
]


def run_main(root: Path, months: int, kill_at: str | None = None, webhook_url: str | None = None):
    env = subprocess_env(
        DAGSTER_HOME=str(root / "state"), MLOPS_DATA_DIR=str(root / "data"), MLOPS_STATE_DIR=str(root / "state")
    )
    if kill_at:
        env["MLOPS_KILL_AT"] = kill_at
    if webhook_url:
        env["MLOPS_ALERT_WEBHOOK_URL"] = webhook_url
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


def errors(hook) -> list[dict]:
    """The failure alerts the webhook received (drift alerts are warnings)."""
    return [post for post in hook.posts if post["severity"] == "error"]


@pytest.mark.parametrize("fault", FAULT_POINTS)
def test_a_killed_run_is_finished_by_the_next_start(tmp_path, fault):
    (tmp_path / "state").mkdir()
    shutil.copy(PROJECT_ROOT / "state" / "dagster.yaml", tmp_path / "state" / "dagster.yaml")
    # The deployment fault point is reached only when a champion is replaced: the second version does that.
    months = 2 if fault.startswith("deployment") else 1
    if months == 2:
        assert run_main(tmp_path, 1).returncode == 0

    with webhook() as hook:
        killed = run_main(tmp_path, months, kill_at=fault, webhook_url=hook.url)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert_nothing_half_done(tmp_path)
        assert errors(hook) == [], "a killed process sends no failure alert"

        again = run_main(tmp_path, months, webhook_url=hook.url)
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
        failed = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        [killed_run] = [record.dagster_run for record in failed]
        # ... and alerted once, by the main job that marks it (the killed process ran no hook).
        [alert] = errors(hook)
        assert killed_run.run_id in alert["text"] and killed_run.tags[ALERT_TAG] == "posted by the main job"
        latest = instance.fetch_materializations(MODEL.key("deployed_model"), limit=1).records
        assert latest, "the rerun deployed a champion"
    running = client.search_runs(
        [client.get_experiment_by_name("mlops_assets").experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    assert not running, [run.info.run_name for run in running]
