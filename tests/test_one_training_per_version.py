"""One training per version, whatever path started it: a whole-graph run (what "Materialize all" in the UI launches)
with the daemon's sensors on, against the sensors alone. Both must leave the same registry.

Before the fix, the whole-graph run materialized model_monitoring first, the retraining sensor read it mid-run and
launched `retrain:<model>:<key>` while the first run was still training: two identical models were registered and
promoted, and `previous_champion` pointed at a copy. Here a real `dagster-daemon` runs the sensors against a real
instance, on the test model's first two dataset versions, with a code location (tests/always_retrain.py) whose
retraining policy retrains on every monitoring result, so that the case arises whatever the data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version, source_versions
from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.wiring.records import latest_metadata
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensors.retraining import training_covered
from tests.conftest import MODEL, model_settings, pipeline_job, subprocess_env

(FIRST, FIRST_ROWS), (SECOND, SECOND_ROWS) = source_versions(MODEL.dataset)[:2]
REGISTERED = MODEL.model_name
BIN = Path(sys.executable).parent
WORKSPACE = """load_from:
  - python_module:
      module_name: tests.always_retrain
      location_name: mlops_assets
      working_directory: {root}
"""


class Project:
    """A temporary project home: instance, data and MLflow store, with the daemon started on demand."""

    def __init__(self, root: Path):
        self.state, self.data = root / "state", root / "data"
        self.settings = model_settings(root)  # the test model with its folders under `root`
        self.state.mkdir(parents=True)
        (self.state / "dagster.yaml").write_text((PROJECT_ROOT / "state" / "dagster.yaml").read_text())
        self.workspace = root / "workspace.yaml"
        self.workspace.write_text(WORKSPACE.format(root=PROJECT_ROOT))
        self.env = subprocess_env(
            DAGSTER_HOME=str(self.state), MLOPS_STATE_DIR=str(self.state), MLOPS_DATA_DIR=str(self.data)
        )
        self.tracking = MLflowTracking(state_dir=str(self.state))
        self.tracking.ensure_experiment()  # created once before parallel work, as the project does
        with self.instance() as instance:  # the instance's SQLite databases too, before the daemon opens them
            instance.get_dynamic_partitions(self.settings.dataset.partitions_name)
        self.daemon: subprocess.Popen | None = None

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.state))

    def start_daemon(self) -> None:
        with open(self.state / "daemon.log", "a") as log:  # the child keeps its own copy of the descriptor
            self.daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)],
                cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait(timeout=30)
            self.daemon = None

    def wait_until(self, done, what: str, timeout: float = 600.0) -> None:
        """Poll `done(instance)` until true; fail saying `what` (and how every run ended) otherwise."""
        deadline = time.monotonic() + timeout
        with self.instance() as instance:
            while time.monotonic() < deadline:
                assert self.daemon is None or self.daemon.poll() is None, "the daemon exited"
                if done(instance):
                    return
                time.sleep(2)
            runs = [
                (r.dagster_run.tags.get("dagster/run_key"), r.dagster_run.status) for r in instance.get_run_records()
            ]
        pytest.fail(f"timed out waiting for {what}; runs: {runs}")

    def quiet(self, instance: dg.DagsterInstance, decided: str) -> bool:
        """Every run finished, and the retraining sensor recorded its decision about version `decided`."""
        runs = instance.get_run_records()
        return all(r.dagster_run.is_finished for r in runs) and bool(
            latest_metadata(instance, self.settings.key("retraining_decision"), decided)
        )

    def registry(self) -> dict:
        client = self.tracking.client()
        versions = client.search_model_versions(f"name = '{REGISTERED}'")
        aliases = {
            alias: str(client.get_model_version_by_alias(REGISTERED, alias).version)
            for alias in ("champion", "previous_champion")
        }
        return {
            "versions": sorted((int(v.version), v.tags["dataset_version"]) for v in versions),
            "champion": aliases["champion"],
            "previous_champion": aliases["previous_champion"],
        }


def champion_exists(project: Project):
    from mlops_assets.stages.registry import current_champion

    return lambda instance: (
        all(r.dagster_run.is_finished for r in instance.get_run_records())
        and (current_champion(project.tracking, REGISTERED) is not None)
    )


def first_version_trained(project: Project) -> None:
    land_version(project.settings.versions_dir, FIRST, FIRST_ROWS)
    project.start_daemon()
    project.wait_until(champion_exists(project), f"{FIRST} to be trained and promoted by the sensors")


@pytest.mark.slow
def test_materialize_all_and_the_sensors_train_a_version_once_and_leave_the_same_registry(tmp_path):
    ui, sensors = Project(tmp_path / "ui"), Project(tmp_path / "sensors")
    try:
        # The UI path: the second version's partition exists and a whole-graph run is launched for it, while the
        # daemon's sensors are on (the dataset sensor sees an existing partition and requests nothing).
        first_version_trained(ui)
        with ui.instance() as instance:
            instance.add_dynamic_partitions(ui.settings.dataset.partitions_name, [SECOND])
        land_version(ui.settings.versions_dir, SECOND, SECOND_ROWS)
        subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", str(ui.workspace), "-j", pipeline_job(ui.settings),
             "--tags", json.dumps({"dagster/partition": SECOND})],
            cwd=PROJECT_ROOT, env=ui.env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        ui.wait_until(lambda instance: ui.quiet(instance, SECOND), "the whole-graph run and the retraining decision")
        ui.stop_daemon()

        # The sensor path: the second version is landed and the sensors do everything.
        first_version_trained(sensors)
        land_version(sensors.settings.versions_dir, SECOND, SECOND_ROWS)
        sensors.wait_until(lambda instance: sensors.quiet(instance, SECOND), "the sensors' runs for the new version")
        sensors.wait_until(champion_exists(sensors), "the retraining run to finish")
    finally:
        ui.stop_daemon()
        sensors.stop_daemon()

    with ui.instance() as instance:
        decision = latest_metadata(instance, ui.settings.key("retraining_decision"), SECOND)
        runs = [r.dagster_run for r in instance.get_run_records()]
        assert decision["retrain"] is True and decision["requested"] is False, decision
        assert f"not requested again: {SECOND} " in decision["reasons"]
        assert not [run for run in runs if run.tags.get("dagster/run_key", "").startswith("retrain:")]
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    with sensors.instance() as instance:
        assert latest_metadata(instance, sensors.settings.key("retraining_decision"), SECOND)["requested"] is True

    expected = {"versions": [(1, FIRST), (2, SECOND)], "champion": "2", "previous_champion": "1"}
    assert ui.registry() == expected  # no duplicate; previous_champion is the real predecessor
    assert sensors.registry() == expected


@dg.asset(
    key=MODEL.key("candidate_model"), partitions_def=dg.DynamicPartitionsDefinition(name=MODEL.dataset.partitions_name)
)
def a_training_step() -> None: ...


def test_training_is_covered_while_a_run_trains_the_version_and_after_it_trained_on_the_same_data(instance):
    from mlops_assets.wiring.assets.training import TRAINING_CODE_VERSION

    assert training_covered(instance, MODEL, SECOND) is None
    job = dg.Definitions(assets=[a_training_step]).resolve_implicit_global_asset_job_def()
    run = instance.create_run_for_job(
        job, tags={"dagster/partition": SECOND}, status=dg.DagsterRunStatus.STARTED,
        asset_selection=frozenset({MODEL.key("candidate_model")}),
    )  # fmt: skip
    assert training_covered(instance, MODEL, SECOND) == f"{SECOND} is already being trained by run {run.run_id[:8]}"
    instance.report_run_failed(run)
    assert training_covered(instance, MODEL, SECOND) is None

    def record(asset: dg.AssetKey, tags: dict, metadata: dict | None = None) -> None:
        event = dg.AssetMaterialization(asset, partition=SECOND, tags=tags, metadata=metadata or {})
        instance.report_runless_asset_event(event)

    record(MODEL.raw_key, {"dagster/data_version": "hash-1"})
    trained = {"manifest": dg.MetadataValue.json({"data_hash": "hash-1"})}
    record(MODEL.key("candidate_model"), {"dagster/code_version": TRAINING_CODE_VERSION}, trained)
    covered = training_covered(instance, MODEL, SECOND)
    assert covered.startswith(f"{SECOND} was already trained on this data with this code")
    record(MODEL.raw_key, {"dagster/data_version": "hash-2"})  # the version's data is not what it trained on
    assert training_covered(instance, MODEL, SECOND) is None
