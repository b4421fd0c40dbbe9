"""The main job end to end (`python -m mlops_assets.commands.main --versions 2`), with every folder in `tmp_path`.

It runs in a fresh interpreter: the code location builds its `ProjectSettings()` resource when
`mlops_assets.definitions` is first imported, so MLOPS_DATA_DIR and DAGSTER_HOME must be set before that import;
in this pytest process other test files have imported it already, pointing at the repository's data/ folder.

Every version trains (and may retrain) a model, so it is marked slow (it runs in CI all the same). The versions are
the configured cut's first two; the user's own versions are built from the first one's rows and the contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import source_versions
from mlops_assets.settings import ProjectSettings
from mlops_assets.infra.version_keys import version_sort_key
from tests.configured_data import a_break, swap_two_rows
from tests.conftest import subprocess_env

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ProjectSettings()
KEYS = [key for key, _ in source_versions(SETTINGS)[:2]]
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
        timeout=1200,
        check=False,
    )


def run_ids(home: Path) -> set[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {record.dagster_run.run_id for record in instance.get_run_records()}


@pytest.fixture(scope="module")
def two_invocations(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("main_job")
    first = run_main(tmp, "--versions", "2")
    runs_after_first = run_ids(tmp / "dagster_home")
    second = run_main(tmp, "--versions", "2")
    return tmp, first, runs_after_first, second


def test_main_lands_two_versions_and_runs_them_into_the_tmp_instance(two_invocations, versions):
    tmp, first, _, _ = two_invocations

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Dagster instance: {tmp / 'dagster_home'}" in first.stdout
    assert f"versions: {tmp / 'data' / 'versions'}" in first.stdout
    for key in KEYS:
        assert f"{key}: landed" in first.stdout
        assert f"run ingest:{key}: success" in first.stdout
    assert sorted(os.listdir(tmp / "data" / "versions")) == KEYS
    assert (tmp / "dagster_home" / "main_job_sensor_cursors.json").exists()

    with dg.DagsterInstance.from_config(str(tmp / "dagster_home")) as instance:
        assert sorted(instance.get_dynamic_partitions("dataset_version")) == KEYS
        for key in KEYS:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_dataset"), asset_partitions=[key]), limit=1
            ).records
            assert len(records) == 1
            row_count = records[0].asset_materialization.metadata["dagster/row_count"].value
            assert row_count == len(versions[key])
            runs = instance.get_run_records(
                dg.RunsFilter(
                    tags={"dagster/sensor_name": "dataset_version_sensor", "dagster/run_key": f"ingest:{key}"}
                )
            )
            assert [r.dagster_run.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]


def test_a_second_invocation_continues_and_runs_nothing_again(two_invocations):
    tmp, _, runs_after_first, second = two_invocations

    assert second.returncode == 0, second.stdout + second.stderr
    for key in KEYS:
        assert f"{key}: already there" in second.stdout
    assert " run " not in second.stdout
    assert run_ids(tmp / "dagster_home") == runs_after_first


def test_the_printed_table_is_what_the_instance_and_the_registry_hold(two_invocations):
    tmp, first, _, _ = two_invocations
    from mlops_assets.wiring.resources import MLflowTracking

    lines = first.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("version | rows"))
    columns = [c.strip() for c in lines[header].split("|")]
    rows = [dict(zip(columns, (c.strip() for c in line.split("|")), strict=True)) for line in lines[header + 2 :][:2]]
    assert [row["version"] for row in rows] == KEYS
    assert rows[0]["retrained"] == "yes: first version, no champion yet"
    promoted = [row["promoted"] for row in rows if row["promoted"].startswith("yes")]
    assert promoted, "the first version is always promoted"

    client = MLflowTracking(state_dir=str(tmp / "state")).client()
    champion = client.get_model_version_by_alias(SETTINGS.model_name, "champion").version
    assert promoted[-1] == f"yes (v{champion})"
    with dg.DagsterInstance.from_config(str(tmp / "dagster_home")) as instance:
        for row in rows:
            raw = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_dataset"), asset_partitions=[row["version"]]), limit=1
            ).records[0]
            assert int(row["rows"]) == raw.asset_materialization.metadata["dagster/row_count"].value


@pytest.fixture(scope="module")
def with_bad_data(two_invocations, versions):
    """A third invocation after a user landed two versions of their own (one breaks the contract) and edited an
    ingested version in place."""
    from mlops_assets.commands.landing import land

    tmp = two_invocations[0]
    root = tmp / "data" / "versions"
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


def test_the_table_covers_every_version_the_main_job_ran(with_bad_data, versions):
    _, third, _ = with_bad_data
    lines = third.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split("|")[0].strip() == "version")
    listed = [line.split("|")[0].strip() for line in lines[header + 2 :] if "|" in line]

    assert listed == sorted([*KEYS, "user-bad", "user-good"], key=version_sort_key)
    rows = {line.split("|")[0].strip(): line for line in lines[header + 2 :] if "|" in line}
    assert rows["user-good"].split("|")[1].strip() == str(len(versions[KEYS[0]]))
    assert rows["user-bad"].split("|")[1].strip() == "-"
