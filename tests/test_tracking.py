"""The MLflow tracking resource (resources.MLflowTracking): where the store lives, and one MLflow run per asset
step, also under Dagster's multiprocess executor, closed FAILED when the step fails.

Every store is a real SQLite database under `tmp_path`. The multiprocess run (the dataset's own
`<dataset>_multiprocess` job) re-imports this module in each step process (dg.reconstructable needs a module-level
target), so its settings and resources are built from MLOPS_DATA_DIR and MLOPS_STATE_DIR, which the test points
into `tmp_path` before the step processes start.
"""

import os
import sqlite3
import subprocess
import sys
from collections import Counter

import dagster as dg
import mlflow
import pytest
from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY

from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.wiring.jobs import multiprocess_job_name
from mlops_assets.wiring.partitions import version_partitions
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import (
    DATASET,
    FAST_SEARCH,
    MODEL,
    fast_estimator,
    land,
    make_project,
    model_settings,
    run_assets,
    step_error,
    subprocess_env,
)

EXPERIMENT = "mlops_assets"


# ----------------------------------------------------------------------------------------------------------
# Test-only assets and the multiprocess job (module level: step processes import them from here)
# ----------------------------------------------------------------------------------------------------------


KEY = "v01"  # a partition of the probe assets below
# The probes are partitioned by the dataset's versions and tagged with it: its own multiprocess job includes them.
PROBE = {
    "partitions_def": version_partitions(DATASET),
    "group_name": "tracking_test",
    "tags": {"dataset": DATASET.name},
}


@dg.asset(**PROBE, code_version="probe-1")
def tracked_probe(context: dg.AssetExecutionContext, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """Logs one metric inside its step's MLflow run, tagged with the process it ran in."""
    with mlflow_tracking.asset_run(context, tags={"pid": str(os.getpid())}) as run:
        mlflow.log_metric("probe", 1.0)
    return dg.MaterializeResult(metadata={"mlflow_run_id": run.info.run_id})


@dg.asset(**PROBE, code_version="fails-1")
def always_fails(context: dg.AssetExecutionContext, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """Raises inside its MLflow run, after logging a metric."""
    with mlflow_tracking.asset_run(context, tags={"pid": str(os.getpid())}):
        mlflow.log_metric("before_failure", 1.0)
        raise RuntimeError("this step fails inside its MLflow run")


MULTIPROCESS_JOB = multiprocess_job_name(DATASET)


def multiprocess_job() -> dg.JobDefinition:
    """The test model's definitions and the two test assets: the dataset's job on the multiprocess executor.

    The settings and resources are built here, in each process that loads the job, from MLOPS_DATA_DIR and
    MLOPS_STATE_DIR.
    """
    settings = model_settings(search=FAST_SEARCH, estimator=fast_estimator())
    defs = dg.Definitions.merge(
        build_definitions(models=[settings], mlflow_tracking=MLflowTracking(), notifier=Notifier()),
        dg.Definitions(assets=[tracked_probe, always_fails]),
    )
    return defs.resolve_job_def(MULTIPROCESS_JOB)


# One racer: prints its pid and the experiment id it got.
RACER = (
    "import os, sys; from mlops_assets.wiring.resources import MLflowTracking; "
    "print(os.getpid(), MLflowTracking(state_dir=sys.argv[1]).ensure_experiment())"
)


def runs_of_dagster_run(client, dagster_run_id: str) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`dagster.run_id` = '{dagster_run_id}'")


@pytest.fixture
def no_tracking_uri_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


# ----------------------------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------------------------


def test_the_store_is_an_absolute_sqlite_database_with_artifacts_under_the_state_folder(
    tmp_path, monkeypatch, no_tracking_uri_env
):
    monkeypatch.chdir(tmp_path)
    tracking = MLflowTracking(state_dir="state")  # relative: resolved against the working directory
    state = (tmp_path / "state").resolve()

    assert tracking.uri == f"sqlite:///{state / 'mlflow.db'}"
    assert tracking.uri.startswith("sqlite:////")  # absolute: the same database from any working directory
    assert tracking.artifact_root == (state / "mlartifacts").as_uri()
    assert not (state / "mlflow.db").exists()  # nothing is created before it is needed

    experiment_id = tracking.ensure_experiment()

    assert (state / "mlflow.db").is_file()
    client = mlflow.MlflowClient(tracking_uri=tracking.uri)
    (experiment,) = client.search_experiments(filter_string=f"name = '{EXPERIMENT}'")
    assert experiment.experiment_id == experiment_id
    assert experiment.artifact_location == (state / "mlartifacts").as_uri()
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri.startswith((state / "mlartifacts").as_uri() + "/")
    client.set_terminated(run.info.run_id)


def test_the_store_and_experiment_are_created_once_when_processes_race(tmp_path, no_tracking_uri_env):
    state = tmp_path / "state"
    # Four interpreters of their own, started together. Not a multiprocessing pool: a child forked from pytest's
    # threaded process waited forever on an inherited lock, and a pool whose worker dies waits forever for its task.
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(state)],
            cwd=PROJECT_ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [racer.communicate(timeout=600) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 4, [err[-2000:] for _, err in outputs]
    results = [out.strip().splitlines()[-1].split() for out, _ in outputs]  # the last line: pid, experiment id

    assert len({pid for pid, _ in results}) == 4  # really several processes
    assert len({experiment_id for _, experiment_id in results}) == 1
    assert MLflowTracking(state_dir=str(state)).ensure_experiment() == results[0][1]
    client = mlflow.MlflowClient(tracking_uri=MLflowTracking(state_dir=str(state)).uri)
    assert [e.name for e in client.search_experiments(filter_string=f"name = '{EXPERIMENT}'")] == [EXPERIMENT]
    with sqlite3.connect(state / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_mlflow_tracking_uri_overrides_the_embedded_store(tmp_path, monkeypatch):
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    tracking = MLflowTracking(state_dir=str(tmp_path / "state"))

    assert tracking.uri == elsewhere
    experiment_id = tracking.ensure_experiment()

    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "state" / "mlflow.db").exists()
    assert mlflow.MlflowClient(tracking_uri=elsewhere).get_experiment_by_name(EXPERIMENT).experiment_id == experiment_id
    # an explicit tracking_uri beats the environment; a tracking server decides where artifacts go
    server = MLflowTracking(tracking_uri="http://mlflow.internal:5000", state_dir=str(tmp_path / "state"))
    assert server.uri == "http://mlflow.internal:5000"
    assert server.artifact_root is None


def test_telemetry_is_off_after_ensure_experiment(tmp_path, monkeypatch, no_tracking_uri_env):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "placeholder")
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY")  # unset now, and unset again after the test

    MLflowTracking(state_dir=str(tmp_path / "state")).ensure_experiment()

    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert MLFLOW_DISABLE_TELEMETRY.get() is True


# ----------------------------------------------------------------------------------------------------------
# One MLflow run per asset step
# ----------------------------------------------------------------------------------------------------------


def test_multiprocess_steps_each_log_to_exactly_one_mlflow_run_and_a_failed_step_is_failed(
    tmp_path, monkeypatch, no_tracking_uri_env, instance, versions, keys
):
    project = make_project(tmp_path)  # the same folders and store as the step processes' settings below
    data, state = tmp_path / "data", tmp_path / "state"
    monkeypatch.setenv("MLOPS_DATA_DIR", str(data))
    monkeypatch.setenv("MLOPS_STATE_DIR", str(state))
    assert model_settings(search=FAST_SEARCH, estimator=fast_estimator()) == project.settings
    assert MLflowTracking().uri == project.tracking.uri
    key = keys[0]  # the first version of the test model's dataset
    land(project.settings, versions, key)
    instance.add_dynamic_partitions(DATASET.partitions_name, [key])
    job = dg.reconstructable(multiprocess_job)
    # The upstream steps log nothing to MLflow: materialized in-process first, they keep the multiprocess run
    # short (every step process re-imports the code, seconds each on two cores).
    upstream = run_assets(project, instance, key, ["raw_dataset", "feature_table", "dataset_split"])
    assert upstream.success, step_error(upstream, "dataset_split")

    candidate = MODEL.key("candidate_model")
    result = dg.execute_job(
        job,
        instance=instance,
        tags={"dagster/partition": key},
        asset_selection=[candidate, dg.AssetKey("tracked_probe"), dg.AssetKey("always_fails")],
    )

    assert not result.success
    assert result.get_failed_step_keys() == {"always_fails"}
    assert result.is_node_success(f"{MODEL.name}__candidate_model") and result.is_node_success("tracked_probe")
    client = MLflowTracking(state_dir=str(state)).client()
    assert runs_of_dagster_run(client, upstream.run_id) == []  # dataset_split reads the registry, logs nothing
    runs = runs_of_dagster_run(client, result.run_id)
    assert Counter(run.data.tags["dagster.asset"] for run in runs) == Counter(
        {candidate.to_user_string(): 1, "tracked_probe": 1, "always_fails": 1}
    )
    by_asset = {run.data.tags["dagster.asset"]: run for run in runs}
    assert by_asset[candidate.to_user_string()].info.status == "FINISHED"
    assert by_asset[candidate.to_user_string()].info.run_name == f"{candidate.to_user_string()}[{key}]"
    assert by_asset[candidate.to_user_string()].data.tags["model"] == MODEL.name
    assert by_asset["tracked_probe"].info.status == "FINISHED"
    failed = by_asset["always_fails"]
    assert failed.info.status == "FAILED"
    assert failed.info.end_time is not None
    assert failed.info.run_name == f"always_fails[{key}]"
    assert failed.data.metrics == {"before_failure": 1.0}  # the run the step wrote to is the one marked FAILED
    # the steps ran in processes of their own, not in this one
    pids = {by_asset["tracked_probe"].data.tags["pid"], failed.data.tags["pid"]}
    assert len(pids) == 2 and str(os.getpid()) not in pids
    for run in runs:
        assert run.data.tags["dagster.partition"] == key
        assert "mlflow.parentRunId" not in run.data.tags
    # one store and one experiment of ours, intact after parallel steps
    assert len(client.search_experiments(filter_string=f"name = '{EXPERIMENT}'")) == 1
    assert (state / "mlflow.db").is_file()
    with sqlite3.connect(state / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_materializations_in_one_process_log_to_two_mlflow_runs(tmp_path, no_tracking_uri_env, instance):
    tracking = MLflowTracking(state_dir=str(tmp_path / "state"))
    instance.add_dynamic_partitions(DATASET.partitions_name, [KEY])
    # a run some other code left active in this process must not be written into or nested under
    mlflow.set_tracking_uri(tracking.uri)
    stray = mlflow.start_run(experiment_id=tracking.ensure_experiment(), run_name="left active")

    results = [
        dg.materialize([tracked_probe], partition_key=KEY, instance=instance, resources={"mlflow_tracking": tracking})
        for _ in range(2)
    ]

    assert mlflow.active_run() is None
    client = tracking.client()
    runs = [runs_of_dagster_run(client, result.run_id) for result in results]
    assert [len(found) for found in runs] == [1, 1]
    first, second = runs[0][0], runs[1][0]
    assert first.info.run_id != second.info.run_id
    reported = [r.asset_materializations_for_node("tracked_probe")[0].metadata["mlflow_run_id"].value for r in results]
    assert reported == [first.info.run_id, second.info.run_id]
    for run, result in zip((first, second), results, strict=True):
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"tracked_probe[{KEY}]"
        assert run.data.tags["dagster.code_version"] == "probe-1"
        assert "mlflow.parentRunId" not in run.data.tags
        assert [m.value for m in client.get_metric_history(run.info.run_id, "probe")] == [1.0]
        assert run.data.tags["dagster.run_id"] == result.run_id
    left = client.get_run(stray.info.run_id)
    assert "dagster.run_id" not in left.data.tags
    assert left.data.metrics == {}
