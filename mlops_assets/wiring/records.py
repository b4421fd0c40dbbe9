"""Reading results back from the Dagster instance: the latest materialization of an asset for a dataset version.

The assets, the sensors and the main job read what earlier runs recorded through these functions, and monitoring
results through `MonitoringResult.from_metadata`, so that every reader agrees on the keys. `fetch_materializations`
with an `AssetRecordsFilter` is used because `get_latest_materialization_event` ignores partitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.infra.version_keys import version_sort_key

if TYPE_CHECKING:
    from mlops_assets.stages.monitoring import MonitoringResult


AssetName = dg.AssetKey | str  # a key, or its user string: "bike_rentals/model_evaluation"


def asset_key(asset: AssetName) -> dg.AssetKey:
    return asset if isinstance(asset, dg.AssetKey) else dg.AssetKey.from_user_string(asset)


def latest_record(instance: dg.DagsterInstance, asset: AssetName, partition: str):
    """The latest materialization record of `asset` for `partition`, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def latest_metadata(instance: dg.DagsterInstance, asset: AssetName, partition: str) -> dict[str, Any]:
    """The latest materialization's metadata as plain values ({} when never materialized)."""
    record = latest_record(instance, asset, partition)
    if record is None:
        return {}
    return {key: value.value for key, value in record.asset_materialization.metadata.items()}


def data_version(instance: dg.DagsterInstance, asset: AssetName, partition: str) -> str | None:
    """The data_version recorded by the latest materialization of `asset` for `partition`."""
    record = latest_record(instance, asset, partition)
    return record.asset_materialization.tags.get("dagster/data_version") if record else None


def monitoring_history(
    instance: dg.DagsterInstance, monitoring: AssetName, exclude: str | None = None, limit: int = 1000
) -> list[tuple[str, MonitoringResult]]:
    """The latest result of a model's `monitoring` asset for every version (but `exclude`), in natural order."""
    from mlops_assets.stages.monitoring import MonitoringResult

    records = instance.fetch_materializations(asset_key(monitoring), limit=limit).records
    latest: dict[str, MonitoringResult] = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        event = record.asset_materialization
        if event.partition and event.partition != exclude:
            latest[event.partition] = MonitoringResult.from_metadata(event.metadata)
    return [(key, latest[key]) for key in sorted(latest, key=version_sort_key)]
