"""Materializing `raw_dataset` in process against a real instance: what a materialization records, and how a
version that breaks the contract fails. Versions are the configured data set's; bad cells come from its contract."""

from __future__ import annotations

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version
from mlops_assets.infra.alerts import Notifier
from mlops_assets.stages.ingestion import read_version
from mlops_assets.wiring.assets.ingestion import raw_dataset_asset
from tests.configured_data import (
    CONTRACT_COLUMNS,
    a_break,
    columns_of_kind,
    dtype_text,
    move_last_row_first,
    sample,
    two_breaks,
)
from tests.conftest import DATASET, write_version

RAW = dg.AssetKey([DATASET.name, "raw_dataset"])
PARTITIONS = DATASET.partitions_name
FILE = "rows.csv"  # the file name landing.land_version gives a version


def latest_materialization(instance: dg.DagsterInstance, key: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW, asset_partitions=[key]), limit=1
    ).records
    return records[0] if records else None


def materialize(instance, settings, key: str, **kwargs) -> dg.ExecuteInProcessResult:
    """raw_dataset of the settings' dataset (its folders) materialized for `key`."""
    resources = {"notifier": Notifier()}  # the failure hook's (every pipeline asset alerts a failed step)
    return dg.materialize(
        [raw_dataset_asset(settings.dataset)], partition_key=key, instance=instance, resources=resources, **kwargs
    )


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of a Markdown failure table's data rows."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def shown(value) -> object:
    """A failure table's value cell, or a value written into a file, compared as a number when it is one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def change_in_place(path) -> None:
    """Other bytes, the same rows: the contract still accepts the version, its content hash differs."""
    path.write_bytes(move_last_row_first(path.read_bytes()))


def test_a_materialization_records_rows_schema_and_the_content_hash(instance, settings, versions, keys):
    key, rows = keys[1], versions[keys[1]]
    folder = land_version(settings.versions_dir, key, rows)
    instance.add_dynamic_partitions(PARTITIONS, [key])

    result = materialize(instance, settings, key)

    assert result.success
    record = latest_materialization(instance, key)
    assert record is not None
    materialization = record.asset_materialization
    assert materialization.partition == key
    assert materialization.metadata["dagster/row_count"].value == len(rows)
    schema = materialization.metadata["dagster/column_schema"].schema
    assert [c.name for c in schema.columns] == CONTRACT_COLUMNS
    expected_hash = read_version(folder, DATASET.contract).content_hash
    assert materialization.tags["dagster/data_version"] == expected_hash
    assert materialization.metadata["content_hash"].value == expected_hash
    assert materialization.tags["dagster/code_version"] == raw_dataset_asset(DATASET).code_versions_by_key[RAW]
    assert materialization.metadata["files"].value == [FILE]
    # The stored value is the validated frame, for downstream assets: every number with the contract's type.
    stored = result.output_for_node(RAW.to_python_identifier())
    assert len(stored) == len(rows)
    numbers = columns_of_kind("iufb")
    assert numbers, "the contract has no numeric column to check the stored types of"
    assert {name: str(stored[name].dtype) for name in numbers} == {name: dtype_text(name) for name in numbers}


def test_the_data_version_follows_the_content_not_the_key(instance, settings, versions, keys):
    first = versions[keys[0]]
    land_version(settings.versions_dir, "a", first)
    land_version(settings.versions_dir, "b", first)
    land_version(settings.versions_dir, "c", versions[keys[1]])
    instance.add_dynamic_partitions(PARTITIONS, ["a", "b", "c"])

    for key in ["a", "b", "c"]:
        assert materialize(instance, settings, key).success

    tags = {key: latest_materialization(instance, key).asset_materialization.tags for key in "abc"}
    assert tags["a"]["dagster/data_version"] == tags["b"]["dagster/data_version"]
    assert tags["a"]["dagster/data_version"] != tags["c"]["dagster/data_version"]


def test_a_version_that_breaks_the_contract_fails_the_run_and_stores_nothing(instance, settings, versions, keys):
    good, bad_key = keys[0], f"{keys[1]}-bad"
    land_version(settings.versions_dir, good, versions[good])
    first, second = two_breaks()
    bad = second.apply(first.apply(versions[keys[1]].reset_index(drop=True), 5), 9)
    write_version(settings.versions_dir, bad_key, {FILE: bad})
    instance.add_dynamic_partitions(PARTITIONS, [good, bad_key])
    assert materialize(instance, settings, good).success
    good_before = latest_materialization(instance, good)

    with pytest.raises(dg.Failure) as caught:
        materialize(instance, settings, bad_key)

    metadata = caught.value.metadata
    assert metadata["failure_cases"].value == 2
    assert metadata["failed_checks"].value == sorted(f"{b.column}: {b.check}" for b in (first, second))
    table = metadata["failure_table"].value
    assert "| file" in table
    rows = table_rows(table)
    assert [row[:4] for row in rows] == [
        [FILE, "6", first.column, first.check],
        [FILE, "10", second.column, second.check],
    ]
    assert [shown(row[4]) for row in rows] == [shown(first.value), shown(second.value)], "the bad values, as read"
    assert "row 6" in caught.value.description and FILE in caught.value.description

    assert latest_materialization(instance, bad_key) is None
    failed_runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert [r.dagster_run.tags.get("dagster/partition") for r in failed_runs] == [bad_key]
    good_after = latest_materialization(instance, good)
    assert good_after.storage_id == good_before.storage_id
    assert good_after.asset_materialization == good_before.asset_materialization


def test_the_failure_report_names_the_file_and_row_of_a_multi_file_version(instance, settings):
    rows, bad = sample(48), a_break()
    second = bad.apply(rows.iloc[24:].reset_index(drop=True), 2)
    write_version(settings.versions_dir, "mixed", {"a.csv": rows.iloc[:24], "b.parquet": second})
    instance.add_dynamic_partitions(PARTITIONS, ["mixed"])

    result = materialize(instance, settings, "mixed", raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data.user_failure_data
    assert data is not None, "a contract failure is a dg.Failure, not a crash"
    table = data.metadata["failure_table"].value
    assert "b.parquet" in table and "a.csv" not in table
    assert [row[:3] for row in table_rows(table)] == [["b.parquet", "3", bad.column]]
    assert data.metadata["failed_checks"].value == [f"{bad.column}: {bad.check}"]


def test_a_version_changed_since_it_was_ingested_is_refused_unless_the_run_allows_it(
    instance, settings, versions, keys
):
    key = keys[0]
    folder = land_version(settings.versions_dir, key, versions[key])
    instance.add_dynamic_partitions(PARTITIONS, [key])
    assert materialize(instance, settings, key).success
    recorded = latest_materialization(instance, key)
    change_in_place(folder / FILE)

    refused = materialize(instance, settings, key, raise_on_error=False)

    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert f"'{key}' changed after it was ingested" in message
    assert "land the changed data as a new version" in message
    assert '"allow_changed_version": true' in message, "it says how to override"
    assert latest_materialization(instance, key).storage_id == recorded.storage_id, "nothing re-ingested"

    allowed = materialize(
        instance,
        settings,
        key,
        run_config={"ops": {RAW.to_python_identifier(): {"config": {"allow_changed_version": True}}}},
    )

    assert allowed.success
    new = latest_materialization(instance, key).asset_materialization.tags["dagster/data_version"]
    assert new != recorded.asset_materialization.tags["dagster/data_version"]
    assert materialize(instance, settings, key).success, "the same content again is not a change"


@pytest.mark.slow
def test_dagster_asset_materialize_refuses_a_changed_version_and_the_documented_override_works(
    tmp_path, versions, keys
):
    """The command line a user runs, in a fresh process, against a persistent instance."""
    import subprocess
    import sys

    from mlops_assets.wiring.assets.ingestion import OVERRIDE
    from tests.conftest import subprocess_env

    key = keys[0]
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = subprocess_env(DAGSTER_HOME=str(home), MLOPS_DATA_DIR=str(tmp_path / "data"))
    folder = land_version(tmp_path / "data" / DATASET.name / "versions", key, versions[key])
    with dg.DagsterInstance.from_config(str(home)) as persistent:
        persistent.add_dynamic_partitions(PARTITIONS, [key])
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "mlops_assets.definitions"]
    select = ["--select", RAW.to_user_string(), "--partition", key]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *select, *extra], env=env, capture_output=True, text=True, timeout=300)

    assert run().returncode == 0
    change_in_place(folder / FILE)

    refused = run()

    assert refused.returncode != 0
    assert "changed after it was ingested" in refused.stderr + refused.stdout
    override = OVERRIDE.format(asset=RAW.to_user_string(), key=key, op=RAW.to_python_identifier())
    override = override.split("--config-json ")[1].strip("'")
    assert run("--config-json", override).returncode == 0
