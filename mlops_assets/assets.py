"""The pipeline's software-defined assets: thin wrappers around the stage functions, one asset per stage step.

Each asset is partitioned by dataset version, carries a description, a group, kinds and a code_version, and
reports what a user needs to see in the UI as metadata. The logic lives in the stage modules.
"""

import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_pandera import pandera_schema_to_dagster_type

from mlops_assets.config import ProjectSettings
from mlops_assets.contracts import RawRentals
from mlops_assets.ingestion import ContractViolation, read_version
from mlops_assets.partitions import dataset_version_partitions

# Bump a code_version when the logic behind an asset changes; Dagster then shows its outputs as stale.
INGESTION_CODE_VERSION = "1"


def column_schema(contract) -> dg.TableSchema:
    """The contract's columns, types and checks, for the asset's Columns panel.

    dagster-pandera puts this TableSchema on the Dagster type only; it is copied into `dagster/column_schema`.
    The function is marked beta; that one known warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(contract).metadata["schema"].schema


def failure_report(violation: ContractViolation, limit: int = 50) -> dg.Failure:
    table = violation.failures.head(limit)
    return dg.Failure(
        description=str(violation),
        metadata={
            "failure_cases": len(violation.failures),
            "failed_checks": dg.MetadataValue.json(violation.failed_checks),
            "failure_table": dg.MetadataValue.md(table.to_markdown(index=False)),
        },
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="ingestion",
    kinds={"pandas", "pandera"},
    code_version=INGESTION_CODE_VERSION,
    metadata={"dagster/column_schema": column_schema(RawRentals)},
    description="The rows of one dataset version (every CSV and Parquet file in data/versions/<key>/), "
    "validated against the RawRentals contract. Its data_version is the SHA-256 of the files.",
)
def raw_dataset(context: dg.AssetExecutionContext, settings: ProjectSettings) -> dg.MaterializeResult:
    version_dir = Path(settings.versions_dir) / context.partition_key
    try:
        version = read_version(version_dir)
    except ContractViolation as violation:
        raise failure_report(violation) from None
    return dg.MaterializeResult(
        value=version.frame,
        data_version=dg.DataVersion(version.content_hash),
        metadata={
            "dagster/row_count": len(version.frame),
            "dagster/column_schema": column_schema(RawRentals),
            "files": dg.MetadataValue.json(version.files),
            "content_hash": version.content_hash,
            "path": dg.MetadataValue.path(str(version_dir)),
        },
    )
