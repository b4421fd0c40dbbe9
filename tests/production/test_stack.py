"""The production profile, brought up by scripts/prod-up exactly as a user does, on the real services of this machine.

PostgreSQL-backed Dagster (code server, webserver, daemon), the MLflow tracking server on PostgreSQL with proxied
artifacts, and two Celery workers on RabbitMQ with Redis results. A demo version lands, the daemon's sensor picks it
up, its steps run on the Celery workers, and the trained model is registered and promoted on the tracking server.

Everything is this test's own: databases and roles with unique names (dropped afterwards), free ports on 127.0.0.1,
a Celery queue of its own (deleted afterwards), and every folder under `tmp_path`.
"""

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.config import PROJECT_ROOT
from mlops_assets.demo_data import SOURCE_CSV, land_version, monthly_snapshot
from tests.conftest import subprocess_env
from tests.production.services import backend_url, broker_url, postgres_admin_dsn, require_services

pytestmark = [pytest.mark.production, pytest.mark.slow]

KEY = "2011-01"
MODEL = "bike_rentals"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stack_env(root: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "MLOPS_PROD_HOME": str(root / "prod"),
        "MLOPS_DATA_DIR": str(root / "data"),
        "MLOPS_PG_ADMIN_URL": postgres_admin_dsn(),
        "DAGSTER_PG_DB": f"mlops_dagster_{suffix}",
        "DAGSTER_PG_USER": f"mlops_dagster_{suffix}",
        "MLFLOW_PG_DB": f"mlops_mlflow_{suffix}",
        "MLFLOW_PG_USER": f"mlops_mlflow_{suffix}",
        "MLOPS_MLFLOW_PORT": str(free_port()),
        "MLOPS_MLFLOW_WORKERS": "1",  # enough for one run; leaves the two cores to the steps
        "MLOPS_CODE_SERVER_PORT": str(free_port()),
        "MLOPS_WEBSERVER_PORT": str(free_port()),
        "MLOPS_CELERY_BROKER_URL": broker_url(),
        "MLOPS_CELERY_BACKEND_URL": backend_url(),
        "MLOPS_CELERY_QUEUE": f"mlops_test_{suffix}",
        "MLOPS_CELERY_WORKERS": "2",
    }


def drop_everything(env: dict[str, str]) -> None:
    """The databases, roles and queue of this stack, whatever state it was left in."""
    import psycopg2
    from kombu import Connection

    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cursor:
        for prefix in ("DAGSTER", "MLFLOW"):
            cursor.execute(f'DROP DATABASE IF EXISTS "{env[f"{prefix}_PG_DB"]}" WITH (FORCE)')
            cursor.execute(f'DROP ROLE IF EXISTS "{env[f"{prefix}_PG_USER"]}"')
    admin.close()
    with Connection(broker_url(), connect_timeout=5) as connection:
        connection.default_channel.queue_delete(env["MLOPS_CELERY_QUEUE"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_services()
    root = tmp_path_factory.mktemp("stack")
    env = stack_env(root)
    # Landed before the stack starts: the sensor's first tick finds it (its interval is 15 s).
    land_version(root / "data" / "versions", KEY, monthly_snapshot(pd.read_csv(SOURCE_CSV), KEY))
    started = time.monotonic()
    try:
        up = subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "prod-up")],
            env=subprocess_env(**env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert up.returncode == 0, f"prod-up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        env["startup_seconds"] = f"{time.monotonic() - started:.1f}"
        yield env
    finally:
        run_dir = Path(env["MLOPS_PROD_HOME"]) / "run"
        groups = [int(pid.read_text()) for pid in run_dir.glob("*.pid")] if run_dir.exists() else []
        down = subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "prod-down")],
            env=subprocess_env(**{k: v for k, v in env.items() if k.isupper()}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        drop_everything(env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert groups and not [group for group in groups if group_alive(group)], "prod-down left processes running"


@pytest.fixture
def instance(stack, monkeypatch):
    """The stack's Dagster instance (PostgreSQL), opened here as any process of the stack opens it."""
    secrets = Path(stack["MLOPS_PROD_HOME"]) / "secrets.env"
    for line in secrets.read_text().splitlines():
        key, value = line.split("=", 1)
        monkeypatch.setenv(key, value)
    for key in ("DAGSTER_PG_DB", "DAGSTER_PG_USER"):
        monkeypatch.setenv(key, stack[key])
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    with dg.DagsterInstance.from_config(str(Path(stack["MLOPS_PROD_HOME"]) / "dagster_home")) as opened:
        yield opened


def wait_for_run(instance: dg.DagsterInstance, key: str, timeout: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))
        if runs and runs[0].is_finished:
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no finished run for {key} after {timeout:.0f} s: {[(r.run_id, r.status) for r in runs]}")


def test_a_version_lands_and_runs_through_the_daemon_on_celery_workers_into_the_mlflow_server(stack, instance):
    import mlflow
    import psycopg2

    run = wait_for_run(instance, KEY, timeout=420)

    record = instance.get_run_record_by_id(run.run_id)
    print(
        f"\nstack up in {stack['startup_seconds']} s; run {run.run_id} {run.status.value} in "
        f"{record.end_time - record.start_time:.1f} s"
    )
    failures = [e.message for e in instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event.is_failure]
    assert run.status == dg.DagsterRunStatus.SUCCESS, failures
    assert run.tags["dagster/run_key"] == f"ingest:{KEY}"  # launched by the daemon's sensor
    # Stored in PostgreSQL: the run, as the database itself has it.
    with psycopg2.connect(postgres_admin_dsn(stack["DAGSTER_PG_DB"])) as db, db.cursor() as cursor:
        cursor.execute("SELECT status, partition FROM runs WHERE run_id = %s", (run.run_id,))
        assert cursor.fetchone() == ("SUCCESS", KEY)
    # Every step ran in a Celery worker, and both workers took steps.
    engine_events = [
        event.dagster_event
        for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if "in celery worker" in event.message
    ]
    steps = {event.step_key for event in engine_events}
    assert {"raw_dataset", "candidate_model", "model_evaluation", "deployed_model"} <= steps
    workers = {event.event_specific_data.metadata["Celery worker"].value for event in engine_events}
    queue = stack["MLOPS_CELERY_QUEUE"]
    assert {worker.split("@")[0] for worker in workers} == {f"{queue}-1", f"{queue}-2"}

    # The model is on the tracking server: registered, READY, champion, logged by this Dagster run.
    client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{stack['MLOPS_MLFLOW_PORT']}")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.status == "READY"
    logged_by = client.get_run(champion.run_id)
    assert logged_by.data.tags["dagster.run_id"] == run.run_id
    assert logged_by.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied by the server
    prod_home = Path(stack["MLOPS_PROD_HOME"])
    assert list((prod_home / "mlartifacts").rglob("MLmodel")), "the server stores artifacts in its destination"
    assert not list(prod_home.rglob("mlflow.db")) and not list(prod_home.rglob("mlruns")), "no embedded store"
    # Asset values between steps are in the stack's state folder, written by the workers.
    assert (prod_home / "state" / "assets" / "raw_dataset" / KEY).is_file()
    assert (Path(stack["MLOPS_DATA_DIR"]) / "predictions" / f"{KEY}.parquet").is_file()
    # The UI shows the run, from the same database, with the code location loaded from the code server.
    query = (
        f'{{ runOrError(runId: "{run.run_id}") {{ ... on Run {{ status }} }} '
        "workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack['MLOPS_WEBSERVER_PORT']}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.load(response)["data"]
    assert data["runOrError"] == {"status": "SUCCESS"}
    assert data["workspaceOrError"]["locationEntries"] == [{"name": "mlops_assets", "loadStatus": "LOADED"}]
