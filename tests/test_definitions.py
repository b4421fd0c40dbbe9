"""The code location loads light, shows every asset in its group, and works with `dg` as Dagster projects do."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.contracts import RawData
from mlops_assets.wiring import column_schemas
from tests.conftest import subprocess_env

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
    assert spec.description and "RawData" in spec.description
    assert spec.partitions_def is not None and spec.partitions_def.name == "dataset_version"
    schema = spec.metadata["dagster/column_schema"]
    if isinstance(schema, dg.TableSchemaMetadataValue):
        schema = schema.schema
    assert [c.name for c in schema.columns] == list(RawData.to_schema().columns)


GROUPS = {
    "ingestion": {"raw_dataset"},
    "features": {"feature_table", "dataset_split"},
    "training": {"candidate_model"},
    "evaluation": {"model_evaluation"},
    "deployment": {"deployed_model", "batch_predictions"},
    "monitoring": {"model_monitoring", "retraining_decision"},
}


def test_the_six_stages_are_groups_holding_every_asset_the_readme_names(defs):
    groups: dict[str, set[str]] = {}
    for spec in defs.resolve_all_asset_specs():
        groups.setdefault(spec.group_name, set()).add(spec.key.to_user_string())
    assert groups == GROUPS
    readme = (REPO_ROOT / "README.md").read_text()
    for asset in set().union(*GROUPS.values()):
        assert f"`{asset}`" in readme, asset


def test_every_asset_has_a_group_a_code_version_kinds_a_description_an_owner_and_tags(defs):
    # The design asks for these on every asset; "default" means a group was forgotten.
    for spec in defs.resolve_all_asset_specs():
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.code_version, spec.key
        assert spec.kinds, spec.key
        assert spec.description, spec.key
        assert spec.owners, spec.key
        assert spec.tags.get("stage") == spec.group_name, spec.key


def test_the_retraining_decision_is_on_the_lineage_graph_below_monitoring(defs):
    graph = defs.resolve_asset_graph()
    decision = dg.AssetKey("retraining_decision")
    assert decision in graph.get_all_asset_keys()
    assert graph.get(decision).parent_keys == {dg.AssetKey("model_monitoring")}


def test_dataset_version_sensor_targets_a_job_that_materializes_raw_dataset(defs):
    sensor = defs.resolve_sensor_def("dataset_version_sensor")
    job = defs.resolve_job_def(sensor.job_name)

    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert dg.AssetKey("raw_dataset") in job.asset_layer.selected_asset_keys


def heavy_modules_after(imports: str, heavy: set[str]) -> set[str]:
    """The top-level packages of `heavy` that a fresh Python process has imported after running `imports`."""
    code = f"import sys\n{imports}\nprint(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r})))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(filter(None, done.stdout.strip().split(",")))


def test_importing_the_definitions_does_not_import_the_data_or_ml_stack():
    stack = {"sklearn", "scipy", "mlflow", "pandas", "numpy", "pyarrow", "pandera", "dagster_pandera"}
    assert heavy_modules_after("import mlops_assets.definitions", stack) == set()


def test_stage_modules_import_no_ml_library_until_a_function_needs_it():
    """Every step process re-imports the code: scikit-learn, SciPy, matplotlib and MLflow load only when used."""
    imports = (
        "import importlib, pkgutil\n"
        "import mlops_assets.stages as stages\n"
        "for module in pkgutil.iter_modules(stages.__path__):\n"
        "    importlib.import_module(f'mlops_assets.stages.{module.name}')"
    )
    assert heavy_modules_after(imports, {"sklearn", "scipy", "matplotlib", "mlflow", "skops"}) == set()


def test_the_committed_column_schemas_are_current():
    """column_schemas.json must match contracts.py and config.py; otherwise every load rebuilds them (slower)."""
    stale = "mlops_assets/wiring/column_schemas.json is stale: run `python -m mlops_assets.wiring.column_schemas`"
    assert column_schemas._cached_schemas(), stale
    for name in column_schemas.CONTRACT_NAMES:
        assert column_schemas._cached_schemas()[name] == column_schemas.build(column_schemas._contract(name)), stale


def test_a_changed_contract_is_never_shown_with_stale_columns(tmp_path, monkeypatch):
    contracts_file, config_file = column_schemas.SOURCE_FILES
    edited = tmp_path / "contracts.py"
    edited.write_text(contracts_file.read_text() + "\n# a forker's edit\n")
    monkeypatch.setattr(column_schemas, "SOURCE_FILES", (edited, config_file))
    column_schemas._cached_schemas.cache_clear()
    column_schemas.column_schema.cache_clear()
    try:
        assert column_schemas._cached_schemas() == {}
        assert column_schemas.column_schema("RawData") == column_schemas.build(RawData)
    finally:
        column_schemas._cached_schemas.cache_clear()
        column_schemas.column_schema.cache_clear()


@pytest.mark.slow
def test_dg_scaffolds_an_asset_into_the_defs_folder_and_loads_it(tmp_path):
    """`dg scaffold defs dagster.asset` writes into mlops_assets/defs/ and the new asset joins the code location."""
    project = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "state", "data", "__pycache__", "*.egg-info")
    )
    (project / "state").mkdir()
    env = subprocess_env(PYTHONPATH=str(project))  # the copy, not the installed checkout
    dg_command = str(Path(sys.executable).with_name("dg"))
    scaffolded = subprocess.run(
        [dg_command, "scaffold", "defs", "dagster.asset", "my_new_asset.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    assert (project / "mlops_assets" / "defs" / "my_new_asset.py").is_file()
    listed = subprocess.run(
        [dg_command, "list", "defs", "--json"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr
    assets = {asset["asset_key"] for asset in json.loads(listed.stdout)["assets"]}
    assert assets == set().union(*GROUPS.values()) | {"my_new_asset"}
