"""What the pipeline's orchestration is made of: one CLI run of the pipeline under cProfile, grouped.

    DAGSTER_HOME=<state> MLOPS_DATA_DIR=<data> .venv/bin/python bench/profile_pipeline.py KEY --out profile.json

Runs `dagster asset materialize -f bench/model_definitions.py --select '*' --partition KEY` (or another `--file`) in
this process (the CLI's own entry point) under cProfile and reports the cumulative time of the parts that the plain
script does not have: Dagster's instance, run and event handling, the IO manager, and the asset code that only
exists for Dagster (metadata, the upstream data version and monitoring history read from the instance by
mlops_assets/wiring/records.py, the MLflow orphan-run search). cProfile slows Python-heavy code more than C-heavy code,
so read the seconds as shares of the profiled total.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder

from results import emit

BENCH = Path(__file__).resolve().parent

# part -> (path suffix, function name) whose cumulative time is the part's
PARTS = {
    "load the code location (import the definitions)": [
        ("_core/workspace/autodiscovery.py", "loadable_targets_from_python_module"),
        ("_core/workspace/autodiscovery.py", "loadable_targets_from_python_file"),
    ],
    "open the Dagster instance": [("_core/instance/factory.py", "create_instance_from_dagster_home")],
    "create the run": [("_core/instance/methods/run_methods.py", "create_run_for_job")],
    "store events (SQLite, a new engine per write)": [("event_log/sqlite/sqlite_event_log.py", "store_event")],
    "compute-log capture": [("_core/storage/local_compute_log_manager.py", "capture_logs")],
    "IO manager: store outputs": [("mlops_assets/wiring/io_managers.py", "handle_output")],
    "IO manager: load inputs": [("mlops_assets/wiring/io_managers.py", "load_input")],
    "MLflow orphan-run search (resources.py)": [("mlops_assets/wiring/resources.py", "_close_orphaned_runs")],
    "upstream data version and monitoring history (records.py)": [
        ("mlops_assets/wiring/records.py", "data_version"),
        ("mlops_assets/wiring/records.py", "monitoring_history"),
    ],
    "UI metadata: column schemas, Markdown tables, inline plots": [
        ("mlops_assets/wiring/column_schemas.py", "column_schema"),
        ("pandas/core/frame.py", "to_markdown"),
        ("mlops_assets/stages/plots.py", "as_markdown"),
    ],
    "asset code (the stage functions and the assets)": [
        ("dagster/_core/execution/plan/compute_generator.py", "invoke_compute_fn")
    ],
}


def grouped(stats: pstats.Stats) -> dict[str, dict]:
    parts: dict[str, dict] = {}
    for part, matchers in PARTS.items():
        seconds, calls = 0.0, 0
        for (filename, _, function), (_, ncalls, _, cumtime, _) in stats.stats.items():
            if any(filename.endswith(suffix) and function == name for suffix, name in matchers):
                seconds += cumtime
                calls += ncalls
        parts[part] = {"seconds": seconds, "calls": calls}
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--file", default=str(BENCH / "model_definitions.py"), help="the code location (-f); default: the model's"
    )
    args = parser.parse_args(argv)
    from dagster._cli import main as dagster_main

    sys.argv = ["dagster", "asset", "materialize", "-f", args.file, "--select", "*"]
    sys.argv += ["--partition", args.key]
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    try:
        dagster_main()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        profile.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profile)
    result = {"profiled_total_s": total, "parts": grouped(stats)}
    return emit(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
