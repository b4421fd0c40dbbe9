"""Ingestion: `<dataset>/raw_dataset`, a dataset version's rows validated against the dataset's contract."""

import dagster as dg
from pydantic import Field

from mlops_assets.settings import DatasetSettings
from mlops_assets.wiring import records
from mlops_assets.wiring.assets.pipeline_asset import pipeline_asset
from mlops_assets.wiring.checks import version_unchanged_result, version_unchanged_spec
from mlops_assets.wiring.column_schemas import raw_schema
from mlops_assets.wiring.partitions import version_partitions


class RawDatasetConfig(dg.Config):
    allow_changed_version: bool = Field(
        default=False,
        description="Ingest the version even though its content differs from its recorded data_version. Versions "
        "are immutable: prefer landing the changed data as a new version.",
    )


# What a refused re-ingestion tells the user to run when they really mean it.
OVERRIDE = (
    "dagster asset materialize -m mlops_assets.definitions --select {asset} --partition {key} "
    """--config-json '{{"ops": {{"{op}": {{"config": {{"allow_changed_version": true}}}}}}}}'"""
)


def raw_dataset_asset(dataset: DatasetSettings) -> dg.AssetsDefinition:
    key = dg.AssetKey([dataset.name, "raw_dataset"])
    columns = raw_schema(dataset)

    @pipeline_asset(
        dataset,
        "ingestion",
        name="raw_dataset",
        code_version="1",
        kinds={"pandas", "pandera"},
        metadata={"dagster/column_schema": columns},
        check_specs=[version_unchanged_spec(key, version_partitions(dataset))],
        description=f"The rows of one version of the {dataset.name} dataset (from its source: every CSV and "
        f"Parquet file in `data/{dataset.name}/versions/<key>/` by default), validated against its contract "
        f"`{dataset.contract}`. Its data_version is the SHA-256 of the data. A version whose data changed since it "
        "was ingested is refused unless `allow_changed_version`.",
    )
    def raw_dataset(
        context: dg.AssetExecutionContext, config: RawDatasetConfig
    ):  # no return annotation: with check specs Dagster would read it as several outputs
        from mlops_assets.infra.sources import VersionUnreadable, changed_message, data_source
        from mlops_assets.stages.ingestion import ContractViolation, validate_version

        partition = context.partition_key
        try:
            with data_source(dataset) as source:
                raw = source.read(partition)
        except VersionUnreadable as error:
            raise dg.Failure(description=f"Dataset version {partition!r} cannot be read: {error}") from None
        recorded = records.data_version(context.instance, key, partition)
        if recorded and recorded != raw.content_hash and not config.allow_changed_version:
            recorded_parts = records.latest_metadata(context.instance, key, partition).get("part_hashes")
            message = changed_message(partition, recorded, raw.content_hash, recorded_parts, raw.part_hashes)
            # Recorded for this version's check in the UI (a check evaluated in a run, unlike one reported by a
            # sensor, can fail again later: Dagster 1.13 stores one sensor-reported evaluation per partition only).
            yield version_unchanged_result(False, raw.content_hash, message)
            override = OVERRIDE.format(asset=key.to_user_string(), key=partition, op=context.op_def.name)
            raise dg.Failure(
                description=f"{message} To ingest it again anyway: {override}",
                metadata={"recorded_data_version": recorded, "content_hash": raw.content_hash},
            )
        try:
            version = validate_version(raw, dataset.raw_contract())
        except ContractViolation as violation:
            raise dg.Failure(description=str(violation), metadata=violation.to_metadata()) from None
        yield dg.MaterializeResult(
            value=version.frame,
            data_version=dg.DataVersion(version.content_hash),
            metadata=version.to_metadata(columns),
            check_results=[version_unchanged_result(True, version.content_hash)],
        )

    return raw_dataset
