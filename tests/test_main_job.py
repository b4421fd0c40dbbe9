"""The main job end to end (`python -m mlops_assets.commands.main --versions 2`), with every folder in `tmp_path`.

It runs in a fresh interpreter: the code location builds its settings from MLOPS_DATA_DIR, MLOPS_STATE_DIR and
DAGSTER_HOME when `mlops_assets.definitions` is first imported, so they must be set before that import; in this
pytest process other test files have imported it already, pointing at the repository's data/ folder.

Every version trains (and may retrain) every model, so it is marked slow (it runs in CI all the same). The versions
are the test model's dataset's cut's first two; the user's own versions are built from the first one's rows and the
contract. It prints one table per model. `--model` runs one model; a model the instance has not served before
(here: every other one, on a second invocation without `--model`) trains on the dataset's newest ingested version.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import source_versions
from mlops_assets.components.project import project_models
from mlops_assets.infra.version_keys import version_sort_key
from mlops_assets.settings import ModelSettings
from tests.configured_data import a_break, swap_two_rows
from tests.conftest import DATASET, MODEL, subprocess_env

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = MODEL
# Every model of the test model's dataset (the main job runs them all by default), the test model first.
MODELS = [SETTINGS] + [m for m in project_models().values() if m.dataset.name == DATASET.name and m.name != MODEL.name]
OTHER_DATASETS = sorted({m.dataset.name for m in project_models().values()} - {DATASET.name})
KEYS = [key for key, _ in source_versions(DATASET)[:2]]
FILE = "rows.csv"  # the file name landing.land_version gives a version

pytestmark = pytest.mark.slow


def run_main(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env()
    env.update(
        DAGSTER_HOME=str(tmp / "dagster_home"),
        MLOPS_DATA_DIR=str(tmp / "data"),
        MLOPS_STATE_DIR=str(tmp / "state"),
    )
    code = "import sys\nfrom mlops_assets.commands.main import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def run_ids(home: Path) -> set[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {record.dagster_run.run_id for record in instance.get_run_records()}


def materialized_keys(home: Path) -> set[dg.AssetKey]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {
            key
            for key in instance.get_asset_keys()
            if instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
        }


def versions_dir(tmp: Path) -> Path:
    return tmp / "data" / DATASET.name / "versions"


def tables(stdout: str) -> dict[str, list[dict[str, str]]]:
    """The printed tables, by model: each under its heading `<model> (<task>, registered model <name>):`."""
    lines = stdout.splitlines()
    found = {}
    for i, line in enumerate(lines):
        name = line.split(" (", 1)[0]
        if not line.endswith(":") or " (" not in line or "registered model" not in line:
            continue
        header = lines[i + 1]
        assert header.split("|")[0].strip() == "version", header
        columns = [c.strip() for c in header.split("|")]
        rows = []
        for row in lines[i + 3 :]:
            if "|" not in row:
                break
            rows.append(dict(zip(columns, (c.strip() for c in row.split("|")), strict=True)))
        found[name] = rows
    return found


def heading(model: ModelSettings) -> str:
    return f"{model.name} ({model.task}, registered model {model.model_name}):"


@pytest.fixture(scope="module")
def two_invocations(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("main_job")
    if OTHER_DATASETS:
        pytest.skip(f"the project has models of other datasets ({OTHER_DATASETS}): the main job would run them too")
    first = run_main(tmp, "--versions", "2")
    runs_after_first = run_ids(tmp / "dagster_home")
    second = run_main(tmp, "--versions", "2")
    return tmp, first, runs_after_first, second


def test_main_lands_two_versions_and_runs_them_into_the_tmp_instance(two_invocations, versions):
    tmp, first, _, _ = two_invocations

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Dagster instance: {tmp / 'dagster_home'}" in first.stdout
    assert f"models: {', '.join(sorted(m.name for m in MODELS))}" in first.stdout
    assert f"{DATASET.name}: versions into {versions_dir(tmp)}" in first.stdout
    for key in KEYS:
        assert f"{DATASET.name} {key}: landed" in first.stdout
        assert f"run ingest:{key}: success" in first.stdout
    assert sorted(os.listdir(versions_dir(tmp))) == KEYS
    assert (tmp / "dagster_home" / "main_job_sensor_cursors.json").exists()

    with dg.DagsterInstance.from_config(str(tmp / "dagster_home")) as instance:
        assert sorted(instance.get_dynamic_partitions(DATASET.partitions_name)) == KEYS
        for key in KEYS:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=SETTINGS.raw_key, asset_partitions=[key]), limit=1
            ).records
            assert len(records) == 1
            row_count = records[0].asset_materialization.metadata["dagster/row_count"].value
            assert row_count == len(versions[key])
            runs = instance.get_run_records(
                dg.RunsFilter(
                    tags={"dagster/sensor_name": f"{DATASET.name}_version_sensor", "dagster/run_key": f"ingest:{key}"}
                )
            )
            assert [r.dagster_run.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
        # one ingestion for every model: each model's features of every version are there
        for model in MODELS:
            for key in KEYS:
                assert instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=model.key("feature_table"), asset_partitions=[key]), limit=1
                ).records, (model.name, key)


def test_a_second_invocation_continues_and_runs_nothing_again(two_invocations):
    tmp, _, runs_after_first, second = two_invocations

    assert second.returncode == 0, second.stdout + second.stderr
    for key in KEYS:
        assert f"{DATASET.name} {key}: already there" in second.stdout
    assert " run " not in second.stdout
    assert run_ids(tmp / "dagster_home") == runs_after_first


def test_one_table_per_model_is_printed_and_is_what_the_instance_and_the_registry_hold(two_invocations):
    tmp, first, _, _ = two_invocations
    from mlops_assets.wiring.resources import MLflowTracking

    printed = tables(first.stdout)
    assert list(printed) == [m.name for m in sorted(MODELS, key=lambda m: m.name)]  # one table each, in order
    client = MLflowTracking(state_dir=str(tmp / "state")).client()
    with dg.DagsterInstance.from_config(str(tmp / "dagster_home")) as instance:
        for model in MODELS:
            assert heading(model) in first.stdout
            rows = printed[model.name]
            assert [row["version"] for row in rows] == KEYS
            assert rows[0]["retrained"] == "yes: first version, no champion yet"
            promoted = [row["promoted"] for row in rows if row["promoted"].startswith("yes")]
            assert promoted, f"{model.name}: the first version is always promoted"
            champion = client.get_model_version_by_alias(model.model_name, "champion").version
            assert promoted[-1] == f"yes (v{champion})"
            for row in rows:
                raw = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=model.raw_key, asset_partitions=[row["version"]]), limit=1
                ).records[0]
                assert int(row["rows"]) == raw.asset_materialization.metadata["dagster/row_count"].value
                evaluation = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=model.key("model_evaluation"), asset_partitions=[row["version"]]),
                    limit=1,
                ).records
                assert (row["gates"] != "-") == bool(evaluation), (model.name, row)
    # Each table names its model's own metric: RMSE for a regression, ROC AUC for a classification.
    for model in MODELS:
        header = first.stdout.split(heading(model), 1)[1].strip().splitlines()[0]
        assert ("rmse" if model.task == "regression" else "roc_auc") in header, header


@pytest.fixture(scope="module")
def with_bad_data(two_invocations, versions):
    """A third invocation after a user landed two versions of their own (one breaks the contract) and edited an
    ingested version in place."""
    from mlops_assets.commands.landing import land

    tmp = two_invocations[0]
    root = versions_dir(tmp)
    first, bad = versions[KEYS[0]], a_break()
    broken = bad.apply(first, 3)
    land(root, "user-good", lambda folder: first.to_csv(folder / FILE, index=False))
    land(root, "user-bad", lambda folder: broken.to_csv(folder / FILE, index=False))
    [edited] = (root / KEYS[0]).glob("*.csv")
    edited.write_bytes(swap_two_rows(edited.read_bytes()))  # the same rows, in another order
    return tmp, run_main(tmp, "--versions", "2"), bad


def test_a_data_error_prints_the_clear_message_without_a_stack_trace_and_exits_non_zero(with_bad_data):
    _, third, bad = with_bad_data
    out = third.stdout

    assert third.returncode == 1, out + third.stderr
    assert "run ingest:user-bad: failure" in out
    assert "raw_dataset: " in out and FILE in out and bad.column in out and bad.check in out
    assert f"run verify:{KEYS[0]}:" in out
    assert f"'{KEYS[0]}' changed after it was ingested" in out and "land the changed data as a new version" in out
    assert "2 error(s)" in out
    for trace in ("Traceback", 'File "', "dagster._core"):
        assert trace not in out + third.stderr, f"a stack trace is printed:\n{out}\n{third.stderr}"


def test_every_models_table_covers_every_version_the_main_job_ran(with_bad_data, versions):
    _, third, _ = with_bad_data
    printed = tables(third.stdout)

    assert set(printed) == {m.name for m in MODELS}
    for model in MODELS:
        rows = {row["version"]: row for row in printed[model.name]}
        assert list(rows) == sorted([*KEYS, "user-bad", "user-good"], key=version_sort_key), model.name
        assert rows["user-good"]["rows"] == str(len(versions[KEYS[0]]))
        assert rows["user-bad"]["rows"] == "-"


# ----------------------------------------------------------------------------------------------------------
# One model, then every model: the others train on the newest version
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_model_then_all(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("main_job_one_model")
    one = run_main(tmp, "--model", SETTINGS.name, "--versions", "1")
    after_one = materialized_keys(tmp / "dagster_home")
    if len(MODELS) == 1 or OTHER_DATASETS:
        return one, after_one, None
    return one, after_one, run_main(tmp, "--versions", "1")


def test_the_model_option_runs_that_model_only_and_prints_its_table(one_model_then_all):
    one, materialized, _ = one_model_then_all

    assert one.returncode == 0, one.stdout + one.stderr
    assert f"models: {SETTINGS.name}\n" in one.stdout
    assert list(tables(one.stdout)) == [SETTINGS.name]
    assert heading(SETTINGS) in one.stdout
    [row] = tables(one.stdout)[SETTINGS.name]
    assert row["version"] == KEYS[0] and row["promoted"].startswith("yes")
    assert SETTINGS.key("deployed_model") in materialized
    assert {key.path[0] for key in materialized} == {DATASET.name, SETTINGS.name}  # no other model's assets


def test_models_new_to_the_instance_train_on_the_newest_version_and_the_others_run_nothing_again(one_model_then_all):
    _, _, everyone = one_model_then_all
    if everyone is None:
        pytest.skip("the project has one model (or models of other datasets)")

    assert everyone.returncode == 0, everyone.stdout + everyone.stderr
    assert f"{DATASET.name} {KEYS[0]}: already there" in everyone.stdout
    others = [m for m in MODELS if m.name != SETTINGS.name]
    for model in others:
        assert f"run adopt:{model.name}:{KEYS[0]}: success" in everyone.stdout
    runs = [line.split("run ", 1)[1].split(":", 1)[0] for line in everyone.stdout.splitlines() if " run " in line]
    assert runs == ["adopt"] * len(others)  # no ingestion again, nothing for the model that had its version
    printed = tables(everyone.stdout)
    assert set(printed) == {m.name for m in MODELS}
    for model in others:
        [row] = printed[model.name]
        assert row["version"] == KEYS[0] and row["promoted"].startswith("yes"), row
