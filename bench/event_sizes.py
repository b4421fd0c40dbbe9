"""Bytes per event row of the evaluation and monitoring materializations, as the instance stores them.

    .venv/bin/python bench/event_sizes.py [--out FILE]

Three dataset versions through the dataset's pipeline job (`bikeshare_pipeline`, with the measured model alone:
bench/bench_model.py; in process, a SQLite instance and MLflow store in a temporary folder, a small search budget);
for each materialization of bike_rentals/model_evaluation and bike_rentals/model_monitoring, the length of its
serialized EventLogEntry: exactly what Dagster writes into the `event` column of `event_logs` (SQLite or
PostgreSQL alike). The plots are the bulk of these events when they are inline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder

import dagster as dg
from bench_model import bench_model
from results import emit

from mlops_assets.commands.landing import land_version, source_versions
from mlops_assets.definitions import build_definitions
from mlops_assets.settings import SearchSettings
from mlops_assets.wiring.jobs import pipeline_job_name
from mlops_assets.wiring.resources import MLflowTracking

SMALL_SEARCH = SearchSettings(n_iter=2, cv_folds=2)
SMALL_SPACE = {"max_iter": [50], "learning_rate": [0.1], "max_leaf_nodes": [15]}
ASSETS = ("model_evaluation", "model_monitoring")


def measure(root: Path, versions: int = 3) -> dict:
    base = bench_model()
    estimator = base.estimator.model_copy(update={"search_space": SMALL_SPACE})
    settings = bench_model(
        data_dir=str(root / "data"), state_dir=str(root / "state"), search=SMALL_SEARCH, estimator=estimator
    )
    dataset = settings.dataset
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{root / 'state' / 'mlflow.db'}", state_dir=str(root / "state"))
    defs = build_definitions(models=[settings], mlflow_tracking=tracking)
    job = defs.resolve_job_def(pipeline_job_name(dataset))
    (root / "home").mkdir()
    sizes: dict[str, list[int]] = {asset: [] for asset in ASSETS}
    with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
        for key, rows in source_versions(dataset)[:versions]:
            land_version(dataset.versions_dir, key, rows)
            instance.add_dynamic_partitions(dataset.partitions_name, [key])
            assert job.execute_in_process(instance=instance, partition_key=key).success
        for asset in ASSETS:
            records = instance.fetch_materializations(settings.key(asset), limit=100).records
            sizes[asset] = [len(dg.serialize_value(record.event_log_entry)) for record in records]
    return {asset: {"bytes": sorted(values), "max": max(values, default=0)} for asset, values in sizes.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    parser.add_argument("--versions", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        return emit(measure(Path(folder), args.versions), args.out)


if __name__ == "__main__":
    sys.exit(main())
