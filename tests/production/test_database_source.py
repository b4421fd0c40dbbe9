"""The database data source against a real PostgreSQL: versions listed from a table, read with the version as a
parameter, validated by the same contract with the same failure table, hashed on the rows read.

Each test gets a throwaway database (created and dropped here); the URL reaches the project only through the
environment variable the configuration names. Skips, saying why, when PostgreSQL is not reachable.
"""

from __future__ import annotations

import json
import uuid

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.infra.alerts import Notifier
from mlops_assets.infra.sources import data_source
from mlops_assets.infra.sources.database import DatabaseSource
from mlops_assets.infra.sources.scanning import scan_versions
from mlops_assets.settings import DatasetSettings, DataSourceSettings, ModelSettings
from mlops_assets.wiring.assets.ingestion import raw_dataset_asset
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensors.dataset_versions import dataset_version_sensor
from tests.configured_data import KEY, columns_of_kind, two_breaks
from tests.conftest import model_settings
from tests.production.services import postgres_admin_dsn, require_postgres

pytestmark = pytest.mark.production
URL_VARIABLE = "MLOPS_TEST_SOURCE_DATABASE_URL"
FIRST = "first"  # the test model's dataset's first version, stored in the table under this version key


@pytest.fixture
def breaks():
    """Two rules of the contract, broken in the "broken" version."""
    return two_breaks()


@pytest.fixture
def database(monkeypatch, versions, keys, breaks):
    """A database of its own with table public.rows: the dataset's first version and a broken one."""
    require_postgres()
    import psycopg2
    import sqlalchemy as sa

    name = f"mlops_source_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True  # CREATE DATABASE cannot run in a transaction
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = postgres_admin_dsn(name)
    engine = sa.create_engine(url)
    try:
        first = versions[keys[0]].reset_index(drop=True)
        broken = breaks[1].apply(breaks[0].apply(first.head(48), 5), 9)
        rows = pd.concat([first.assign(dataset_version=FIRST), broken.assign(dataset_version="broken")])
        rows.sample(frac=1, random_state=0).to_sql("rows", engine, index=False)  # stored out of order
        monkeypatch.setenv(URL_VARIABLE, url)
        yield {"engine": engine, "first": first}
    finally:
        engine.dispose()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def dagster_instance(tmp_path):
    """A real Dagster instance of this test (not the production stack's: that one is the `instance` fixture here)."""
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as opened:
        yield opened


def database_model(tmp_path, **source) -> ModelSettings:
    """The test model, its dataset read from the database (the URL in $MLOPS_TEST_SOURCE_DATABASE_URL)."""
    return model_settings(
        tmp_path, data_source=DataSourceSettings(kind="database", database_url_env=URL_VARIABLE, **source)
    )


def database_settings(tmp_path, **source) -> DatasetSettings:
    return database_model(tmp_path, **source).dataset


def materialize(instance, dataset: DatasetSettings, key: str) -> dg.ExecuteInProcessResult:
    resources = {"notifier": Notifier()}  # the failure hook's (every pipeline asset alerts a failed step)
    return dg.materialize(
        [raw_dataset_asset(dataset)], partition_key=key, instance=instance, resources=resources, raise_on_error=False
    )


def test_a_postgres_table_is_a_data_source_for_the_sensor_and_raw_dataset(database, breaks, tmp_path, dagster_instance):
    instance = dagster_instance
    model = database_model(tmp_path, table="public.rows")
    settings = model.dataset
    tracking = MLflowTracking(state_dir=str(tmp_path / "mlflow"), tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    sensor = dataset_version_sensor(settings, [model])

    tick = sensor(dg.build_sensor_context(instance=instance, resources={"mlflow_tracking": tracking}))

    assert sorted(r.partition_key for r in tick.run_requests) == ["broken", FIRST]
    assert json.loads(tick.cursor)["settling"] == {}, "a committed version is settled at once"
    instance.add_dynamic_partitions(settings.partitions_name, [FIRST, "broken"])

    good = materialize(instance, settings, FIRST)

    assert good.success
    stored = good.output_for_node("__".join(model.raw_key.path))
    assert len(stored) == len(database["first"])
    assert "dataset_version" not in stored.columns, "the version column is not a data column"
    assert list(stored.columns) == list(database["first"].columns)
    assert list(stored[KEY].itertuples(index=False)) == sorted(stored[KEY].itertuples(index=False)), "by row key"
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=model.raw_key, asset_partitions=[FIRST]), limit=1
    ).records[0]
    with data_source(settings) as source:
        assert record.asset_materialization.tags["dagster/data_version"] == source.content_hash(FIRST)

    bad = materialize(instance, settings, "broken")

    assert not bad.success
    [failure] = [e for e in bad.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    report = failure.step_failure_data.user_failure_data
    assert report.metadata["failed_checks"].value == sorted(f"{b.column}: {b.check}" for b in breaks)
    table = report.metadata["failure_table"].value
    assert "table public.rows" in table and all(str(b.value) in table for b in breaks)
    assert "table public.rows" in report.description and "postgres" not in report.description, "no URL"

    # An update that keeps the row count: the content hash, computed on the rows read, sees it.
    numbers = [name for name in columns_of_kind("f") if name not in {b.column for b in breaks}]
    if not numbers:
        pytest.skip("the contract has no other float column to change in place")
    with database["engine"].begin() as connection:
        connection.exec_driver_sql(
            f'UPDATE rows SET "{numbers[0]}" = "{numbers[0]}" + 1 WHERE ctid = '
            f"(SELECT ctid FROM rows WHERE dataset_version = '{FIRST}' LIMIT 1)"
        )
    recorded = {FIRST: record.asset_materialization.tags["dagster/data_version"]}
    with data_source(settings) as source:
        scan = scan_versions(source, json.loads(tick.cursor), recorded_hash=recorded.get)
    assert list(scan.changed) == [FIRST], "found by the rotation of content hashes (the row count is the same)"
    refused = materialize(instance, settings, FIRST)
    assert not refused.success


def test_a_query_with_the_version_as_a_parameter_reads_the_same_rows(database):
    columns = ", ".join(f'"{name}"' for name in database["first"].columns)
    order = ", ".join(f'"{name}"' for name in KEY)
    with DatabaseSource(
        database["engine"].url.render_as_string(hide_password=False),
        query=f"SELECT {columns} FROM rows WHERE dataset_version = :version ORDER BY {order}",
        versions_query="SELECT DISTINCT dataset_version FROM rows",
    ) as source:
        assert sorted(source.list_versions()) == ["broken", FIRST]
        version = source.read(FIRST)
        assert source.fingerprint(FIRST).identity == f"rows:{len(database['first'])}"
        assert source.content_hash(FIRST) == version.content_hash
        assert source.read("'; DROP TABLE rows; --").parts[0][1].empty, "the key is a parameter, never SQL"

    [(name, frame)] = version.parts
    assert name == "query"
    expected = database["first"].sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected, check_dtype=False)


def test_without_its_url_variable_the_database_source_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    with pytest.raises(ValueError, match=f"\\${URL_VARIABLE}"):
        data_source(database_settings(tmp_path, table="rentals"))
