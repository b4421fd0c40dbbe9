"""The benchmark suite: one command measures everything and writes docs/benchmarks.md and docs/benchmarks/*.png.

    .venv/bin/python bench/run.py              # full: every figure the median of >= 5 runs (about 45 min on 2 cores)
    .venv/bin/python bench/run.py --smoke      # one run each, tiny sizes: proves the suite still runs (~40 s)
    .venv/bin/python bench/run.py --out DIR    # write DIR/benchmarks.md and DIR/benchmarks/*.png instead of docs/
    .venv/bin/python bench/run.py --only scale # run some sections again, keep the others from the last results.json
    .venv/bin/python bench/run.py --report-only  # write docs/benchmarks.md again from the last results.json

Sections (each budget comes from the performance issue). Every section measures the demo's regression model
bike_rentals on its dataset bikeshare (bench/bench_model.py) unless it says otherwise; the code locations that run
the pipeline hold that model alone (bench/model_definitions.py, `build_definitions(models=[...])`), as the project
did before it had several.

- overhead: one dataset version through the whole pipeline from the CLI (`dagster asset materialize -f
  bench/model_definitions.py`, the project's in-process executor and a copy of its state/dagster.yaml instance)
  against bench/plain_script.py, which calls the same stage functions in the same order with the same MLflow
  logging. Pipeline and script runs alternate (which one goes first alternates too), each from a fresh copy of the
  same starting state: a champion trained on an earlier version, so that the measured run does everything (ingest,
  features, monitor, split, train, evaluate, deploy, score).
  Also: where the pipeline's extra time goes (its event log, and the same run under cProfile:
  bench/profile_pipeline.py), Dagster's default multiprocess executor (bench/multiprocess_definitions.py), and the
  cost of importing dagster and of loading the definitions.
- startup: `dagster definitions validate -w workspace.yaml` (the project's code location as it ships: its defs/
  folder, every dataset and model there) against the same command on bench/one_asset/, and what loading the
  definitions imports beyond dagster.
- scale: bigger versions (bench/generate.py) of 100k, 1M and 5M rows through the pipeline (bench/scale_definitions.py)
  and the plain script (--replicated): wall time and peak memory.
- sensors: one tick of each sensor with 100, 1,000 and 10,000 existing versions (bench/sensor_ticks.py).
- scoring: contract validation of 1M rows (the opt-in fast path of mlops_assets.stages.fast_validation against plain
  Pandera, the default), batch scoring against a bare model.predict, the HTTP server (bench/scoring.py); and the IO
  manager's format (bench/io_formats.py).
- bad_versions: ingestion (`stages.ingestion.read_version`) of a 1M-row version whose row key repeats and of one
  with a bad cell in every row, against a valid version of the same size (bench/bad_versions.py), each in its own
  process. `--only bad_versions_before` runs the same measurement and keeps it apart, as the figures of the code
  before a change (a full run keeps the last ones).
- production (only with `--only production`): the production profile against the embedded default
  (bench/production.py; PostgreSQL, RabbitMQ and Redis).
- many_models (only with `--only many_models`): a project with 50 model components on one dataset against one with
  one (bench/many_models.py): loading the definitions, `dg check defs`, the slowest sensor tick with 100 versions,
  and the UI's lineage page in headless Chromium.

Times are wall-clock seconds of whole processes (interpreter start to exit) unless a section says otherwise; peak
memory is the maximum resident set size of the command's largest process (`wait4` rusage, what /usr/bin/time -v
reports). The machine's load average is recorded before every timed run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from bench_model import bench_model  # noqa: E402

from mlops_assets.wiring.jobs import ingestion_selection, training_selection  # noqa: E402

PYTHON = sys.executable
DAGSTER = str(Path(sys.executable).parent / "dagster")
MODEL = bench_model()  # the measured model (folders: each workspace's environment, not these)
PARTITIONS = MODEL.dataset.partitions_name
# Version folders and predictions relative to a workspace's data folder (MLOPS_DATA_DIR).
VERSIONS = MODEL.dataset.versions_dir.relative_to(MODEL.dataset.data_dir)
PREDICTIONS = MODEL.predictions_dir.relative_to(MODEL.dataset.data_dir)
# The assets a first version materializes when there is no champion yet (the dataset-version sensor's selection).
FIRST_VERSION_SELECTION = ",".join(
    key.to_user_string() for key in ingestion_selection(MODEL) + training_selection(MODEL)
)
# The code location of the measured model alone, and the scale benchmark's: the same model with the replicated
# contract and a small search budget (bench/scale.py).
MODEL_LOCATION = ["-f", str(BENCH / "model_definitions.py")]
SCALE_LOCATION = ["-f", str(BENCH / "scale_definitions.py")]
SECTIONS = ["environment", "scale", "scale_profile", "overhead", "startup", "sensors", "scoring", "io", "bad_versions"]
# Run only when named in --only: production needs PostgreSQL, RabbitMQ and Redis (bench/production.py); many_models
# builds two copies of the project and starts the UI twice (bench/many_models.py); bad_versions_before is
# bad_versions measured on the code before a change. A full run keeps the last results of these.
OPTIONAL_SECTIONS = ["production", "many_models", "bad_versions_before"]


@dataclass(frozen=True)
class Plan:
    smoke: bool
    reps: int
    scale_sizes: list[int]
    base_rows: int  # rows of the version the starting champion is trained on (replicated data)
    sensor_existing: list[int]
    scoring_rows: int
    http_requests: int
    multiprocess_reps: int
    io_rows: int
    many_models: int  # model components in the bigger project of the many_models section
    many_versions: int  # versions in its sensor ticks
    bad_rows: int  # rows of each version of the bad_versions section


FULL = Plan(
    smoke=False,
    reps=5,
    scale_sizes=[100_000, 1_000_000, 5_000_000],
    base_rows=20_000,
    sensor_existing=[100, 1_000, 10_000],
    scoring_rows=1_000_000,
    http_requests=500,
    multiprocess_reps=5,
    io_rows=1_000_000,
    many_models=50,
    many_versions=100,
    bad_rows=1_000_000,
)
SMOKE = Plan(
    smoke=True,
    reps=1,
    scale_sizes=[5_000],
    base_rows=2_000,
    sensor_existing=[10],
    scoring_rows=5_000,
    http_requests=20,
    multiprocess_reps=0,
    io_rows=5_000,
    many_models=3,
    many_versions=5,
    bad_rows=20_000,  # more rows than the year has hours: the duplicate-key version has duplicates
)


class BenchError(RuntimeError):
    pass


EMPTY_MLFLOW_DB: Path | None = None  # an MLflow SQLite store with its tables and nothing else (see main)


def empty_mlflow_db(folder: Path) -> Path:
    """An MLflow SQLite database with its tables made (every migration run) and no experiment of the project."""
    path = folder / "empty-mlflow.db"
    code = "import sys, mlflow; mlflow.MlflowClient(tracking_uri=f'sqlite:///{sys.argv[1]}').search_experiments()"
    subprocess.run([PYTHON, "-c", code, str(path)], check=True, env=clean_env(), capture_output=True)
    return path


# ------------------------------------------------------------------------------------------------------------------
# Processes, workspaces, statistics
# ------------------------------------------------------------------------------------------------------------------


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0]) if Path("/proc/loadavg").exists() else math.nan


@dataclass
class Proc:
    wall_s: float
    max_rss_mb: float
    started: float  # epoch seconds
    load: float  # 1-minute load average just before the run


def measure(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT) -> Proc:
    """Run `cmd` to completion; its wall time and the peak RSS of its largest process (wait4, like GNU time)."""
    load = load_average()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        started = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}; see {log}")
    return Proc(wall_s=wall, max_rss_mb=usage.ru_maxrss / 1024, started=started, load=load)


def median(values) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def clean_env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DAGSTER_HOME", "MLOPS_STATE_DIR", "MLOPS_DATA_DIR", "MLFLOW_TRACKING_URI", "MLOPS_ALERT_WEBHOOK_URL")
        and not k.startswith("PYTEST")
        and k != "PYTHONDONTWRITEBYTECODE"  # a usual machine caches bytecode; this sandbox turned it off
    }
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONWARNINGS"] = "ignore"
    return env


class Workspace:
    """A project state (Dagster home, MLflow store, data folder) under `live/`, restorable from a snapshot.

    The paths inside the state (MLflow's artifact locations) are absolute, so a snapshot is restored into the same
    `live/` folder rather than copied elsewhere. Version files never change: they are hard-linked, not copied.
    """

    def __init__(self, root: Path):
        self.root = root
        self.live = root / "live"
        self.home = self.live / "home"
        self.data = self.live / "data"
        self.versions = self.data / VERSIONS
        self.snapshot_dir = root / "snapshot"
        if self.home.exists():  # an existing workspace, reused
            return
        self.home.mkdir(parents=True)
        self.versions.mkdir(parents=True)
        shutil.copy(ROOT / "state" / "dagster.yaml", self.home / "dagster.yaml")
        if EMPTY_MLFLOW_DB:  # the store's tables, made once (about 3 s of migrations each time otherwise)
            shutil.copy(EMPTY_MLFLOW_DB, self.home / "mlflow.db")

    def env(self, **extra: str) -> dict:
        return {**clean_env(), "DAGSTER_HOME": str(self.home), "MLOPS_DATA_DIR": str(self.data), **extra}

    @staticmethod
    def _copy(src: Path, dst: Path) -> None:
        def copy(a, b):
            if f"{os.sep}versions{os.sep}" in a:
                os.link(a, b)
            else:
                shutil.copy2(a, b)

        shutil.copytree(src, dst, copy_function=copy)

    def snapshot(self) -> None:
        shutil.rmtree(self.snapshot_dir, ignore_errors=True)
        self._copy(self.live, self.snapshot_dir)

    def restore(self) -> None:
        shutil.rmtree(self.live)
        self._copy(self.snapshot_dir, self.live)


def materialize_cmd(location: list[str], key: str, selection: str = "*") -> list[str]:
    return [DAGSTER, "asset", "materialize", *location, "--select", selection, "--partition", key]


def step_name(step_key: str) -> str:
    """The asset name of a step: `bike_rentals__feature_table` -> `feature_table` (the plain script's stage names;
    the measured locations hold one model, so the names are unique)."""
    return step_key.rsplit("__", 1)[-1]


def run_events(home: Path) -> dict:
    """Timestamps of the latest run in `home`: run start and end, and each step's start and end (epoch seconds),
    steps by asset name."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        phases: dict = {"steps": {}}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == dg.DagsterEventType.RUN_START:
                phases["run_start"] = entry.timestamp
            elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
                phases["run_end"] = entry.timestamp
            elif kind == dg.DagsterEventType.STEP_START:
                phases["steps"].setdefault(step_name(entry.step_key), {})["start"] = entry.timestamp
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                phases["steps"].setdefault(step_name(entry.step_key), {})["end"] = entry.timestamp
        phases["first_event"] = min(e.timestamp for e in instance.all_logs(run.run_id))
        phases["status"] = str(run.status)
    return phases


def alternate(reps: int, runs: dict, before=None) -> dict[str, list]:
    """Run each named callable `reps` times, alternating, the first one alternating too (ABBA...)."""
    names = list(runs)
    results: dict[str, list] = {name: [] for name in names}
    for i in range(reps):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            if before:
                before()
            results[name].append(runs[name]())
    return results


# ------------------------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------------------------


def git_state() -> tuple[str, bool | None]:
    """The checkout's short commit and whether it has uncommitted changes (None: git could not say)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        status = subprocess.run(
            # The benchmark's own output (written between sections) is not a change of the code measured.
            ["git", "status", "--porcelain", "--", ".", ":!docs/benchmarks", ":!docs/benchmarks.md"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except OSError:
        return "unknown", None
    return commit or "unknown", bool(status)


def environment() -> dict:
    from importlib.metadata import version

    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    packages = [
        "dagster",
        "dagster-pandera",
        "pandera",
        "pandas",
        "numpy",
        "pyarrow",
        "scikit-learn",
        "scipy",
        "mlflow",
        "skops",
        "matplotlib",
    ]
    commit, dirty = git_state()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: version(name) for name in packages},
        "commit": commit,
        "dirty": dirty,
        "load_at_start": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else [],
    }


_ADD_PARTITIONS = (
    "import dagster as dg; dg.DagsterInstance.get().add_dynamic_partitions("
    f"{PARTITIONS!r}, sorted(p.name for p in Path(sys.argv[2]).iterdir()))"
)


def _demo_versions(ws: Workspace, keys: list[str]) -> None:
    """Demo versions landed as the main job lands them, each added as a partition (the CLI cannot add one)."""
    code = (
        "import sys, pandas as pd; from pathlib import Path; "
        "from mlops_assets.demo.versions import land_version, monthly_snapshot, SOURCE_CSV; "
        "s = pd.read_csv(SOURCE_CSV); "
        "[land_version(sys.argv[2], k, monthly_snapshot(s, k)) for k in sys.argv[3:]]; " + _ADD_PARTITIONS
    )
    subprocess.run([PYTHON, "-c", code, "", str(ws.versions), *keys], check=True, env=ws.env())


def _replicated_versions(ws: Workspace, versions: dict[str, tuple[int, int, int]]) -> None:
    """Generated versions (bench/generate.py), key -> (rows, months of the demo year, seed), added as partitions."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import generate; from pathlib import Path; "
        "spec = json.loads(sys.argv[3]); source = {m: generate.demo_rows(m) for m in {v[1] for v in spec.values()}}; "
        "[generate.write_version(Path(sys.argv[2]) / k, generate.replicated_rows(source[m], n, seed)) "
        "for k, (n, m, seed) in spec.items()]; " + _ADD_PARTITIONS
    )
    cmd = [PYTHON, "-c", code, str(BENCH), str(ws.versions), json.dumps(versions)]
    subprocess.run(cmd, check=True, env=ws.env(), stdout=subprocess.DEVNULL)


def _pipeline_vs_plain(
    ws: Workspace, location: list[str], plain_args: list[str], key: str, reps: int, log: Path, env: dict
) -> dict:
    """Alternate the pipeline (CLI) and the plain script on `key`, each from the same snapshot."""
    timings = ws.root / "plain_timings.json"
    prediction = ws.data / PREDICTIONS / f"{key}.parquet"

    def pipeline():
        proc = measure(materialize_cmd(location, key), env, log)
        if not prediction.exists():
            raise BenchError(f"the pipeline run wrote no {prediction}; see {log}")
        return {**asdict(proc), "events": run_events(ws.home)}

    def plain():
        proc = measure([PYTHON, str(BENCH / "plain_script.py"), key, "--timings", str(timings), *plain_args], env, log)
        if not prediction.exists():
            raise BenchError(f"the plain script wrote no {prediction}; see {log}")
        return {**asdict(proc), "stages": json.loads(timings.read_text())}

    return alternate(reps, {"pipeline": pipeline, "plain": plain}, before=ws.restore)


def overhead(plan: Plan, work: Path, logs: Path, results: dict) -> dict:
    """The whole pipeline of one version from the CLI against the plain script (see the module docstring)."""
    log = logs / "overhead.log"
    if plan.smoke:  # the scale section's tiny version stands in: the same code, measured once
        size = str(plan.scale_sizes[0])
        measured = results["scale"]["sizes"][size]
        return {
            "data": f"generated: {int(size):,} rows (smoke mode: the scale section's run)",
            "commands": results["scale"]["commands"],
            "runs": measured["runs"],
        }
    ws = Workspace(work / "overhead")
    result: dict = {}
    # The demo: a champion trained on January-March, then the whole year through the whole pipeline.
    location, plain_args = MODEL_LOCATION, []
    base, key = "2011-03", "2011-12"
    _demo_versions(ws, [base, key])
    result["data"] = "demo versions 2011-03 (the starting champion) and 2011-12 (measured, 8,645 rows)"
    result["base_training"] = asdict(measure(materialize_cmd(location, base, FIRST_VERSION_SELECTION), ws.env(), log))
    ws.snapshot()
    result["commands"] = {
        "pipeline": " ".join(["dagster", *materialize_cmd(["-f", "bench/model_definitions.py"], key)[1:]]),
        "plain": " ".join(["python bench/plain_script.py", key, *plain_args]),
    }
    result["runs"] = _pipeline_vs_plain(ws, location, plain_args, key, plan.reps, log, ws.env())
    # Where the time of the process goes before any asset code runs.
    env = ws.env()
    result["imports"] = alternate(
        plan.reps,
        {
            "python": lambda: asdict(measure([PYTHON, "-c", "pass"], env, log)),
            "import dagster": lambda: asdict(measure([PYTHON, "-c", "import dagster"], env, log)),
            # the measured location's file, run as a script: it imports the definitions and builds them
            "import definitions": lambda: asdict(measure([PYTHON, MODEL_LOCATION[1]], env, log)),
            "dagster --version": lambda: asdict(measure([DAGSTER, "--version"], env, log)),
        },
    )
    # What the orchestration is made of: the same run under cProfile (bench/profile_pipeline.py).
    profiles = []
    for _ in range(plan.reps):
        ws.restore()
        out = ws.root / "profile.json"
        measure([PYTHON, str(BENCH / "profile_pipeline.py"), key, "--out", str(out)], env, log)
        profiles.append(json.loads(out.read_text()))
    result["profiles"] = profiles
    if plan.multiprocess_reps:
        mp_location = ["-f", str(BENCH / "multiprocess_definitions.py")]
        runs = []
        for _ in range(plan.multiprocess_reps):
            ws.restore()
            runs.append(asdict(measure(materialize_cmd(mp_location, key), env, log)))
        result["multiprocess"] = runs
    shutil.rmtree(ws.root, ignore_errors=True)
    return result


def startup(plan: Plan, work: Path, logs: Path) -> dict:
    log = logs / "startup.log"
    home = work / "startup_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "state" / "dagster.yaml", home / "dagster.yaml")
    env = {**clean_env(), "DAGSTER_HOME": str(home), "MLOPS_DATA_DIR": str(work / "startup_data")}
    validate = [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"]
    runs = alternate(
        max(plan.reps, 5) if not plan.smoke else 1,
        {
            "project": lambda: asdict(measure(validate, env, log, cwd=ROOT)),
            "one_asset": lambda: asdict(measure(validate, env, log, cwd=BENCH / "one_asset")),
        },
    )
    imports = [import_breakdown(env) for _ in range(1 if plan.smoke else max(plan.reps, 5))]
    return {
        "command": " ".join(["dagster", *validate[1:]]),
        "models": _project_models(),
        "runs": runs,
        "imports_after_dagster": imports,
    }


def _project_models() -> list[str]:
    """The models of the project's own code location (its defs/ folder)."""
    from mlops_assets.components.project import project_models

    return list(project_models())


def import_breakdown(env: dict) -> dict[str, float]:
    """Seconds spent importing each top-level package that loading the definitions adds to `import dagster`.

    From `python -X importtime -c "import dagster; import mlops_assets.definitions"`: the self times of every module
    imported after dagster, summed by top-level package.
    """
    cmd = [PYTHON, "-X", "importtime", "-c", "import dagster; import mlops_assets.definitions"]
    err = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stderr
    modules = []
    for line in err.splitlines():
        if line.startswith("import time:") and line.count("|") == 2 and "self [us]" not in line:
            self_us, _, name = line.removeprefix("import time:").split("|")
            modules.append((int(self_us), name.strip()))
    done = max(i for i, (_, name) in enumerate(modules) if name == "dagster")
    packages: dict[str, float] = {}
    for self_us, name in modules[done + 1 :]:
        top = name.split(".")[0]
        packages[top] = packages.get(top, 0.0) + self_us / 1e6
    return packages


def _scale_workspace(plan: Plan, root: Path, rows: int, log: Path) -> Workspace:
    """A champion trained on a small replicated January-March version ("base"), and the `rows`-row year ("big")."""
    ws = Workspace(root)
    _replicated_versions(ws, {"base": (plan.base_rows, 3, 1), "big": (rows, 12, 2)})
    measure(materialize_cmd(SCALE_LOCATION, "base", FIRST_VERSION_SELECTION), ws.env(), log)
    ws.snapshot()
    return ws


def scale(plan: Plan, work: Path, logs: Path) -> dict:
    log = logs / "scale.log"
    sizes = {}
    for rows in plan.scale_sizes:
        ws = _scale_workspace(plan, work / f"scale-{rows}", rows, log)
        sizes[str(rows)] = {
            "file_mb": sum(p.stat().st_size for p in (ws.versions / "big").iterdir()) / 1e6,
            "runs": _pipeline_vs_plain(ws, SCALE_LOCATION, ["--replicated"], "big", plan.reps, log, ws.env()),
        }
        shutil.rmtree(ws.root, ignore_errors=True)
    return {
        "sizes": sizes,
        "commands": {
            "pipeline": "dagster asset materialize -f bench/scale_definitions.py --select '*' --partition big",
            "plain": "python bench/plain_script.py big --replicated",
        },
    }


def scale_profile(plan: Plan, work: Path, logs: Path) -> dict:
    """The scale section's 1M-row pipeline run under cProfile (bench/profile_pipeline.py), `reps` times."""
    log = logs / "scale_profile.log"
    rows = 1_000_000 if 1_000_000 in plan.scale_sizes else plan.scale_sizes[0]
    ws = _scale_workspace(plan, work / "scale-profile", rows, log)
    profiles = []
    for _ in range(plan.reps):
        ws.restore()
        out = ws.root / "profile.json"
        cmd = [PYTHON, str(BENCH / "profile_pipeline.py"), "big", "--file", SCALE_LOCATION[1], "--out", str(out)]
        measure(cmd, ws.env(), log)
        profiles.append(json.loads(out.read_text()))
    shutil.rmtree(ws.root, ignore_errors=True)
    return {"rows": rows, "profiles": profiles}


def sensors(plan: Plan, work: Path, logs: Path) -> dict:
    out = work / "ticks.json"
    cmd = [PYTHON, str(BENCH / "sensor_ticks.py"), "--existing", *map(str, plan.sensor_existing)]
    cmd += ["--reps", str(max(plan.reps, 5)), "--out", str(out), "--mlflow-db", str(EMPTY_MLFLOW_DB)]
    measure(cmd, clean_env(), logs / "sensors.log")
    return json.loads(out.read_text())


def scoring(plan: Plan, work: Path, logs: Path) -> dict:
    """A champion trained (replicated contract) on a replicated version of the year, then bench/scoring.py.

    Full mode trains it with the project's search budget; smoke mode with the scale section's and without the
    HTTP server.
    """
    log = logs / "scoring.log"
    ws = Workspace(work / "scoring")
    _replicated_versions(ws, {"base": (plan.base_rows, 12, 3)})
    budget = "scale" if plan.smoke else "project"
    measure(materialize_cmd(SCALE_LOCATION, "base", FIRST_VERSION_SELECTION), ws.env(MLOPS_BENCH_SEARCH=budget), log)
    out = work / "scoring.json"
    cmd = [PYTHON, str(BENCH / "scoring.py"), "--state-dir", str(ws.home), "--data-dir", str(ws.data)]
    cmd += ["--rows", str(plan.scoring_rows), "--reps", str(plan.reps), "--requests", str(plan.http_requests)]
    cmd += ["--out", str(out), *(["--no-server"] if plan.smoke else [])]
    measure(cmd, clean_env(), log)
    result = json.loads(out.read_text())
    result["champion_training"] = (
        f"{'scale benchmark' if plan.smoke else 'project'}'s search budget on a {plan.base_rows:,}-row replicated "
        "version of the year"
    )
    shutil.rmtree(ws.root, ignore_errors=True)
    return result


def production(plan: Plan, work: Path, logs: Path) -> dict:
    out = work / "production.json"
    cmd = [PYTHON, str(BENCH / "production.py"), "--reps", str(plan.reps), "--out", str(out)]
    measure(cmd, clean_env(), logs / "production.log")
    return json.loads(out.read_text())


def many_models(plan: Plan, work: Path, logs: Path) -> dict:
    """bench/many_models.py: one model against `plan.many_models` (load, dg check defs, sensor ticks, the UI)."""
    out = work / "many_models.json"
    cmd = [PYTHON, str(BENCH / "many_models.py"), "--models", str(plan.many_models), "--versions"]
    cmd += [str(plan.many_versions), "--reps", str(plan.reps), "--ui", "--out", str(out)]
    measure(cmd, clean_env(), logs / "many_models.log")
    return json.loads(out.read_text())


def bad_versions(plan: Plan, work: Path, logs: Path) -> dict:
    """Ingestion of the three versions of bench/bad_versions.py, alternating, each run in its own process."""
    log = logs / "bad_versions.log"
    folder = work / "bad-versions"
    script = str(BENCH / "bad_versions.py")
    cmd = [PYTHON, script, "generate", "--rows", str(plan.bad_rows), "--out", str(folder)]
    made = json.loads(subprocess.run(cmd, check=True, env=clean_env(), capture_output=True, text=True).stdout)

    def ingest(case: str):
        def run() -> dict:
            out = work / f"bad-versions-{case}.json"
            proc = measure([PYTHON, script, "ingest", str(folder / case), "--out", str(out)], clean_env(), log)
            result = json.loads(out.read_text())
            if result["failed"] != (case != "valid"):
                raise BenchError(f"the {case} version {'failed' if result['failed'] else 'passed'}; see {out}")
            return {**asdict(proc), **result}

        return run

    cases = ["valid", "duplicate-key", "bad-cells"]
    runs = alternate(plan.reps, {case: ingest(case) for case in cases})
    file_mb = {case: sum(p.stat().st_size for p in (folder / case).iterdir()) / 1e6 for case in cases}
    shutil.rmtree(folder, ignore_errors=True)
    commit, dirty = git_state()
    return {"rows": plan.bad_rows, **made, "file_mb": file_mb, "runs": runs, "commit": commit, "dirty": dirty}


def io_formats(plan: Plan, work: Path, logs: Path) -> dict:
    out = work / "io.json"
    cmd = [PYTHON, str(BENCH / "io_formats.py"), "--rows", str(plan.io_rows), "--reps", str(plan.reps)]
    measure([*cmd, "--out", str(out)], clean_env(), logs / "io.log")
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one run each, tiny sizes (the test suite runs this)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for benchmarks.md (default docs/)")
    every = ", ".join(SECTIONS + OPTIONAL_SECTIONS)
    parser.add_argument("--only", help=f"comma-separated sections to run again ({every})")
    parser.add_argument("--workdir", type=Path, help="where the temporary states go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs, states)")
    parser.add_argument("--reps", type=int, help="repetitions instead of the mode's (5 full, 1 smoke): quick checks")
    parser.add_argument("--sizes", help="comma-separated row counts for the scale section instead of the mode's")
    parser.add_argument("--report-only", action="store_true", help="write the report from the last results.json")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(BENCH))
    from report import write_report

    plan = SMOKE if args.smoke else FULL
    if args.reps:
        plan = replace(plan, reps=args.reps, multiprocess_reps=min(plan.multiprocess_reps, args.reps))
    if args.sizes:
        plan = replace(plan, scale_sizes=[int(n) for n in args.sizes.split(",")])
    out = args.out.resolve()
    figures = out / "benchmarks"
    figures.mkdir(parents=True, exist_ok=True)
    results_file = figures / ("results-smoke.json" if plan.smoke else "results.json")
    if args.report_only:
        print(f"wrote {write_report(json.loads(results_file.read_text()), out / 'benchmarks.md', figures)}")
        return 0
    results: dict = {}
    only = SECTIONS
    if args.only:
        only = [s.strip() for s in args.only.split(",")]
        unknown = sorted(set(only) - set(SECTIONS + OPTIONAL_SECTIONS))
        if unknown:
            parser.error(f"unknown sections {unknown}; choose from {SECTIONS + OPTIONAL_SECTIONS}")
        if results_file.exists():
            results = json.loads(results_file.read_text())
    elif results_file.exists():
        last = json.loads(results_file.read_text())
        results = {name: last[name] for name in OPTIONAL_SECTIONS if name in last}
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-", dir=args.workdir))
    logs = work / "logs"
    logs.mkdir()
    global EMPTY_MLFLOW_DB
    EMPTY_MLFLOW_DB = empty_mlflow_db(work)
    sections = {
        "environment": lambda: environment(),
        "overhead": lambda: overhead(plan, work, logs, results),
        "startup": lambda: startup(plan, work, logs),
        "scale": lambda: scale(plan, work, logs),
        "scale_profile": lambda: scale_profile(plan, work, logs),
        "sensors": lambda: sensors(plan, work, logs),
        "scoring": lambda: scoring(plan, work, logs),
        "io": lambda: io_formats(plan, work, logs),
        "bad_versions": lambda: bad_versions(plan, work, logs),
        "bad_versions_before": lambda: bad_versions(plan, work, logs),
        "production": lambda: production(plan, work, logs),
        "many_models": lambda: many_models(plan, work, logs),
    }
    started = time.perf_counter()

    def run_sections(names: list[str]) -> None:
        for name in names:
            if name not in only:
                continue
            print(f"[{time.perf_counter() - started:7.1f} s] {name} (load {load_average():.2f})", flush=True)
            t0 = time.perf_counter()
            results[name] = sections[name]()
            results[name]["_section"] = {
                "seconds": time.perf_counter() - t0,
                "load_after": load_average(),
                "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }
            if not plan.smoke:
                results["plan"] = asdict(plan)
                results_file.write_text(json.dumps(results, indent=1))

    try:
        if plan.smoke:
            # Nothing is judged in smoke mode: the sections that do not depend on the scale section's state run
            # alongside it, so that the test suite's smoke run stays short. The profiles are left out.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(2) as pool:
                chains = [
                    pool.submit(run_sections, ["environment", "scale", "overhead"]),
                    pool.submit(run_sections, ["scoring", "startup", "sensors", "io", "bad_versions"]),
                ]
                for chain in chains:
                    chain.result()
            run_sections(OPTIONAL_SECTIONS)  # only those named in --only
        else:
            run_sections(SECTIONS + OPTIONAL_SECTIONS)
    except BaseException:
        print(f"benchmark failed; logs kept in {logs}", file=sys.stderr)
        raise
    results["plan"] = asdict(plan)
    results_file.write_text(json.dumps(results, indent=1))
    report = write_report(results, out / "benchmarks.md", figures)
    print(f"[{time.perf_counter() - started:7.1f} s] wrote {report} and {figures}/*.png")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
