"""Ingestion: `raw_dataset`, a dataset version's rows validated against the raw contract."""

import dagster as dg

from ...column_schemas import column_schema
from ...config import ProjectSettings
from .pipeline_asset import pipeline_asset


@pipeline_asset(
    "ingestion",
    code_version="1",
    kinds={"pandas", "pandera"},
    metadata={"dagster/column_schema": column_schema("RawData")},
    description="The rows of one dataset version (every CSV and Parquet file in `data/versions/<key>/`), "
    "validated against the RawData contract. Its data_version is the SHA-256 of the files.",
)
def raw_dataset(context: dg.AssetExecutionContext, settings: ProjectSettings) -> dg.MaterializeResult:
    from ...stages.ingestion import ContractViolation, read_version

    try:
        version = read_version(settings.versions_dir / context.partition_key)
    except ContractViolation as violation:
        raise dg.Failure(description=str(violation), metadata=violation.to_metadata()) from None
    return dg.MaterializeResult(
        value=version.frame,
        data_version=dg.DataVersion(version.content_hash),
        metadata=version.to_metadata(column_schema("RawData")),
    )
