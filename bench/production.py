"""The production profile against the embedded default, as ratios measured in one session.

    .venv/bin/python bench/production.py [--versions 4] [--reps 5] [--only throughput|overhead] [--out FILE]

- throughput: a first version, then `--versions` more landed at once, through the daemon's sensors (ingest and
  monitor, then retrain, gate and deploy: tests/always_retrain.py, the project's definitions for the measured model
  bike_rentals alone, with a small search budget and a policy that retrains every version). Timed from the landing
  to the end of the last run. Three set-ups, one after the other: the embedded default (state/dagster.yaml: SQLite,
  in-process executor, MLflow on SQLite, `dagster-daemon` alone) and scripts/prod-up with 1 and with 2 Celery
  workers (MLflow server and Dagster on PostgreSQL). Start-up is not timed.
- overhead: the same in-process run (bikeshare/raw_dataset and bike_rentals/feature_table of one version, the
  measured model alone: bench/bench_model.py) on a Dagster instance on SQLite and on PostgreSQL, alternating,
  `--reps` times each after one untimed run of each: median wall time and events.
Needs PostgreSQL, RabbitMQ and Redis (deploy/env.example's defaults, or the same variables). JSON to --out or stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_model import BENCH_MODEL, bench_model  # noqa: E402
from results import emit  # noqa: E402


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_all(instance, keys: list[str], timeout: float = 1800) -> float:
    """Seconds until every key has a finished ingest and retrain run of the measured model (all must succeed);
    returns the last end time."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while True:
        runs = [r for r in instance.get_runs(filters=dg.RunsFilter(tags={})) if r.tags.get("dagster/partition") in keys]
        wanted = {run_key for key in keys for run_key in (f"ingest:{key}", f"retrain:{BENCH_MODEL}:{key}")}
        done = {r.tags.get("dagster/run_key"): r for r in runs if r.is_finished}
        if wanted <= set(done):
            bad = [k for k in wanted if done[k].status != dg.DagsterRunStatus.SUCCESS]
            assert not bad, f"runs failed: {bad}"
            return max(instance.get_run_record_by_id(done[k].run_id).end_time for k in wanted)
        assert time.monotonic() < deadline, f"not finished: {sorted(wanted - set(done))}"
        time.sleep(1)


def land_and_time(instance, versions_dir: Path, versions: list[tuple[str, object]]) -> dict:
    from mlops_assets.commands.landing import land_version

    first_key, first_rows = versions[0]
    land_version(versions_dir, first_key, first_rows)
    wait_all_ingest(instance, first_key)
    keys = [key for key, _ in versions[1:]]
    at, load_before = time.time(), load()
    for key, rows in versions[1:]:
        land_version(versions_dir, key, rows)
    end = wait_all(instance, keys)
    return {"seconds": round(end - at, 1), "versions": len(keys), "load_before": load_before, "load_after": load()}


def wait_all_ingest(instance, key: str, timeout: float = 900) -> None:
    import dagster as dg

    deadline = time.monotonic() + timeout
    while True:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key}))
        if runs and all(run.is_finished for run in runs):
            assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs), [run.status for run in runs]
            return
        assert time.monotonic() < deadline, f"{key}: first version not finished"
        time.sleep(1)


def embedded(root: Path, versions) -> dict:
    import dagster as dg

    home = root / "home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "state" / "dagster.yaml", home / "dagster.yaml")
    env = clean_env(DAGSTER_HOME=str(home), MLOPS_STATE_DIR=str(root / "state"), MLOPS_DATA_DIR=str(root / "data"))
    # The SQLite schema is created first: the daemon and its code server creating it at once left two alembic heads
    # ("Version table 'alembic_version' has more than one head present") and the code location failed to load.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
    daemon = subprocess.Popen(
        [str(ROOT / ".venv/bin/dagster-daemon"), "run", "-m", "tests.always_retrain"],
        cwd=root,
        env=env,
        stdout=(root / "daemon.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return land_and_time(instance, versions_dir(root), versions)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=120)


def production(root: Path, versions, workers: int) -> dict:
    import dagster as dg

    from tests.production.conftest import drop_everything, stack_env

    env = {**stack_env(root), "MLOPS_CELERY_WORKERS": str(workers), "MLOPS_MLFLOW_WORKERS": "2"}
    started = time.monotonic()
    try:
        up = subprocess.run([str(ROOT / "scripts/prod-up")], env=clean_env(**env), capture_output=True, text=True)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        startup = time.monotonic() - started
        secrets = dict(line.split("=", 1) for line in (root / "prod" / "secrets.env").read_text().splitlines())
        os.environ.update({**secrets, "DAGSTER_PG_DB": env["DAGSTER_PG_DB"], "DAGSTER_PG_USER": env["DAGSTER_PG_USER"]})
        os.environ.update({"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432"})
        with dg.DagsterInstance.from_config(str(root / "prod" / "dagster_home")) as instance:
            return {**land_and_time(instance, versions_dir(root), versions), "startup": round(startup, 1)}
    finally:
        subprocess.run([str(ROOT / "scripts/prod-down")], env=clean_env(**env), capture_output=True, timeout=300)
        drop_everything(env)


def versions_dir(root: Path) -> Path:
    """Where the daemon's dataset sensor looks for versions: data/<dataset>/versions under MLOPS_DATA_DIR."""
    return bench_model(data_dir=str(root / "data")).dataset.versions_dir


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_", "DAGSTER_"))}
    return {**env, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true", **overrides}


def overhead(root: Path, reps: int) -> dict:
    import dagster as dg
    import psycopg2

    from mlops_assets.commands.landing import land_version, source_versions
    from mlops_assets.definitions import build_definitions
    from mlops_assets.wiring.jobs import ingestion_selection, pipeline_job_name
    from mlops_assets.wiring.resources import MLflowTracking
    from tests.production.services import postgres_admin_dsn

    model = bench_model(data_dir=str(root / "data"), state_dir=str(root / "state"))
    dataset = model.dataset
    key, rows = source_versions(dataset)[0]
    land_version(dataset.versions_dir, key, rows)
    state = root / "state"
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{state.resolve() / 'mlflow.db'}", state_dir=str(state))
    job = build_definitions(models=[model], mlflow_tracking=tracking).resolve_job_def(pipeline_job_name(dataset))
    selection = ingestion_selection(model)  # raw_dataset and feature_table
    database = f"mlops_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    homes = {"sqlite": root / "sqlite_home", "postgres": root / "pg_home"}
    for home in homes.values():
        home.mkdir()
    (homes["sqlite"] / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (homes["postgres"] / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: {postgres_admin_dsn(database)}\ntelemetry:\n  enabled: false\n"
    )
    times: dict[str, list[float]] = {name: [] for name in homes}
    events: dict[str, int] = {}
    try:
        instances = {name: dg.DagsterInstance.from_config(str(home)) for name, home in homes.items()}
        for instance in instances.values():
            instance.add_dynamic_partitions(dataset.partitions_name, [key])
        for rep in range(reps + 1):
            for name in sorted(instances, reverse=rep % 2 == 1):  # which goes first alternates
                started = time.perf_counter()
                result = job.execute_in_process(instance=instances[name], partition_key=key, asset_selection=selection)
                elapsed = time.perf_counter() - started
                assert result.success
                if rep:  # the first of each is untimed (imports, schema)
                    times[name].append(elapsed)
                events[name] = len(instances[name].all_logs(result.run_id))
        for instance in instances.values():
            instance.dispose()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "seconds": {name: [round(v, 3) for v in values] for name, values in times.items()},
        "median": {name: round(v, 3) for name, v in medians.items()},
        "postgres_over_sqlite": round(medians["postgres"] / medians["sqlite"], 2),
        "events_per_run": events,
    }


def main() -> int:
    from mlops_assets.commands.landing import source_versions

    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", choices=["throughput", "overhead"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    versions = source_versions(bench_model().dataset)[: args.versions + 1]
    results: dict = {"cores": os.cpu_count(), "load_at_start": load()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.only in (None, "overhead"):
            results["overhead"] = overhead(root / "overhead", args.reps)
            print(results["overhead"], file=sys.stderr)
        if args.only in (None, "throughput"):
            runs = {"embedded": lambda: embedded(root / "embedded", versions)}
            for workers in (1, 2):
                runs[f"celery_{workers}"] = lambda w=workers: production(root / f"celery_{w}", versions, w)
            throughput = {}
            for name, run in runs.items():
                throughput[name] = run()
                print(name, throughput[name], file=sys.stderr)
            base = throughput["embedded"]["seconds"]
            for measured in throughput.values():
                measured["versions_per_minute"] = round(60 * measured["versions"] / measured["seconds"], 2)
                measured["speed_vs_embedded"] = round(base / measured["seconds"], 2)
            results["throughput"] = throughput
    return emit(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
