"""The command lines the README shows, run as a user runs them, against a fresh instance in a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version, source_versions
from mlops_assets.settings import PROJECT_ROOT, ProjectSettings
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

KEY, ROWS = source_versions(ProjectSettings())[0]  # the configured data set's first version
# Exactly as in the README (the test checks they are there), run with the README's DAGSTER_HOME set.
MATERIALIZE = (
    f"dagster asset materialize -m mlops_assets.definitions --select raw_dataset,feature_table --partition {KEY}"
)
LAUNCH = f"dg launch --assets raw_dataset,feature_table --partition {KEY}"
LIST = "dagster asset list -m mlops_assets.definitions"


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    state, data = tmp_path / "state", tmp_path / "data"
    state.mkdir()
    (state / "dagster.yaml").write_text((PROJECT_ROOT / "state" / "dagster.yaml").read_text())
    land_version(data / "versions", KEY, ROWS)
    with dg.DagsterInstance.from_config(str(state)) as instance:
        instance.add_dynamic_partitions("dataset_version", [KEY])  # what the dataset_version_sensor does
    return subprocess_env(DAGSTER_HOME=str(state), MLOPS_STATE_DIR=str(state), MLOPS_DATA_DIR=str(data))


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    program, *args = command.split()
    return subprocess.run(
        [str(Path(sys.executable).with_name(program)), *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_readme_shows_the_commands_tested_here():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for command in (MATERIALIZE, LAUNCH, LIST):
        assert command in readme, command


@pytest.mark.parametrize("command", [MATERIALIZE, LAUNCH])
def test_a_partition_is_materialized_from_the_command_line(home, command):
    done = run(command, home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.tags["dagster/partition"] == KEY
        for asset in ("raw_dataset", "feature_table"):
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[KEY]), limit=1
            ).records
            assert found, asset


def test_the_assets_are_listed(home):
    done = run(LIST, home)
    assert done.returncode == 0, done.stderr[-2000:]
    # retraining_decision is recorded by the sensor, not materialized by a run: the CLI lists the other eight.
    assert set(done.stdout.split()) >= {
        "raw_dataset",
        "feature_table",
        "dataset_split",
        "candidate_model",
        "model_evaluation",
        "deployed_model",
        "batch_predictions",
        "model_monitoring",
    }
