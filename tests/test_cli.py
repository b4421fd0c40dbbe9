"""The command lines the README shows, run as a user runs them, against a fresh instance in a temporary folder; and
the project's own commands, each of which names its model (--model) or dataset (--dataset) and answers a wrong or
missing name with the names there are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import source_versions
from mlops_assets.components.project import project_datasets, project_models
from mlops_assets.settings import PROJECT_ROOT
from tests.conftest import DATASET, MODEL, land, model_settings, subprocess_env

pytestmark = pytest.mark.slow

KEY, ROWS = source_versions(DATASET)[0]  # the test model's dataset's first version
RAW, FEATURES = MODEL.raw_key.to_user_string(), MODEL.key("feature_table").to_user_string()
# Exactly as in the README (the test checks they are there), run with the README's DAGSTER_HOME set.
LAUNCH = f"dg launch --assets {RAW},{FEATURES} --partition {KEY}"
LIST = "dagster asset list -m mlops_assets.definitions"
# Dagster's own command line, as docs/datasets.md shows it (there with the run config that re-ingests a version).
MATERIALIZE = f"dagster asset materialize -m mlops_assets.definitions --select {RAW},{FEATURES} --partition {KEY}"
# What `dagster asset list` shows of each model: retraining_decision is recorded by its sensor, not materialized.
MODEL_ASSETS = [
    "feature_table",
    "dataset_split",
    "candidate_model",
    "model_evaluation",
    "deployed_model",
    "batch_predictions",
    "model_monitoring",
]
MODELS, DATASETS = list(project_models()), list(project_datasets())


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    (state / "dagster.yaml").write_text((PROJECT_ROOT / "state" / "dagster.yaml").read_text())
    land(model_settings(tmp_path), {KEY: ROWS}, KEY)
    with dg.DagsterInstance.from_config(str(state)) as instance:
        instance.add_dynamic_partitions(DATASET.partitions_name, [KEY])  # what the dataset's version sensor does
    return subprocess_env(DAGSTER_HOME=str(state), MLOPS_STATE_DIR=str(state), MLOPS_DATA_DIR=str(tmp_path / "data"))


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    program, *args = command.split()
    return subprocess.run(
        [str(Path(sys.executable).with_name(program)), *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def run_module(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"mlops_assets.commands.{module}", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_readme_shows_the_commands_tested_here():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for command in (LAUNCH, LIST):
        assert command in readme, command
    datasets_doc = (PROJECT_ROOT / "docs" / "datasets.md").read_text()
    assert f"dagster asset materialize -m mlops_assets.definitions --select {RAW} --partition" in datasets_doc
    # The README's commands name their model or dataset, and say what a wrong name gets.
    assert f"python -m mlops_assets.commands.serving --model {MODEL.name}" in readme
    assert f"python -m mlops_assets.commands.champion --model {MODEL.name} status" in readme
    assert f"python -m mlops_assets.commands.landing --dataset {DATASET.name}" in readme
    assert "A wrong or missing `--model`/`--dataset` is answered with the names there are." in readme


@pytest.mark.parametrize("command", [MATERIALIZE, LAUNCH])
def test_a_partition_is_materialized_from_the_command_line(home, command):
    done = run(command, home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with dg.DagsterInstance.from_config(home["DAGSTER_HOME"]) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.tags["dagster/partition"] == KEY
        for asset in (MODEL.raw_key, MODEL.key("feature_table")):
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[KEY]), limit=1
            ).records
            assert found, asset
        # only what was selected: no other model's features, nothing downstream
        materialized = {
            key
            for key in instance.get_asset_keys()
            if instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
        }
        assert materialized == {MODEL.raw_key, MODEL.key("feature_table")}


def test_the_assets_of_every_dataset_and_model_are_listed(home):
    done = run(LIST, home)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = set(done.stdout.split())
    assert {f"{dataset}/raw_dataset" for dataset in DATASETS} <= listed
    for model in MODELS:
        assert {f"{model}/{asset}" for asset in MODEL_ASSETS} <= listed, model


# ----------------------------------------------------------------------------------------------------------
# Every command names its model or dataset
# ----------------------------------------------------------------------------------------------------------

MODELS_LISTED = f"the models are: {', '.join(MODELS)}"
WRONG_MODEL = [
    ("main", "--model", "no_such_model", "--versions", "1"),
    ("serving", "--model", "no_such_model"),
    ("champion", "--model", "no_such_model", "status"),
    ("champion", "--model", "no_such_model", "rollback"),
]


@pytest.fixture
def empty_home(tmp_path) -> dict[str, str]:
    """An environment whose instance, store and data are empty folders under tmp_path."""
    return subprocess_env(
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        MLOPS_STATE_DIR=str(tmp_path / "state"),
        MLOPS_DATA_DIR=str(tmp_path / "data"),
    )


@pytest.mark.parametrize("command", WRONG_MODEL, ids=[" ".join(c[:1] + c[3:4]) for c in WRONG_MODEL])
def test_a_wrong_model_name_is_an_error_listing_the_models(tmp_path, empty_home, command):
    module, *args = command
    done = run_module(module, *args, env=empty_home)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"there is no model 'no_such_model'; {MODELS_LISTED}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "state" / "mlflow.db").exists()  # nothing ran


@pytest.mark.parametrize("command", [("serving",), ("champion", "status")], ids=["serving", "champion status"])
def test_a_missing_model_name_is_an_error_listing_the_models_when_there_are_several(empty_home, command):
    module, *args = command
    done = run_module(module, *args, env=empty_home)

    assert done.returncode == 1, done.stdout + done.stderr
    if len(MODELS) > 1:
        assert f"no model was named; {MODELS_LISTED}" in done.stderr
    else:  # the one model: the command goes on (and finds no champion in the empty store)
        assert MODEL.model_name in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_dataset_name_is_an_error_listing_the_datasets(tmp_path, empty_home):
    done = run_module("landing", "--dataset", "no_such_dataset", "--to", str(tmp_path / "to"), env=empty_home)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"there is no dataset 'no_such_dataset'; the datasets are: {', '.join(DATASETS)}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "to").exists()


def test_landing_names_its_dataset_or_takes_the_only_one(tmp_path, empty_home):
    to = str(tmp_path / "a")
    named = run_module("landing", "--dataset", DATASET.name, "--versions", "1", "--to", to, env=empty_home)
    assert named.returncode == 0, named.stdout + named.stderr
    assert f"landed into {tmp_path / 'a'}: {KEY}" in named.stdout
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [KEY]

    unnamed = run_module("landing", "--versions", "1", "--to", str(tmp_path / "b"), env=empty_home)
    if len(DATASETS) > 1:
        assert unnamed.returncode == 1
        assert f"no dataset was named; the datasets are: {', '.join(DATASETS)}" in unnamed.stderr
    else:
        assert unnamed.returncode == 0, unnamed.stdout + unnamed.stderr
        assert re.search(rf"landed into {re.escape(str(tmp_path / 'b'))}: {re.escape(KEY)}$", unnamed.stdout.strip())
