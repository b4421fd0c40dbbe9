"""The IO manager (io_managers.AtomicFilesystemIOManager): within a run, steps share the values one process stored or
loaded, no step modifies a shared value, and a file rewritten since is read again; values round-trip under a folder,
a file:// URL and an object store (fsspec's in-memory one), and a writer killed before the rename loses nothing.

The pipeline runs in-process with the project's own definitions (build_definitions: its IO manager and its
in-process executor), on a real SQLite instance and MLflow store under `tmp_path`.
"""

import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import uuid

import dagster as dg
import pandas as pd
import pytest
from upath import UPath

from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.wiring import io_managers
from mlops_assets.wiring.jobs import ingestion_selection, monitoring_selection, training_selection
from tests.conftest import land, make_project, pipeline_job, subprocess_env


def assert_same(kept, stored, where: str) -> None:
    """Equal values, DataFrames compared exactly (dtypes, index, order), dataclasses field by field."""
    if isinstance(stored, pd.DataFrame):
        pd.testing.assert_frame_equal(kept, stored, check_exact=True, obj=where)
    elif dataclasses.is_dataclass(stored):
        for field in dataclasses.fields(stored):
            assert_same(getattr(kept, field.name), getattr(stored, field.name), f"{where}.{field.name}")
    else:
        assert kept == stored, where


def run_version(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, key: str, selection) -> str:
    result = defs.resolve_job_def(job).execute_in_process(
        partition_key=key, instance=instance, asset_selection=selection
    )
    assert result.success
    return result.run_id


def test_the_steps_of_a_run_share_values_and_none_modifies_them(tmp_path, instance, versions, keys):
    project = make_project(tmp_path)
    settings = project.settings
    defs = build_definitions(models=[settings], mlflow_tracking=project.tracking, notifier=Notifier())
    job = pipeline_job(settings)
    first, second = keys[:2]
    land(settings, versions, first, second)
    instance.add_dynamic_partitions(settings.dataset.partitions_name, [first, second])

    ingestion, training = ingestion_selection(settings), training_selection(settings)
    run_version(defs, job, instance, first, ingestion + training)
    # Monitoring, training and scoring: raw_dataset is read by four steps, dataset_split by two.
    monitoring = [key for key in monitoring_selection(settings) if key not in training]
    run_id = run_version(defs, job, instance, second, ingestion + training + monitoring)

    kept = io_managers._run_values[run_id]
    assets = {path.parent.name for path in kept}
    assert {"raw_dataset", "feature_table", "dataset_split", "candidate_model", "model_evaluation"} <= assets
    for path, (_, value) in kept.items():
        with path.open("rb") as file:
            assert_same(value, pickle.load(file), f"{path.parent.name}[{path.name}]")


def test_a_value_is_read_from_its_file_again_once_the_file_was_rewritten(tmp_path):
    path = tmp_path / "raw_dataset" / "2011-01"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps("first"))
    io_managers._keep("run-1", path, "first")
    assert io_managers._kept("run-1", path) == "first"

    replacement = tmp_path / "raw_dataset" / ".2011-01.tmp"
    replacement.write_bytes(pickle.dumps("second"))
    os.replace(replacement, path)  # what another process's handle_output does

    assert io_managers._kept("run-1", path) is None
    assert io_managers._kept("run-2", path) is None, "another run never gets this run's values"


# ----------------------------------------------------------------------------------------------------------
# Any filesystem by configuration: a folder, a file:// URL, object storage (fsspec's in-memory store here;
# s3:// and gs:// take the same code path but cannot be reached from this machine, so they are not tested)
# ----------------------------------------------------------------------------------------------------------

VERSIONS = dg.StaticPartitionsDefinition(["v1", "v2"])


@dg.asset(partitions_def=VERSIONS)
def numbers(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return pd.DataFrame({"version": [context.partition_key] * 3, "n": [1, 2, 3]})


@dg.asset(partitions_def=VERSIONS)
def total(numbers: pd.DataFrame) -> int:
    return int(numbers["n"].sum())


def base_dirs(tmp_path) -> dict[str, str]:
    return {
        "folder": str(tmp_path / "assets"),
        "file_url": (tmp_path / "assets").as_uri(),
        "object_store": f"memory://mlops-test-{uuid.uuid4().hex}/assets",
    }


@pytest.mark.parametrize("kind", ["folder", "file_url", "object_store"])
def test_values_are_stored_and_read_back_under_any_base_path(tmp_path, kind):
    base = base_dirs(tmp_path)[kind]
    io_manager = io_managers.AtomicFilesystemIOManager(base_dir=base)

    with dg.instance_for_test() as instance:
        both = dg.materialize(
            [numbers, total], partition_key="v2", instance=instance, resources={"io_manager": io_manager}
        )
        assert both.success
        # a later run reads the stored value (not a value kept by the run that stored it)
        again = dg.materialize(
            [numbers, total],
            selection=[total],
            partition_key="v2",
            instance=instance,
            resources={"io_manager": io_manager},
        )
        assert again.success and again.output_for_node("total") == 6

    stored = UPath(base) / "numbers" / "v2"
    assert stored.exists() and (UPath(base) / "total" / "v2").exists()
    with stored.open("rb") as file:
        pd.testing.assert_frame_equal(pickle.load(file), both.output_for_node("numbers"))
    (materialization,) = both.asset_materializations_for_node("numbers")
    assert materialization.metadata["path"].value == str(stored)
    # nothing but the values: no temporary files left behind
    assert sorted(p.name for p in (UPath(base) / "numbers").iterdir()) == ["v2"]


def test_a_partition_key_is_one_path_segment_inside_its_assets_folder(tmp_path):
    manager = io_managers.AtomicFilesystemIOManager(base_dir=str(tmp_path)).create_io_manager(None)
    base = UPath(tmp_path) / "raw_dataset"
    assert manager.make_safe_partition_path(base, "2011-01") == base / "2011-01"  # valid keys are kept as they are
    for key in ["a/b", "..", "../other", "/etc/passwd", "."]:
        path = manager.make_safe_partition_path(base, key)
        assert path.parent == base, key


KILLED_WRITER = """
import sys, dagster as dg
from mlops_assets.wiring.io_managers import AtomicFilesystemIOManager

@dg.asset
def value() -> str:
    return sys.argv[2]

dg.materialize([value], resources={"io_manager": AtomicFilesystemIOManager(base_dir=sys.argv[1])})
"""


def test_a_writer_killed_before_the_rename_leaves_the_previous_value_under_a_file_url(tmp_path):
    base = (tmp_path / "assets").as_uri()

    def write(text: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", KILLED_WRITER, base, text],
            env=subprocess_env(DAGSTER_HOME=str(tmp_path), **env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert write("first").returncode == 0
    killed = write("second", MLOPS_KILL_AT="io_manager.before_rename")

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    stored = tmp_path / "assets" / "value"
    assert pickle.loads(stored.read_bytes()) == "first"
    assert write("third").returncode == 0
    assert pickle.loads(stored.read_bytes()) == "third"
