"""Many models in one code location: 50 model components over one dataset against the same project with one.

    .venv/bin/python bench/many_models.py --out results.json [--models 50] [--versions 100] [--reps 5] [--ui]

Two copies of the project are made in a temporary folder: one whose defs/ holds the bikeshare dataset and one model
(bike_rentals), one with the dataset and `--models` models (bike_rentals, busy_hours and copies of both under other
names, alternating regression and classification). Each copy's cached columns are refreshed first, as a user would
(`python -m mlops_assets.commands.column_schemas`). Measured in each, in fresh processes:

- load: importing the definitions and building the repository (what every code server, run and step does);
- check: `dg check defs` (YAML validation and loading, as a CI job runs it);
  both alternate between the two copies (`--reps` loads and `--reps // 2` checks of each, after one untimed load
  of each);
- ticks: each sensor evaluated once against a SQLite instance holding `--versions` ingested versions, each with a
  monitoring result per model (the retraining sensors start without a cursor, so each reads its model's whole
  history: the slowest case), and the dataset sensor's first tick over `--versions` new folders (one run request per
  version with every model's work, one registry lookup per model) and its steady tick;
- ui (with --ui): the Dagster UI's asset lineage page in headless Chromium (Debian's) against `dagster dev`, until
  every model's group is drawn.
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

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent


def model_name(i: int) -> str:
    """The name of the i-th model of a project copy: bike_rentals, busy_hours, then bike_rentals_02, busy_hours_03..."""
    kind = "bike_rentals" if i % 2 == 0 else "busy_hours"
    return kind if i < 2 else f"{kind}_{i:02d}"


def make_project(folder: Path, models: int) -> Path:
    """A copy of the project with the bikeshare dataset and `models` model components."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "busy_hours", "bike_rentals")
    shutil.copytree(ROOT / "mlops_assets", folder / "mlops_assets", ignore=ignore)
    for name in ("pyproject.toml", "workspace.yaml"):
        shutil.copyfile(ROOT / name, folder / name)
    defs = folder / "mlops_assets" / "defs"
    templates = {
        "bike_rentals": (ROOT / "mlops_assets/defs/bike_rentals/defs.yaml").read_text(),
        "busy_hours": (ROOT / "mlops_assets/defs/busy_hours/defs.yaml").read_text(),
    }
    for source in templates:  # the feature code the copies name
        shutil.copytree(ROOT / "mlops_assets/defs" / source, defs / source, ignore=shutil.ignore_patterns("*.yaml*"))
    for i in range(models):
        kind, name = ("bike_rentals", "busy_hours")[i % 2], model_name(i)
        (defs / name).mkdir(exist_ok=True)
        (defs / name / "defs.yaml").write_text(templates[kind].replace(f"name: {kind}", f"name: {name}", 1))
    (folder / "state").mkdir()
    run([sys.executable, "-m", "mlops_assets.commands.column_schemas"], folder)
    return folder


def env_for(project: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "MLOPS_", "MLFLOW_"))}
    return {**env, "PYTHONPATH": str(project), "DAGSTER_HOME": str(project / "state"), "MLFLOW_DISABLE_TELEMETRY": "1"}


def run(command: list[str], project: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=project, env=env_for(project), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def timed(command: list[str], project: Path) -> float:
    started = time.perf_counter()
    run(command, project)
    return time.perf_counter() - started


LOAD = (
    "import time; t = time.perf_counter()\n"
    "from mlops_assets.definitions import defs\n"
    "defs.get_repository_def()\n"
    "print(time.perf_counter() - t)"
)


def load_seconds(project: Path) -> float:
    return float(run([sys.executable, "-c", LOAD], project).stdout.strip().splitlines()[-1])


TICKS = r"""
import json, sys, time
from pathlib import Path
import dagster as dg
import pandas as pd
from mlops_assets.commands.landing import land_version
from mlops_assets.components.project import project_models
from mlops_assets.definitions import build_definitions
from mlops_assets.stages.monitoring import MONITORED, MonitoringResult
from mlops_assets.wiring.resources import MLflowTracking

versions = int(sys.argv[1])
state = Path(sys.argv[2])
models = list(project_models(data_dir=str(state / "data"), state_dir=str(state)).values())
dataset = models[0].dataset
tracking = MLflowTracking(tracking_uri=f"sqlite:///{state / 'mlflow.db'}", state_dir=str(state))
defs = build_definitions(models=models, mlflow_tracking=tracking)
tracking.client()  # the MLflow store exists before any tick (creating it is not a sensor's cost)
keys = [f"v{i:04d}" for i in range(versions)]
rows = pd.DataFrame({"x": [1]})
for key in keys:
    land_version(dataset.versions_dir, key, rows)

def tick(instance, name, cursor=None):
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=name, definitions=defs,
                                      resources=defs.resources)
    started = time.perf_counter()
    result = sensor(context)
    return time.perf_counter() - started, result

out = {}
(state / "dagster").mkdir()
with dg.instance_for_test(temp_dir=str(state / "dagster")) as instance:
    seconds, first = tick(instance, f"{dataset.name}_version_sensor")
    out["dataset_first_tick"] = {"seconds": seconds, "run_requests": len(first.run_requests or [])}
    instance.add_dynamic_partitions(dataset.partitions_name, keys)
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            models[0].raw_key, partition=key, tags={"dagster/data_version": "h" + key}))
        for model in models:
            result = MonitoringResult(MONITORED, "1", 200, "rmse", 40.0, 35.0, 0.14, False, 0.1, False, (), 0.01)
            instance.report_runless_asset_event(dg.AssetMaterialization(
                model.key("model_monitoring"), partition=key, metadata=result.to_metadata()))
    seconds, _ = tick(instance, f"{dataset.name}_version_sensor", first.cursor)
    out["dataset_steady_tick"] = {"seconds": seconds}
    retraining = []
    for model in models:
        seconds, result = tick(instance, f"{model.name}_retraining_sensor")
        retraining.append(seconds)
        assert len(result.asset_events) == min(versions, 100), len(result.asset_events)
    out["retraining_ticks"] = {"slowest": max(retraining), "median": sorted(retraining)[len(retraining) // 2],
                               "count": len(retraining)}
print(json.dumps(out))
"""


def ticks(project: Path, versions: int) -> dict:
    with tempfile.TemporaryDirectory(dir=project) as state:
        done = run([sys.executable, "-c", TICKS, str(versions), state], project, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ui_seconds(project: Path, models: int) -> float:
    """Seconds from opening the lineage page until its requests have finished and the groups are listed (after one
    warm-up load)."""
    from playwright.sync_api import sync_playwright

    port = 3300 + models
    server = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(port), "-h", "127.0.0.1"],
        cwd=project, env=env_for(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/asset-groups"
        deadline = time.monotonic() + 180
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            while True:
                try:
                    page.goto(url, timeout=10_000)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(2)
            # The groups' list is virtualised (only the rows on screen are in the page), so the page counts as
            # loaded when its GraphQL requests have finished (network idle) and the first group is listed.
            first = "bike_rentals"
            page.get_by_text(first, exact=True).first.wait_for(state="attached", timeout=180_000)  # warm-up
            started = time.perf_counter()
            page.goto(url, timeout=180_000, wait_until="networkidle")
            page.get_by_text(first, exact=True).first.wait_for(state="attached", timeout=180_000)
            seconds = time.perf_counter() - started
            page.screenshot(path=str(project / f"lineage-{models}.png"))
            browser.close()
        return seconds
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def alternate(reps: int, counts: list[int], measure) -> dict[int, list[float]]:
    """`measure(count)` `reps` times for each count, alternating (ABBA...)."""
    measured: dict[int, list[float]] = {count: [] for count in counts}
    for i in range(reps):
        for count in counts if i % 2 == 0 else counts[::-1]:
            measured[count].append(measure(count))
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--ui", action="store_true", help="also time the lineage page in headless Chromium")
    parser.add_argument("--keep", type=Path, help="keep the two projects (and the UI screenshots) here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="many-models-")) if args.keep is None else args.keep
    results = {"models": args.models, "versions": args.versions, "reps": args.reps}
    try:
        counts = sorted({1, args.models})
        projects = {count: make_project(work / f"models-{count}", count) for count in counts}
        # Load and check alternate between the two projects (which goes first alternates too), so that a change of
        # the machine's load weighs on both alike; the ratios are of pairs measured one right after the other. One
        # untimed load of each first (the first process to read a copy's files pays for the disk cache).
        for project in projects.values():
            load_seconds(project)
        loads = alternate(args.reps, counts, lambda count: load_seconds(projects[count]))
        checks = alternate(
            max(1, args.reps // 2), counts, lambda count: timed([str(BIN / "dg"), "check", "defs"], projects[count])
        )
        for count in counts:
            entry = {
                "load_seconds": statistics.median(loads[count]),
                "load_all": loads[count],
                "check_seconds": statistics.median(checks[count]),
                "check_all": checks[count],
                "ticks": ticks(projects[count], args.versions),
                "load_average": os.getloadavg()[0],
            }
            if args.ui:
                entry["ui_seconds"] = ui_seconds(projects[count], count)
            results[str(count)] = entry
            print(json.dumps({count: entry}), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
