"""A Celery worker killed with SIGKILL in the middle of a step, on the production stack (tests/production/conftest.py).

The workers acknowledge a step when it ends (deploy/celery.yaml: task_acks_late, task_reject_on_worker_lost), so the
broker gives the killed worker's step to the other worker, which runs it again: the run succeeds, the asset value is
the complete one of the second attempt (values are written to a temporary file and renamed), and the first attempt's
MLflow run is closed as KILLED. Then prod-up, run again, starts the killed worker and only it.
"""

import os
import pickle
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import MODEL
from tests.production.conftest import FIRST_VERSION, land_in_stack, stack_script
from tests.production.runs import VERSIONS, failures, materialized, retrain_key, runs_of, step_key, wait_for_runs

pytestmark = [pytest.mark.production, pytest.mark.slow]

KEY, ROWS = VERSIONS[5]
ASSET = "candidate_model"  # the longest step: training, then logging the model to the tracking server
STEP = step_key(ASSET)  # <model>__candidate_model


def step_workers(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    """The Celery workers that started `step` in this run, in order."""
    return [
        event.dagster_event.event_specific_data.metadata["Celery worker"].value
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if event.step_key == step and "in celery worker" in event.message
    ]


def test_a_worker_killed_mid_step_gives_the_step_to_the_other_worker_and_leaves_no_half_written_value(stack, instance):
    wait_for_runs(instance, FIRST_VERSION, [f"ingest:{FIRST_VERSION}"], timeout=420)  # a champion: retrain runs
    land_in_stack(stack, KEY, ROWS)

    deadline = time.monotonic() + 420
    while True:  # the retraining run's training step has started in a worker
        training = [run for run in runs_of(instance, KEY) if run.tags.get("dagster/run_key") == retrain_key(KEY)]
        if training and (workers := step_workers(instance, training[0].run_id, STEP)):
            break
        assert time.monotonic() < deadline, "the retraining run's training step did not start"
        time.sleep(0.2)
    run_id = training[0].run_id
    queue = stack["MLOPS_CELERY_QUEUE"]
    index = workers[0].split("@")[0].removeprefix(f"{queue}-")
    pid_file = Path(stack["MLOPS_PROD_HOME"]) / "run" / f"worker-{index}.pid"
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)  # the worker and its pool process, mid-step
    killed_at = time.time()
    done = [e for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS) if e.step_key == STEP]
    assert not done, "the step ended before the worker was killed: nothing was tested"

    [run] = wait_for_runs(instance, KEY, [retrain_key(KEY)], timeout=420)
    assert run.status == dg.DagsterRunStatus.SUCCESS, failures(instance, run)
    workers = step_workers(instance, run_id, STEP)
    assert len(workers) == 2 and workers[0] != workers[1], workers  # ran again, on the other worker
    # The stored value is the complete one of the second attempt, the one its materialization names.
    [record] = materialized(instance, ASSET, KEY)
    assert record.timestamp > killed_at
    stored = Path(stack["MLOPS_PROD_HOME"]) / "state" / "assets" / Path(*MODEL.key(ASSET).path) / KEY
    value = pickle.loads(stored.read_bytes())
    assert value.run_id == record.asset_materialization.metadata["mlflow_run_id"].value

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{stack['MLOPS_MLFLOW_PORT']}")
    experiment = client.get_experiment_by_name("mlops_assets").experiment_id
    asset = MODEL.key(ASSET).to_user_string()  # the MLflow runs' tag: <model>/candidate_model
    attempts = client.search_runs(
        [experiment], filter_string=f"tags.`dagster.run_id` = '{run_id}' and tags.`dagster.asset` = '{asset}'"
    )
    statuses = {attempt.info.run_id: attempt.info.status for attempt in attempts}
    assert statuses[value.run_id] == "FINISHED"
    assert set(statuses.values()) <= {"FINISHED", "KILLED"} and len(statuses) <= 2, statuses

    # prod-up again: the killed worker is started, the running services are left alone.
    up = stack_script("prod-up", stack, timeout=600)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert f"started worker-{index}" in up.stdout and "mlflow is already running" in up.stdout, up.stdout
