"""Materializing `raw_dataset` in process against a real instance: what a materialization records, and how a
version that breaks the contract fails."""

from __future__ import annotations

import dagster as dg
import pytest

from mlops_assets.contracts import RawData
from mlops_assets.defs.assets.ingestion import raw_dataset
from mlops_assets.demo.versions import land_version, monthly_snapshot
from mlops_assets.stages.ingestion import read_version
from tests.conftest import write_version

RAW = dg.AssetKey("raw_dataset")


def latest_materialization(instance: dg.DagsterInstance, key: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW, asset_partitions=[key]), limit=1
    ).records
    return records[0] if records else None


def materialize(instance, settings, key: str, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_dataset], partition_key=key, instance=instance, resources={"settings": settings}, **kwargs
    )


def test_a_materialization_records_rows_schema_and_the_content_hash(instance, settings, bikeshare):
    snapshot = monthly_snapshot(bikeshare, "2011-02")
    folder = land_version(settings.versions_dir, "2011-02", snapshot)
    instance.add_dynamic_partitions("dataset_version", ["2011-02"])

    result = materialize(instance, settings, "2011-02")

    assert result.success
    record = latest_materialization(instance, "2011-02")
    assert record is not None
    materialization = record.asset_materialization
    assert materialization.partition == "2011-02"
    assert materialization.metadata["dagster/row_count"].value == len(snapshot)
    schema = materialization.metadata["dagster/column_schema"].schema
    assert [c.name for c in schema.columns] == list(RawData.to_schema().columns)
    expected_hash = read_version(folder).content_hash
    assert materialization.tags["dagster/data_version"] == expected_hash
    assert materialization.metadata["content_hash"].value == expected_hash
    assert materialization.tags["dagster/code_version"] == raw_dataset.code_versions_by_key[RAW]
    assert materialization.metadata["files"].value == ["rentals.csv"]
    # The stored value is the validated frame, for downstream assets.
    stored = result.output_for_node("raw_dataset")
    assert len(stored) == len(snapshot)
    assert stored["hr"].dtype == "int64"


def test_the_data_version_follows_the_content_not_the_key(instance, settings, bikeshare):
    january = monthly_snapshot(bikeshare, "2011-01")
    land_version(settings.versions_dir, "a", january)
    land_version(settings.versions_dir, "b", january)
    land_version(settings.versions_dir, "c", monthly_snapshot(bikeshare, "2011-02"))
    instance.add_dynamic_partitions("dataset_version", ["a", "b", "c"])

    for key in ["a", "b", "c"]:
        assert materialize(instance, settings, key).success

    versions = {key: latest_materialization(instance, key).asset_materialization.tags for key in "abc"}
    assert versions["a"]["dagster/data_version"] == versions["b"]["dagster/data_version"]
    assert versions["a"]["dagster/data_version"] != versions["c"]["dagster/data_version"]


def test_a_version_that_breaks_the_contract_fails_the_run_and_stores_nothing(instance, settings, bikeshare):
    land_version(settings.versions_dir, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    bad = monthly_snapshot(bikeshare, "2011-02").copy()
    bad.loc[5, "hr"] = 24
    bad.loc[9, "weathersit"] = "fog"
    write_version(settings.versions_dir, "2011-02-bad", {"rentals.csv": bad})
    instance.add_dynamic_partitions("dataset_version", ["2011-01", "2011-02-bad"])
    assert materialize(instance, settings, "2011-01").success
    good_before = latest_materialization(instance, "2011-01")

    with pytest.raises(dg.Failure) as caught:
        materialize(instance, settings, "2011-02-bad")

    metadata = caught.value.metadata
    assert metadata["failure_cases"].value == 2
    assert metadata["failed_checks"].value == [
        "hr: less_than_or_equal_to(23)",
        "weathersit: isin(['clear', 'cloudy/misty', 'light rain/snow', 'heavy rain/snow'])",
    ]
    table = metadata["failure_table"].value
    assert "| file" in table and "rentals.csv" in table
    assert "less_than_or_equal_to(23)" in table and "fog" in table
    assert "row 6" in caught.value.description and "rentals.csv" in caught.value.description

    assert latest_materialization(instance, "2011-02-bad") is None
    failed_runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert [r.dagster_run.tags.get("dagster/partition") for r in failed_runs] == ["2011-02-bad"]
    good_after = latest_materialization(instance, "2011-01")
    assert good_after.storage_id == good_before.storage_id
    assert good_after.asset_materialization == good_before.asset_materialization


def test_the_failure_report_names_the_file_and_row_of_a_multi_file_version(instance, settings, bikeshare):
    rows = bikeshare.head(48).copy()
    second = rows.iloc[24:].reset_index(drop=True)
    second.loc[2, "temp"] = 1.5
    write_version(settings.versions_dir, "mixed", {"a.csv": rows.iloc[:24], "b.parquet": second})
    instance.add_dynamic_partitions("dataset_version", ["mixed"])

    result = materialize(instance, settings, "mixed", raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data.user_failure_data
    assert data is not None, "a contract failure is a dg.Failure, not a crash"
    table = data.metadata["failure_table"].value
    assert "b.parquet" in table and "a.csv" not in table
    assert data.metadata["failed_checks"].value == ["temp: less_than_or_equal_to(1)"]
