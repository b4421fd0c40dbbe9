"""The benchmarks' code location with Dagster's default multiprocess executor instead of the project's in-process one.

    dagster asset materialize -f bench/model_definitions.py ...         # the measured model (in-process executor)
    dagster asset materialize -f bench/multiprocess_definitions.py ...  # the same, one process per step

bench/run.py times both, to show why the project chose the in-process executor. (The project's
`<dataset>_multiprocess` job does the same for launched runs; `dagster asset materialize` runs the implicit asset
job, which takes the definitions' executor.)
"""

import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_definitions


def _with_multiprocess_executor(project: dg.Definitions) -> dg.Definitions:
    """Everything the measured location holds (assets, checks, jobs, sensors, resources), with another executor."""
    return dg.Definitions(
        assets=project.assets,
        asset_checks=project.asset_checks,
        jobs=project.jobs,
        schedules=project.schedules,
        sensors=project.sensors,
        resources=project.resources,
        loggers=project.loggers,
        metadata=project.metadata,
        executor=dg.multiprocess_executor,
    )


defs = _with_multiprocess_executor(model_definitions.defs)
