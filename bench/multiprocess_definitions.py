"""The project's definitions with Dagster's default multiprocess executor instead of the project's in-process one.

    dagster asset materialize -m mlops_assets.definitions ...        # the project (in-process executor)
    dagster asset materialize -f bench/multiprocess_definitions.py ... # the same, one process per step

bench/run.py times both, to show why the project chose the in-process executor.
"""

import dagster as dg

from mlops_assets.definitions import build_definitions


def _with_multiprocess_executor(project: dg.Definitions) -> dg.Definitions:
    """Everything `build_definitions` returns (defs/ folder and resources), with another executor."""
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


defs = _with_multiprocess_executor(build_definitions())
