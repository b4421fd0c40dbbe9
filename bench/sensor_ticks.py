"""One tick of each sensor with many existing dataset versions: the time of the sensor's evaluation.

    .venv/bin/python bench/sensor_ticks.py --existing 1000 10000 --new 5 --reps 5 --out ticks.json

The measured model's sensors (bench/bench_model.py): its dataset's `bikeshare_version_sensor` (made by
`dataset_version_sensor`, for that one model) and `bike_rentals_retraining_sensor` (made by `retraining_sensor`);
the results keep the factories' names. For each number of existing versions, in a temporary folder: that many
version folders (one small CSV each) that are already partitions and already in the sensor's cursor, then `--new`
folders landed since. The dataset's sensor is evaluated with `build_sensor_context` (which does not apply its
partition requests, so every repetition sees the same new folders), once cold (first call in the process: imports
MLflow to ask for a champion) and `--reps` times warm, as the daemon's long-lived code server evaluates it; and
`--reps` times with nothing new, the last landing a minute old (the folders' mtimes are set back a minute, so that
the new ones are settled and the sensor trusts its last listing). The retraining sensor likewise: that many
`bike_rentals/model_monitoring` materializations already read (its cursor is after them) and `--new` new ones.
Results are JSON seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder

from bench_model import bench_model
from results import emit


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def version_sensor_case(root: Path, existing: int, new: int, reps: int, store: Path) -> dict:
    import dagster as dg

    from mlops_assets.infra.sources import data_source
    from mlops_assets.infra.sources.scanning import CHANGE_CHECKS_PER_TICK, HASH_CHECKS_PER_TICK, scan_versions
    from mlops_assets.wiring.resources import MLflowTracking
    from mlops_assets.wiring.sensors.dataset_versions import dataset_version_sensor

    model = bench_model(data_dir=str(root / "data"), state_dir=str(store))
    dataset = model.dataset
    sensor = dataset_version_sensor(dataset, [model])
    partitions = dataset.partitions_name
    tracking = MLflowTracking(state_dir=str(store), tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    versions = dataset.versions_dir
    row = "season,mnth,day,hr\n1,Jan,1,0\n"  # the sensor only looks at names, sizes and times (and hashes 2)
    started = time.perf_counter()
    keys = [f"v{i:06d}" for i in range(existing)]
    for key in keys:
        (versions / key).mkdir(parents=True)
        (versions / key / "rentals.csv").write_text(row)
    source = data_source(dataset)
    # Every one seen already, and the model served already (as in a sensor's cursor after its first ticks).
    cursor = json.dumps({**scan_versions(source, {}, existing_partitions=set).cursor, "models": [model.name]})
    minute_ago = time.time() - 60
    for i in range(new):
        folder = versions / f"new{i:03d}"
        folder.mkdir(parents=True)
        (folder / "rentals.csv").write_text(row)
        for path in (folder / "rentals.csv", folder):  # copied a minute ago: settled (the quiet period is 30 s)
            os.utime(path, (minute_ago, minute_ago))
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        instance.add_dynamic_partitions(partitions, keys)
        setup = time.perf_counter() - started
        resources = {"mlflow_tracking": tracking}

        def tick(cursor=cursor):
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            assert len(result.run_requests) == (new if cursor == cursor_with_new else 0), result
            return result

        cursor_with_new = cursor
        cold = _timed(tick)
        warm = [_timed(tick) for _ in range(reps)]
        # A tick with nothing new, in the steady state: the last version landed a minute ago, so the sensor trusts
        # its last listing of the folder for as long as the folder's mtime stays put (dataset_versions.RACY_MTIME_NS).
        os.utime(versions, (minute_ago, minute_ago))
        after = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
        instance.add_dynamic_partitions(partitions, [f"new{i:03d}" for i in range(new)])
        idle = [_timed(lambda: tick(after.cursor)) for _ in range(reps)]
        # The parts of an idle tick, and what a tick costs when the folder's mtime moved (a landing): a listing.
        idle_cursor = json.loads(after.cursor)
        relisted = {**idle_cursor, "listed_mtime": None}
        parts = {
            "read and write the cursor (JSON)": lambda: json.dumps(json.loads(after.cursor)),
            f"re-check {CHANGE_CHECKS_PER_TICK} versions for changed files": lambda: scan_versions(source, idle_cursor),
            f"... and hash the content of {HASH_CHECKS_PER_TICK} ingested versions": lambda: scan_versions(
                source, idle_cursor, recorded_hash=lambda key: "recorded"
            ),
            "after a landing: list the folder as well": lambda: scan_versions(source, relisted),
        }
        idle_parts = {name: statistics.median(_timed(part) for _ in range(reps)) for name, part in parts.items()}
    return {"setup_s": setup, "cold_s": cold, "warm_s": warm, "idle_s": idle, "idle_parts_s": idle_parts}


def retraining_sensor_case(root: Path, existing: int, new: int, reps: int, store: Path) -> dict:
    import dagster as dg

    from mlops_assets.stages.monitoring import MONITORED, MonitoringResult
    from mlops_assets.wiring.sensors.retraining import retraining_sensor

    model = bench_model(data_dir=str(root / "data"), state_dir=str(root / "state"))
    sensor = retraining_sensor(model)
    partitions = model.dataset.partitions_name
    monitoring_key = model.key("model_monitoring")

    def monitoring_result(key: str, i: int) -> dg.AssetMaterialization:
        """A <model>/model_monitoring materialization as the asset records it (MonitoringResult.to_metadata)."""
        degraded = i % 7 == 0
        result = MonitoringResult(
            status=MONITORED,
            champion_version="1",
            rows=500,
            metric="rmse",
            realized=100.0 + i % 13,
            evaluated=95.0,
            relative_change=0.2 if degraded else 0.05,
            degraded=degraded,
            drifted_share=0.1,
        )
        return dg.AssetMaterialization(asset_key=monitoring_key, partition=key, metadata=result.to_metadata())

    started = time.perf_counter()
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        keys = [f"v{i:06d}" for i in range(existing)]
        instance.add_dynamic_partitions(partitions, keys)
        for i, key in enumerate(keys):
            instance.report_runless_asset_event(monitoring_result(key, i))
        last = instance.fetch_materializations(monitoring_key, limit=1).records[0].storage_id
        history = [
            {"version": key, "degraded": False, "dataset_drift": False, "retrained": False, "at": 0.0}
            for key in keys[-51:]
        ]
        cursor = json.dumps({"after_storage_id": last, "history": history})
        new_keys = [f"new{i:03d}" for i in range(new)]
        instance.add_dynamic_partitions(partitions, new_keys)
        for i, key in enumerate(new_keys):
            instance.report_runless_asset_event(monitoring_result(key, i))
        setup = time.perf_counter() - started

        def tick(cursor=cursor, expected=new):
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            assert len(result.asset_events) == expected, result
            return result

        cold = _timed(tick)
        warm = [_timed(tick) for _ in range(reps)]
        after = tick().cursor
        idle = [_timed(lambda: tick(after, 0)) for _ in range(reps)]
    return {"setup_s": setup, "cold_s": cold, "warm_s": warm, "idle_s": idle}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--new", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--mlflow-db", type=Path, help="copy this empty MLflow database instead of making one")
    args = parser.parse_args(argv)
    model = bench_model()
    names = {
        "dataset_version_sensor": f"{model.dataset.name}_version_sensor",
        "retraining_sensor": f"{model.name}_retraining_sensor",
    }
    results = {
        "new": args.new,
        "reps": args.reps,
        "names": names,
        "dataset_version_sensor": {},
        "retraining_sensor": {},
    }
    store = Path(tempfile.mkdtemp(prefix="ticks-mlflow-"))
    # The MLflow store the sensor asks for a champion exists before any tick, as in a project that has run. It is
    # made by another process (or copied), so the first tick here pays for importing MLflow as the daemon's would.
    if args.mlflow_db:
        shutil.copy(args.mlflow_db, store / "mlflow.db")
    else:
        code = (
            "import sys; from mlops_assets.wiring.resources import MLflowTracking as T; "
            "T(state_dir=sys.argv[1], tracking_uri=f'sqlite:///{sys.argv[1]}/mlflow.db').ensure_experiment()"
        )
        subprocess.run([sys.executable, "-c", code, str(store)], check=True, capture_output=True)
    for existing in args.existing:
        for name, case in [
            ("dataset_version_sensor", version_sensor_case),
            ("retraining_sensor", retraining_sensor_case),
        ]:
            with tempfile.TemporaryDirectory(prefix=f"ticks-{existing}-") as folder:
                measured = case(Path(folder), existing, args.new, args.reps, store)
            results[name][str(existing)] = measured
            print(
                f"{name} with {existing} existing: warm {statistics.median(measured['warm_s']) * 1000:.1f} ms, "
                f"idle {statistics.median(measured['idle_s']) * 1000:.1f} ms, cold {measured['cold_s'] * 1000:.0f} ms "
                f"(setup {measured['setup_s']:.1f} s)",
                flush=True,
            )
    shutil.rmtree(store, ignore_errors=True)
    return emit(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
