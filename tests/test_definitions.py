"""The code location loads light, shows every asset in its group, and works with `dg` as Dagster projects do."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components.project import project_datasets, project_models
from mlops_assets.wiring import column_schemas
from tests.conftest import subprocess_env

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = project_models()
DATASETS = project_datasets()
# Every model's assets, under its name; every dataset's ingestion, under its name.
MODEL_ASSETS = {
    "feature_table": "features",
    "dataset_split": "features",
    "candidate_model": "training",
    "model_evaluation": "evaluation",
    "deployed_model": "deployment",
    "batch_predictions": "deployment",
    "model_monitoring": "monitoring",
    "retraining_decision": "monitoring",
}
GROUPS = {
    **{name: {f"{name}/{asset}" for asset in MODEL_ASSETS} for name in MODELS},
    **{name: {f"{name}/raw_dataset"} for name in DATASETS},
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from mlops_assets.definitions import defs

    return defs


def specs_by_key(defs) -> dict[str, dg.AssetSpec]:
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_definitions_are_loadable(defs):
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    keys = repository.asset_graph.get_all_asset_keys()
    for dataset in DATASETS.values():
        assert dg.AssetKey([dataset.name, "raw_dataset"]) in keys
    for model in MODELS.values():
        assert model.key("model_evaluation") in keys


def test_raw_dataset_is_described_grouped_versioned_and_carries_the_contract(defs):
    for dataset in DATASETS.values():
        spec = specs_by_key(defs)[f"{dataset.name}/raw_dataset"]
        assert spec.group_name == dataset.name
        assert spec.tags["stage"] == "ingestion"
        assert spec.code_version
        assert spec.description and dataset.contract in spec.description
        assert spec.partitions_def is not None and spec.partitions_def.name == f"{dataset.name}_versions"
        schema = spec.metadata["dagster/column_schema"]
        if isinstance(schema, dg.TableSchemaMetadataValue):
            schema = schema.schema
        assert [c.name for c in schema.columns] == list(dataset.raw_contract().to_schema().columns)


def test_a_group_per_model_holds_its_pipeline_and_the_readme_names_every_asset(defs):
    groups: dict[str, set[str]] = {}
    for spec in defs.resolve_all_asset_specs():
        groups.setdefault(spec.group_name, set()).add(spec.key.to_user_string())
    assert groups == GROUPS
    readme = (REPO_ROOT / "README.md").read_text()
    for asset in [*MODEL_ASSETS, "raw_dataset"]:
        assert f"`{asset}`" in readme, asset


def test_every_asset_has_a_group_a_code_version_kinds_a_description_an_owner_and_tags(defs):
    # The design asks for these on every asset; "default" means a group was forgotten.
    for key, spec in specs_by_key(defs).items():
        owner, asset = key.split("/")
        assert spec.group_name == owner, key
        assert spec.code_version, key
        assert spec.kinds, key
        assert spec.description, key
        assert spec.owners, key
        assert spec.tags.get("stage") == MODEL_ASSETS.get(asset, "ingestion"), key
        if owner in MODELS:
            assert spec.tags["model"] == owner and spec.tags["dataset"] == MODELS[owner].dataset.name, key
            assert spec.partitions_def.name == MODELS[owner].dataset.partitions_name, key


def test_each_model_reads_its_dataset_and_has_its_own_registered_model(defs):
    graph = defs.resolve_asset_graph()
    for model in MODELS.values():
        assert graph.get(model.key("feature_table")).parent_keys == {model.raw_key}
        assert graph.get(model.key("retraining_decision")).parent_keys == {model.key("model_monitoring")}
        assert model.model_name in specs_by_key(defs)[f"{model.name}/deployed_model"].description
    assert len({model.model_name for model in MODELS.values()}) == len(MODELS)


def test_each_dataset_sensor_targets_its_job_with_every_model_on_it_and_each_model_has_a_retraining_sensor(defs):
    for dataset in DATASETS.values():
        sensor = defs.resolve_sensor_def(f"{dataset.name}_version_sensor")
        job = defs.resolve_job_def(sensor.job_name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        selected = job.asset_layer.selected_asset_keys
        assert dg.AssetKey([dataset.name, "raw_dataset"]) in selected
        for model in MODELS.values():
            assert (model.key("candidate_model") in selected) == (model.dataset.name == dataset.name)
    for model in MODELS.values():
        sensor = defs.resolve_sensor_def(f"{model.name}_retraining_sensor")
        assert sensor.job_name == f"{model.dataset.name}_pipeline"


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
    """column_schemas.json must match every contract and feature module; otherwise every load rebuilds them."""
    stale = "mlops_assets/wiring/column_schemas.json is stale: run `python -m mlops_assets.commands.column_schemas`"
    datasets, models = list(DATASETS.values()), list(MODELS.values())
    assert column_schemas.stale_entries(datasets, models) == [], stale
    for dataset in datasets:
        assert column_schemas.raw_schema(dataset) == column_schemas.build(dataset.raw_contract()), stale
    for model in models:
        assert column_schemas.features_schema(model) == column_schemas.build(model.feature_code().Features), stale


def test_a_changed_contract_is_never_shown_with_stale_columns(monkeypatch):
    dataset = next(iter(DATASETS.values()))
    module_bytes = column_schemas._module_bytes
    monkeypatch.setattr(column_schemas, "_module_bytes", lambda path: module_bytes(path) + b"\n# a forker's edit\n")
    assert column_schemas.stale_entries([dataset], []) == [f"raw:{dataset.contract}"]
    assert column_schemas.raw_schema(dataset) == column_schemas.build(dataset.raw_contract())


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
