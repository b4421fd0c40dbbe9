"""Ingestion: `raw_dataset`, a dataset version's rows validated against the raw contract."""

import dagster as dg
from pydantic import Field

from mlops_assets.config import ProjectSettings
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.checks import version_unchanged_result, version_unchanged_spec
from mlops_assets.wiring.column_schemas import column_schema


class RawDatasetConfig(dg.Config):
    allow_changed_version: bool = Field(
        default=False,
        description="Ingest the version even though its content differs from its recorded data_version. Versions "
        "are immutable: prefer landing the changed data as a new version.",
    )


# What a refused re-ingestion tells the user to run when they really mean it.
OVERRIDE = (
    "dagster asset materialize -m mlops_assets.definitions --select raw_dataset --partition {key} "
    """--config-json '{{"ops": {{"raw_dataset": {{"config": {{"allow_changed_version": true}}}}}}}}'"""
)


@pipeline_asset(
    "ingestion",
    code_version="1",
    kinds={"pandas", "pandera"},
    metadata={"dagster/column_schema": column_schema("RawData")},
    check_specs=[version_unchanged_spec()],
    description="The rows of one dataset version (from the configured source: every CSV and Parquet file in "
    "`data/versions/<key>/` by default), validated against the RawData contract. Its data_version is the SHA-256 "
    "of the data. A version whose data changed since it was ingested is refused unless `allow_changed_version`.",
)
def raw_dataset(
    context: dg.AssetExecutionContext, config: RawDatasetConfig, settings: ProjectSettings
):  # no return annotation: with check specs Dagster would read it as several outputs
    from mlops_assets.infra.sources import VersionUnreadable, changed_message, data_source
    from mlops_assets.stages.ingestion import ContractViolation, validate_version

    key = context.partition_key
    try:
        with data_source(settings) as source:
            raw = source.read(key)
    except VersionUnreadable as error:
        raise dg.Failure(description=f"Dataset version {key!r} cannot be read: {error}") from None
    recorded = records.data_version(context.instance, "raw_dataset", key)
    if recorded and recorded != raw.content_hash and not config.allow_changed_version:
        message = changed_message(key, recorded, raw.content_hash)
        # Recorded for this version's check in the UI (a check evaluated in a run, unlike one reported by a sensor,
        # can fail again later: Dagster 1.13 stores one sensor-reported evaluation per partition only).
        yield version_unchanged_result(False, raw.content_hash, message)
        raise dg.Failure(
            description=f"{message} To ingest it again anyway: {OVERRIDE.format(key=key)}",
            metadata={"recorded_data_version": recorded, "content_hash": raw.content_hash},
        )
    try:
        version = validate_version(raw)
    except ContractViolation as violation:
        raise dg.Failure(description=str(violation), metadata=violation.to_metadata()) from None
    yield dg.MaterializeResult(
        value=version.frame,
        data_version=dg.DataVersion(version.content_hash),
        metadata=version.to_metadata(column_schema("RawData")),
        check_results=[version_unchanged_result(True, version.content_hash)],
    )
