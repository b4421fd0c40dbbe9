"""Alerts: every failed run reaches the webhook exactly once, whichever path ran it (real HTTP on loopback).

The paths: the failed step's hook inside the run (any run), the main job (the in-process sensor driver), the command
line (`dagster asset materialize`), and a real `dagster dev` (webserver and daemon): a run launched through GraphQL
as the UI does, and in-process runs that the daemon's run_failure_alert_sensor sees after the main job. A run that
stopped only at a gate sends the "gates failed" alert and nothing more.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.settings import PROJECT_ROOT, GateSettings
from mlops_assets.wiring.jobs import ingestion_selection
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensor_driver import SensorDriver, run_until_quiet
from mlops_assets.wiring.sensors.alerts import ALERT_TAG, failed_only_on_gates, run_failure_alert_sensor
from tests.conftest import (
    DATASET,
    MODEL,
    free_port,
    land,
    make_project,
    model_settings,
    pipeline_job,
    settle,
    subprocess_env,
    webhook,
    write_version,
)

BROKEN = "broken"
RAW_STEP = f"{DATASET.name}__raw_dataset"  # the step key of the dataset's raw_dataset
VERSION_SENSOR = f"{DATASET.name}_version_sensor"


def write_broken_version(versions_dir: Path, source, key: str = BROKEN) -> Path:
    """A settled version without the contract's last column: raw_dataset fails on it."""
    return settle(write_version(versions_dir, key, {"rows.csv": source.head(50).drop(columns=[source.columns[-1]])}))


def posts_for(hook, run_id: str) -> list[dict]:
    return [post for post in hook.posts if run_id in post["text"]]


def ingest_in_process(settings, notifier: Notifier, instance: dg.DagsterInstance, key: str):
    """The dataset's ingestion for `key`, run in this process (its pipeline job, the ingestion selection)."""
    tracking = MLflowTracking(state_dir=settings.state_dir)
    defs = build_definitions(models=[settings], mlflow_tracking=tracking, notifier=notifier)
    return defs.resolve_job_def(pipeline_job(settings)).execute_in_process(
        instance=instance, partition_key=key, asset_selection=ingestion_selection(settings), raise_on_error=False
    )


def test_a_failed_step_posts_its_run_once_and_the_failure_sensor_adds_nothing(settings, instance, source):
    with webhook() as hook:
        notifier = Notifier(webhook_url=hook.url)
        write_broken_version(settings.versions_dir, source)
        instance.add_dynamic_partitions(settings.dataset.partitions_name, [BROKEN])
        job = pipeline_job(settings)
        assert job == f"{settings.dataset.name}_pipeline"
        result = ingest_in_process(settings, notifier, instance, BROKEN)
        assert not result.success
        assert not failed_only_on_gates(instance, result.run_id)  # a contract failure is not a gate failure
        [alert] = hook.posts
        assert alert["severity"] == "error"
        assert alert["title"] == f"Run failed: {job}[{BROKEN}]"
        assert alert["text"].endswith(f"\nrun {result.run_id}: failed step: {RAW_STEP}")
        assert instance.get_run_by_id(result.run_id).tags[ALERT_TAG] == f"posted by step {RAW_STEP}"

        # The daemon's sensor sees the same failed run: it checks the tag and sends nothing.
        failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name,
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"notifier": notifier},
        ).for_run_failure()
        run_failure_alert_sensor(context)
        assert len(hook.posts) == 1


def test_the_main_job_alerts_each_failed_run_once_and_a_failed_gate_only_as_gates_failed(
    tmp_path, instance, versions, keys, source
):
    # Gates no candidate can pass (an R² or ROC AUC above 1): the first version's run stops at its gates.
    project = make_project(tmp_path, gates=GateSettings(min_r2=1.01, min_roc_auc=1.01))
    model = project.settings
    with webhook() as hook:
        defs = build_definitions(
            models=[model], mlflow_tracking=project.tracking, notifier=Notifier(webhook_url=hook.url)
        )
        driver = SensorDriver(defs, instance, tmp_path / "cursors.json")
        land(model, versions, keys[0])
        [gated] = run_until_quiet(driver, [VERSION_SENSOR])
        assert gated["status"] == "failure" and failed_only_on_gates(instance, gated["run_id"])
        assert [post["title"] for post in hook.posts] == [f"Gates failed for {model.name}[{keys[0]}]"]
        assert ALERT_TAG not in instance.get_run_by_id(gated["run_id"]).tags

        write_broken_version(model.versions_dir, source)
        [failed] = run_until_quiet(driver, [VERSION_SENSOR])
        assert failed["status"] == "failure"
        [alert] = posts_for(hook, failed["run_id"])
        assert alert["title"] == f"Run failed: {pipeline_job(model)}[{BROKEN}]"
        assert len(hook.posts) == 2


@pytest.mark.slow
def test_a_failed_dagster_asset_materialize_posts_once(tmp_path, source):
    home, data = tmp_path / "state", tmp_path / "data"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "state" / "dagster.yaml", home / "dagster.yaml")
    write_broken_version(model_settings(tmp_path).versions_dir, source)  # data/<dataset>/versions/broken
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(DATASET.partitions_name, [BROKEN])
    with webhook() as hook:
        env = subprocess_env(
            DAGSTER_HOME=str(home),
            MLOPS_DATA_DIR=str(data),
            MLOPS_STATE_DIR=str(home),
            MLOPS_ALERT_WEBHOOK_URL=hook.url,
        )
        raw = MODEL.raw_key.to_user_string()  # <dataset>/raw_dataset
        done = subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "mlops_assets.definitions",
             "--select", raw, "--partition", BROKEN],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode != 0, done.stdout[-2000:]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            [record] = instance.get_run_records()
            run = record.dagster_run
        assert run.status == dg.DagsterRunStatus.FAILURE
        [alert] = hook.posts
        assert alert["text"].endswith(f"\nrun {run.run_id}: failed step: {RAW_STEP}")
        assert run.tags[ALERT_TAG] == f"posted by step {RAW_STEP}"


# --- a real `dagster dev`: the UI's launch, and the daemon's sensor after the main job ------------------------------

SENSOR_SELECTOR = {
    "repositoryLocationName": "mlops_assets",
    "repositoryName": "__repository__",
    "sensorName": "run_failure_alert_sensor",
}


class DagsterDev:
    """`dagster dev` (webserver and daemon) on the project's workspace.yaml, with its own instance and folders."""

    def __init__(self, root: Path, webhook_url: str):
        self.home, self.data = root / "dagster_home", root / "data"
        self.home.mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "state" / "dagster.yaml", self.home / "dagster.yaml")
        self.port = free_port()
        env = subprocess_env(
            DAGSTER_HOME=str(self.home),
            MLOPS_DATA_DIR=str(self.data),
            MLOPS_STATE_DIR=str(root / "state"),
            MLOPS_ALERT_WEBHOOK_URL=webhook_url,
        )
        with self.instance() as instance:  # the SQLite databases exist before the daemon opens them
            instance.get_dynamic_partitions(DATASET.partitions_name)
        self.log = root / "dagster_dev.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
                 "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def launch(self, partition: str, asset: dg.AssetKey) -> str:
        """Launch a run of `asset` for `partition` through the webserver's GraphQL API, as the UI does."""
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)
        return client.submit_job_execution(
            f"{DATASET.name}_pipeline", asset_selection=[asset], tags={"dagster/partition": partition}
        )

    def sensor_ticks(self) -> list[dict]:
        """The run-failure sensor's latest ticks, newest first (the daemon's evaluations)."""
        query = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
                     ... on Sensor { sensorState { ticks(limit: 5) { timestamp status error { message } } } } } }"""
        body = json.dumps({"query": query, "variables": {"selector": SENSOR_SELECTOR}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["data"]["sensorOrError"]["sensorState"]["ticks"]

    def wait_for_a_tick_after(self, moment: float, timeout: float = 300.0) -> None:
        """Until the daemon finished evaluating the sensor after `moment` (it then saw every run failed before)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-5000:]
            try:
                ticks = self.sensor_ticks()
            except (OSError, KeyError, TypeError, ValueError):  # the webserver or its code location is starting
                ticks = []
            for tick in ticks:
                assert tick["status"] != "FAILURE", tick["error"]
                if tick["status"] in ("SUCCESS", "SKIPPED") and tick["timestamp"] > moment:
                    return
            time.sleep(2)
        pytest.fail(f"no tick of run_failure_alert_sensor after {moment} within {timeout:.0f} s")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def wait_until_finished(instance: dg.DagsterInstance, run_id: str, timeout: float = 300.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(1)
    return run


@pytest.mark.slow
def test_with_dagster_dev_every_failed_run_posts_exactly_once_whichever_path_ran_it(tmp_path, source):
    with webhook() as hook:
        dev = DagsterDev(tmp_path, hook.url)
        try:
            dev.wait_for_a_tick_after(0)  # the sensor's first tick starts its cursor: later failures are seen
            with dev.instance() as instance:
                # The UI: a run launched through GraphQL, as the Materialize button does, for a version whose folder
                # is missing. The daemon launches it; its failed step posts the alert inside the run worker.
                instance.add_dynamic_partitions(DATASET.partitions_name, ["missing"])
                ui_run = dev.launch("missing", MODEL.raw_key)

                # The main job, in this process, over the same instance (its own versions folder, which the daemon's
                # sensors do not read): a broken version fails in-process and its step posts the alert.
                settings = model_settings(data_dir=str(tmp_path / "main_job"), state_dir=str(tmp_path / "state"))
                tracking = MLflowTracking(state_dir=settings.state_dir)
                defs = build_definitions(
                    models=[settings], mlflow_tracking=tracking, notifier=Notifier(webhook_url=hook.url)
                )
                write_broken_version(settings.versions_dir, source)
                driver = SensorDriver(defs, instance, tmp_path / "cursors.json")
                [main_job] = run_until_quiet(driver, [VERSION_SENSOR])
                main_job_run = main_job["run_id"]

                # An in-process run whose own alert could not be delivered (its webhook was down): no tag, so the
                # daemon's sensor sends it, though the run has no code location for Dagster's default matching.
                unreachable = Notifier(webhook_url=f"http://127.0.0.1:{free_port()}/", timeout_seconds=1)
                undelivered_run = ingest_in_process(settings, unreachable, instance, BROKEN).run_id
                runs = [wait_until_finished(instance, run) for run in (ui_run, main_job_run, undelivered_run)]
                assert [run.status for run in runs] == [dg.DagsterRunStatus.FAILURE] * 3
                ended = max(instance.get_run_stats(run.run_id).end_time for run in runs)
                dev.wait_for_a_tick_after(ended)

                for run_id in (ui_run, main_job_run, undelivered_run):
                    assert len(posts_for(hook, run_id)) == 1, (run_id, hook.posts)
                assert len(hook.posts) == 3
                tags = [instance.get_run_by_id(run_id).tags[ALERT_TAG] for run_id in (ui_run, main_job_run)]
                assert tags == [f"posted by step {RAW_STEP}"] * 2
                assert instance.get_run_by_id(undelivered_run).tags[ALERT_TAG] == "posted by run_failure_alert_sensor"
        finally:
            dev.stop()
