"""Steps that talk to MLflow are retried when the tracking server is briefly unreachable (pipeline_asset.py).

A real `mlflow server` on a loopback port: it serves the first steps, is stopped (the port is closed), the training
step fails to reach it and is put up for retry by its RetryPolicy, the server starts again on the same port, and the
retried step succeeds, with one MLflow run and no trace of the failed attempt. Errors that are not transient are not
retried (a retried bug would only fail again, later).
"""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.infra.transient import is_transient
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import free_port, land, make_project, run_assets, subprocess_env

pytestmark = [pytest.mark.production, pytest.mark.slow]


def start_server(root: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
            *("--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", "1"),
        ],
        cwd=root,
        env=subprocess_env(MLFLOW_DISABLE_TELEMETRY="true"),
        stdout=(root / "server.log").open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers stop with it
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)


def events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType, step: str) -> list:
    return [e for e in instance.all_logs(run_id, of_type=kind) if e.step_key == step]


def test_a_step_whose_tracking_server_is_briefly_down_is_retried_and_succeeds(tmp_path, versions, monkeypatch):
    # An instance of its own (SQLite): this folder's `instance` fixture is the production stack's. No compute logs:
    # capturing a step run in a thread starts `tail -F` processes that outlived the test when the step was retried.
    (tmp_path / "dagster_home").mkdir()
    no_compute_logs = {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}
    with dg.instance_for_test(
        temp_dir=str(tmp_path / "dagster_home"), overrides={"compute_logs": no_compute_logs}
    ) as instance:
        run_while_the_server_restarts(tmp_path, instance, versions, monkeypatch)


def run_while_the_server_restarts(tmp_path, instance, versions, monkeypatch) -> None:
    server_root = tmp_path / "server"
    server_root.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    project = make_project(tmp_path / "project")
    project.tracking = MLflowTracking(tracking_uri=url, state_dir=project.settings.state_dir)
    key = next(iter(versions))
    land(project.settings, versions, key)
    instance.add_dynamic_partitions(project.settings.dataset.partitions_name, [key])
    training_asset = project.settings.key("candidate_model")  # <model>/candidate_model
    step = "__".join(training_asset.path)  # its step key: <model>__candidate_model

    server = start_server(server_root, port)
    try:
        upstream = run_assets(project, instance, key, ["raw_dataset", "feature_table", "dataset_split"])
        assert upstream.success
    finally:
        stop_server(server)
    # MLflow's HTTP client would otherwise retry each request for minutes inside the step: fail it at once instead.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    results = []
    training = threading.Thread(target=lambda: results.append(run_assets(project, instance, key, ["candidate_model"])))
    training.start()
    deadline = time.monotonic() + 120
    while (
        not (runs := instance.get_runs(limit=1))
        or runs[0].run_id == upstream.run_id
        or not events(instance, runs[0].run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY, step)
    ):
        assert time.monotonic() < deadline and training.is_alive(), "the step was not put up for retry"
        time.sleep(0.5)
    down_for = time.monotonic()
    server = start_server(server_root, port)  # the same port: the retry reaches it
    try:
        print(f"\nthe tracking server was down {time.monotonic() - down_for:.1f} s after the first retry was asked")
        training.join(timeout=300)
        assert not training.is_alive()
        [result] = results
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
        retries = events(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY, step)
        assert retries and all(is_transient_message(e.dagster_event.event_specific_data.error) for e in retries), (
            "retried for a connection error"
        )
        assert events(instance, result.run_id, dg.DagsterEventType.STEP_SUCCESS, step)
        client = project.tracking.client()
        runs = client.search_runs(
            [client.get_experiment_by_name(project.tracking.experiment_name).experiment_id],
            filter_string=f"tags.`dagster.run_id` = '{result.run_id}'",
        )
        name = f"{training_asset.to_user_string()}[{key}]"
        assert [(r.info.run_name, r.info.status) for r in runs] == [(name, "FINISHED")]
    finally:
        stop_server(server)


def is_transient_message(error) -> bool:
    """A serialized error (Dagster's SerializableErrorInfo) that says the server could not be reached."""
    texts = []
    while error is not None:
        texts.append(error.message)
        error = error.cause
    return any(is_transient(Exception(text)) for text in texts)


def test_only_connection_failures_are_transient():
    from mlflow.exceptions import MlflowException

    assert is_transient(ConnectionRefusedError(111, "Connection refused"))
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as reset:
            raise MlflowException("API request to /api/2.0/mlflow/runs/create failed") from reset
    except MlflowException as wrapped:
        assert is_transient(wrapped)
    assert not is_transient(ValueError("a column is missing"))
    assert not is_transient(MlflowException("RESOURCE_DOES_NOT_EXIST: registered model not found"))
    assert not is_transient(dg.Failure("the candidate failed the gate(s) beats_baseline"))
