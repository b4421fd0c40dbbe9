"""Waiting on the production stack's runs, as the daemon launches them (the sensors' run keys say which is which).

The stack serves the test model (tests/conftest.py: MODEL, the first model by name, and its DATASET) through
tests/always_retrain.py: asset names here are that model's (`<model>/<asset>`; "raw_dataset" is its dataset's).
"""

import time

import dagster as dg

from mlops_assets.commands.landing import source_versions
from tests.conftest import DATASET, MODEL, asset_keys

# The test model's dataset's versions, in order: the stack's tests each take versions of their own, six in all. A
# dataset may be configured with fewer (a generated one has at least 4): the same cut then makes six.
_SIX_OR_MORE = DATASET.source.model_copy(update={"versions": max(6, DATASET.source.versions)})
VERSIONS = source_versions(DATASET.model_copy(update={"source": _SIX_OR_MORE}))


def retrain_key(key: str) -> str:
    """The run key of the test model's retraining sensor's run for version `key`."""
    return f"retrain:{MODEL.name}:{key}"


def step_key(asset: str) -> str:
    """The step key of one of the test model's assets ("raw_dataset": its dataset's): `<owner>__<asset>`."""
    return "__".join(asset_keys(MODEL, [asset])[0].path)


def runs_of(instance: dg.DagsterInstance, key: str) -> list[dg.DagsterRun]:
    return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))


def wait_for_runs(instance: dg.DagsterInstance, key: str, run_keys: list[str], timeout: float) -> list[dg.DagsterRun]:
    """The finished runs of version `key` that the sensors launched with these run keys (ingest:K, retrain:M:K)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {run.tags.get("dagster/run_key"): run for run in runs_of(instance, key)}
        if all(k in found and found[k].is_finished for k in run_keys):
            return [found[k] for k in run_keys]
        if time.monotonic() > deadline:
            states = {k: run.status.value for k, run in found.items()}
            raise AssertionError(f"{key}: runs {run_keys} not finished after {timeout:.0f} s; runs: {states}")
        time.sleep(2)


def failures(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    return [e.message for e in instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event.is_failure]


def materialized(instance: dg.DagsterInstance, asset: str, key: str) -> list:
    """The materializations of one of the test model's assets ("raw_dataset": its dataset's) and version, oldest
    first."""
    [asset_key] = asset_keys(MODEL, [asset])
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=100
    ).records
    return sorted(records, key=lambda record: record.storage_id)
