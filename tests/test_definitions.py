"""The code location loads, and the ingestion asset and sensor are what the UI should show."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets import column_schemas, contracts
from mlops_assets.contracts import RawRentals

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from mlops_assets.definitions import defs

    return defs


def test_definitions_are_loadable(defs):
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert dg.AssetKey("raw_dataset") in repository.asset_graph.get_all_asset_keys()


def test_raw_dataset_is_described_grouped_versioned_and_carries_the_contract(defs):
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("raw_dataset"))

    assert spec.group_name == "ingestion"
    assert spec.code_version
    assert spec.description and "RawRentals" in spec.description
    assert spec.partitions_def is not None and spec.partitions_def.name == "dataset_version"
    schema = spec.metadata["dagster/column_schema"]
    if isinstance(schema, dg.TableSchemaMetadataValue):
        schema = schema.schema
    assert [c.name for c in schema.columns] == list(RawRentals.to_schema().columns)


def test_every_asset_has_a_group_a_code_version_kinds_and_a_description(defs):
    # The design asks for these on every asset; "default" means a group was forgotten.
    for spec in defs.resolve_all_asset_specs():
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.code_version, spec.key
        assert spec.kinds, spec.key
        assert spec.description, spec.key


def test_dataset_version_sensor_targets_a_job_that_materializes_raw_dataset(defs):
    sensor = defs.resolve_sensor_def("dataset_version_sensor")
    job = defs.resolve_job_def(sensor.job_name)

    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert dg.AssetKey("raw_dataset") in job.asset_layer.selected_asset_keys


def test_importing_the_definitions_does_not_import_the_data_or_ml_stack():
    code = (
        "import sys\n"
        "import mlops_assets.definitions\n"
        "stack = {'sklearn', 'scipy', 'mlflow', 'pandas', 'numpy', 'pyarrow', 'pandera', 'dagster_pandera'}\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & stack)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at load time: {done.stdout.strip()}"


def test_the_committed_column_schemas_are_current():
    """column_schemas.json must match contracts.py; otherwise every load rebuilds them from Pandera (slower)."""
    stale = "mlops_assets/column_schemas.json is stale: run `python -m mlops_assets.column_schemas`"
    assert column_schemas._cached_schemas(), stale
    for name in column_schemas.CONTRACT_NAMES:
        assert column_schemas._cached_schemas()[name] == column_schemas.build(getattr(contracts, name)), stale


def test_a_changed_contract_is_never_shown_with_stale_columns(tmp_path, monkeypatch):
    edited = tmp_path / "contracts.py"
    edited.write_text(column_schemas.CONTRACTS_FILE.read_text() + "\n# a forker's edit\n")
    monkeypatch.setattr(column_schemas, "CONTRACTS_FILE", edited)
    column_schemas._cached_schemas.cache_clear()
    column_schemas.column_schema.cache_clear()
    try:
        assert column_schemas._cached_schemas() == {}
        assert column_schemas.column_schema("RawRentals") == column_schemas.build(RawRentals)
    finally:
        column_schemas._cached_schemas.cache_clear()
        column_schemas.column_schema.cache_clear()
