"""The IO manager (io_managers.AtomicFilesystemIOManager): within a run, steps share the values one process stored or
loaded, no step modifies a shared value, and a file rewritten since is read again.

The pipeline runs in-process with the project's own definitions (build_definitions: its IO manager and its
in-process executor), on a real SQLite instance and MLflow store under `tmp_path`.
"""

import dataclasses
import os
import pickle

import dagster as dg
import pandas as pd

from mlops_assets import io_managers
from mlops_assets.alerts import Notifier
from mlops_assets.config import ProjectSettings
from mlops_assets.definitions import build_definitions
from mlops_assets.defs.jobs import INGESTION_ASSETS, MONITORING_ASSETS, TRAINING_ASSETS
from mlops_assets.demo.versions import land_version, monthly_snapshot
from mlops_assets.resources import MLflowTracking
from tests.conftest import FAST_SEARCH


def assert_same(kept, stored, where: str) -> None:
    """Equal values, DataFrames compared exactly (dtypes, index, order), dataclasses field by field."""
    if isinstance(stored, pd.DataFrame):
        pd.testing.assert_frame_equal(kept, stored, check_exact=True, obj=where)
    elif dataclasses.is_dataclass(stored):
        for field in dataclasses.fields(stored):
            assert_same(getattr(kept, field.name), getattr(stored, field.name), f"{where}.{field.name}")
    else:
        assert kept == stored, where


def run_version(defs: dg.Definitions, instance: dg.DagsterInstance, key: str, selection) -> str:
    result = defs.resolve_job_def("version_pipeline").execute_in_process(
        partition_key=key, instance=instance, asset_selection=selection
    )
    assert result.success
    return result.run_id


def test_the_steps_of_a_run_share_values_and_none_modifies_them(tmp_path, instance, bikeshare):
    state = tmp_path / "state"
    settings = ProjectSettings(data_dir=str(tmp_path / "data"), state_dir=str(state), search=FAST_SEARCH)
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{state.resolve() / 'mlflow.db'}", state_dir=str(state))
    defs = build_definitions(settings=settings, mlflow_tracking=tracking, notifier=Notifier())
    for key in ["2011-01", "2011-02"]:
        land_version(settings.versions_dir, key, monthly_snapshot(bikeshare, key))
    instance.add_dynamic_partitions("dataset_version", ["2011-01", "2011-02"])

    run_version(defs, instance, "2011-01", INGESTION_ASSETS + TRAINING_ASSETS)
    # Monitoring, training and scoring: raw_dataset is read by four steps, dataset_split by two.
    run_id = run_version(defs, instance, "2011-02", INGESTION_ASSETS + TRAINING_ASSETS + MONITORING_ASSETS)

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
