"""The closed loop on the production stack (tests/production/conftest.py): dataset versions land one after another and
then two at once; the daemon's sensors ingest, monitor, retrain, gate and deploy each on the Celery workers, with
Dagster on PostgreSQL and the MLflow tracking server. The stack's code location is tests/always_retrain.py (the
project's definitions with a small search budget and a policy that retrains on every monitoring result).
"""

import collections
import itertools
import time

import dagster as dg
import pytest

from tests.conftest import MODEL
from tests.production.conftest import FIRST_VERSION, land_in_stack
from tests.production.runs import VERSIONS, failures, materialized, retrain_key, wait_for_runs

pytestmark = [pytest.mark.production, pytest.mark.slow]

REGISTERED_MODEL = MODEL.model_name
SEQUENTIAL = [key for key, _ in VERSIONS[1:3]]  # after FIRST_VERSION, which the stack landed before it started
CONCURRENT = [key for key, _ in VERSIONS[3:5]]
ROWS = dict(VERSIONS)


def client_of(stack):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{stack['MLOPS_MLFLOW_PORT']}")


def land(stack, *keys: str) -> None:
    for key in keys:
        land_in_stack(stack, key, ROWS[key])


def registry_versions(client, keys) -> dict[str, list]:
    """dataset version -> the registry versions trained on it."""
    by_key = collections.defaultdict(list)
    for version in client.search_model_versions(f"name = '{REGISTERED_MODEL}'"):
        if version.tags.get("dataset_version") in keys:
            by_key[version.tags["dataset_version"]].append(version)
    return by_key


def assert_one_mlflow_run_per_step(client, runs: list[dg.DagsterRun]) -> None:
    """Every asset step of these Dagster runs opened exactly one MLflow run, and it finished."""
    experiment = client.get_experiment_by_name("mlops_assets").experiment_id
    for run in runs:
        logged = client.search_runs([experiment], filter_string=f"tags.`dagster.run_id` = '{run.run_id}'")
        names = collections.Counter(r.info.run_name for r in logged)
        assert names and max(names.values()) == 1, f"duplicate MLflow runs in {run.run_id}: {names}"
        assert {r.info.status for r in logged} == {"FINISHED"}, [(r.info.run_name, r.info.status) for r in logged]


def test_versions_landing_one_after_another_are_each_trained_gated_and_deployed(stack, instance):
    started = time.monotonic()
    [first] = wait_for_runs(instance, FIRST_VERSION, [f"ingest:{FIRST_VERSION}"], timeout=420)
    all_runs = [first]
    for key in SEQUENTIAL:
        land(stack, key)
        all_runs += wait_for_runs(instance, key, [f"ingest:{key}", retrain_key(key)], timeout=420)
        print(f"\n{key}: ingested, monitored, retrained, deployed {time.monotonic() - started:.0f} s after the start")
    assert [run.status for run in all_runs] == [dg.DagsterRunStatus.SUCCESS] * len(all_runs), [
        failures(instance, run) for run in all_runs
    ]

    keys = [FIRST_VERSION, *SEQUENTIAL]
    for key in keys:  # each version trained, gated and deployed once
        assert len(materialized(instance, "candidate_model", key)) == 1
        [evaluation] = materialized(instance, "model_evaluation", key)
        assert evaluation.asset_materialization.metadata["gates_passed"].value is True
        [deployment] = materialized(instance, "deployed_model", key)
        assert deployment.asset_materialization.metadata["promoted"].value is True
    for key in SEQUENTIAL:  # the champion of the day before judged each new version
        assert len(materialized(instance, "model_monitoring", key)) == 1

    client = client_of(stack)
    versions = registry_versions(client, keys)
    assert {key: len(found) for key, found in versions.items()} == {key: 1 for key in keys}
    numbers = [int(versions[key][0].version) for key in keys]
    assert numbers == sorted(numbers)  # registered in landing order
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    previous = client.get_model_version_by_alias(REGISTERED_MODEL, "previous_champion")
    assert (champion.version, previous.version) == (str(numbers[-1]), str(numbers[-2]))
    assert champion.tags["replaced_version"] == str(numbers[-2])
    assert_one_mlflow_run_per_step(client, all_runs)


def test_two_versions_landing_at_once_run_concurrently_and_leave_one_champion(stack, instance):
    # After the sequential versions (or at least the first): the champion exists, so both are monitored first.
    wait_for_runs(instance, FIRST_VERSION, [f"ingest:{FIRST_VERSION}"], timeout=420)
    client = client_of(stack)
    before = client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version
    land(stack, *CONCURRENT)
    runs = [
        run
        for key in CONCURRENT
        for run in wait_for_runs(instance, key, [f"ingest:{key}", retrain_key(key)], timeout=600)
    ]
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs), [
        failures(instance, run) for run in runs
    ]
    # They did run at the same time (the queue allows one run per version, four in all).
    records = [instance.get_run_record_by_id(run.run_id) for run in runs]
    spans = sorted((record.start_time, record.end_time) for record in records)
    overlapping = any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    zero = spans[0][0]
    print(f"\nrun spans (s after the first start): {[(round(a - zero), round(b - zero)) for a, b in spans]}")
    assert overlapping, "no two runs of the two versions overlapped"

    keys = CONCURRENT
    versions = registry_versions(client, keys)
    assert {key: len(found) for key, found in versions.items()} == {key: 1 for key in CONCURRENT}
    # One champion, one of the two: the race is decided under the registry lock (deployment.promote). The other is
    # registered, and either replaced (previous_champion) or not promoted, saying why.
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    assert champion.tags["dataset_version"] in CONCURRENT and champion.version != before
    outcomes = {key: materialized(instance, "deployed_model", key)[-1].asset_materialization.metadata for key in keys}
    other = next(key for key in CONCURRENT if key != champion.tags["dataset_version"])
    print(f"deployments: { {key: meta['outcome'].value for key, meta in outcomes.items()} }")
    if outcomes[other]["promoted"].value:
        assert client.get_model_version_by_alias(REGISTERED_MODEL, "previous_champion").tags["dataset_version"] == other
    else:
        assert "not promoted" in outcomes[other]["outcome"].value
    assert_one_mlflow_run_per_step(client, runs)
