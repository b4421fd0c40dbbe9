"""Waiting on the production stack's runs, as the daemon launches them (the sensors' run keys say which is which)."""

import time

import dagster as dg

from mlops_assets.commands.landing import source_versions
from mlops_assets.settings import ProjectSettings

# The configured data set's versions, in order: the stack's tests each take versions of their own, six in all. A
# project may be configured with fewer (a generated one has at least 4): the same cut then makes six.
_CONFIGURED = ProjectSettings()
_SIX_OR_MORE = _CONFIGURED.source.model_copy(update={"versions": max(6, _CONFIGURED.source.versions)})
VERSIONS = source_versions(_CONFIGURED.model_copy(update={"source": _SIX_OR_MORE}))


def runs_of(instance: dg.DagsterInstance, key: str) -> list[dg.DagsterRun]:
    return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))


def wait_for_runs(instance: dg.DagsterInstance, key: str, run_keys: list[str], timeout: float) -> list[dg.DagsterRun]:
    """The finished runs of version `key` that the sensors launched with these run keys (ingest:K, retrain:K)."""
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
    """The materializations of one asset and version, oldest first."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=100
    ).records
    return sorted(records, key=lambda record: record.storage_id)
