"""The production profile end to end: a version of the test model's dataset lands, the daemon's sensor (its
`<dataset>_version_sensor`) picks it up, its steps run on the two Celery workers, the run is stored in PostgreSQL and
shown by the webserver, and the trained model is registered and promoted on the MLflow tracking server (PostgreSQL
backend, proxied artifacts). The stack: tests/production/conftest.py.
"""

import json
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import MODEL
from tests.production.conftest import FIRST_VERSION, stack_model
from tests.production.runs import step_key
from tests.production.services import postgres_admin_dsn

pytestmark = [pytest.mark.production, pytest.mark.slow]

KEY = FIRST_VERSION
REGISTERED_MODEL = MODEL.model_name


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
    up_at = float(stack["up_at"])
    print(
        f"\nprod-up in {stack['startup_seconds']} s; after it: run created by the sensor at "
        f"{record.create_timestamp.timestamp() - up_at:.1f} s, started {record.start_time - up_at:.1f} s, "
        f"ended {record.end_time - up_at:.1f} s ({run.status.value}, {record.end_time - record.start_time:.1f} s)"
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
    assets = ("raw_dataset", "candidate_model", "model_evaluation", "deployed_model")
    assert {step_key(name) for name in assets} <= steps  # <dataset>__raw_dataset, <model>__candidate_model, ...
    workers = {event.event_specific_data.metadata["Celery worker"].value for event in engine_events}
    queue = stack["MLOPS_CELERY_QUEUE"]
    assert {worker.split("@")[0] for worker in workers} == {f"{queue}-1", f"{queue}-2"}

    # The model is on the tracking server: registered, READY, champion, logged by this Dagster run.
    client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{stack['MLOPS_MLFLOW_PORT']}")
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    assert champion.status == "READY"
    logged_by = client.get_run(champion.run_id)
    assert logged_by.data.tags["dagster.run_id"] == run.run_id
    assert logged_by.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied by the server
    prod_home = Path(stack["MLOPS_PROD_HOME"])
    assert list((prod_home / "mlartifacts").rglob("MLmodel")), "the server stores artifacts in its destination"
    assert not list(prod_home.rglob("mlflow.db")) and not list(prod_home.rglob("mlruns")), "no embedded store"
    # Asset values between steps are in the stack's state folder (under their keys), written by the workers.
    assert (prod_home / "state" / "assets" / Path(*MODEL.raw_key.path) / KEY).is_file()
    assert (prod_home / "state" / "assets" / Path(*MODEL.key("candidate_model").path) / KEY).is_file()
    assert (stack_model(stack).predictions_dir / f"{KEY}.parquet").is_file()  # data/predictions/<model>/
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
