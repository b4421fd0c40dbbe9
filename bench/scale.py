"""The scale benchmark's variant of the project: the replicated raw contract and a small search budget.

`ReplicatedRawData` is the project's `RawData` plus one integer column `replica`, with the row key
`(replica, day, hr)` (see bench/generate.py for why). It also opts in to the vectorised validation path of
`mlops_assets.stages.fast_validation.FastContract`, which the project's contracts do not use by default (plain Pandera):
contracts.py recommends it for big versions, and these are the big versions. `install()` makes it the project's
raw contract in this process; it must run before any `mlops_assets` module that binds `RawData` when it is imported
(stages/ingestion.py) is imported; the modules that import it inside their functions (scoring, manifest,
validation) see it whenever they are called after. The scale benchmark's code location (bench/scale_definitions.py)
and `bench/plain_script.py --replicated` both call it, and both use `scale_settings()`, so the pipeline and the
plain script do the same work.

The search budget is one parameter set, two folds and 30 boosting iterations (three fits) instead of the
project's six sets, three folds and 100-200 iterations (19 fits): at 5M rows the project's budget would take
most of an hour per run, and a smaller model makes the orchestration's share of the time larger, not smaller.
The naive baseline of the gates is the mean per hour of the day instead of per hour of the week: against the
hour-of-week means, a 30-iteration model ties on November-December and the run would stop at deployment, so the
benchmark would no longer measure deployment and batch scoring.
"""

from __future__ import annotations

import os
import sys

import pandera.pandas as pa
from pandera.typing import Series

from mlops_assets import contracts
from mlops_assets.stages.fast_validation import FastContract

SCALE_SEARCH = {
    "n_iter": 1,
    "cv_folds": 2,
    "max_iter": [30],
    "learning_rate": [0.2],
    "max_leaf_nodes": [31],
    "min_samples_leaf": [20],
    "l2_regularization": [0.0],
}


ProjectRawData = contracts.RawData  # the project's own contract, before install() replaces it


class ReplicatedRawData(FastContract, contracts.RawData):
    """RawData with one row per (replica, day, hr), validated through the opt-in fast path (FastContract)."""

    replica: Series[int] = pa.Field(ge=0, description="which noisy replica of the demo year (bench/generate.py)")

    class Config:
        unique = ["replica", "day", "hr"]
        name = "ReplicatedRawData"


def install() -> None:
    """Make ReplicatedRawData the raw contract of the mlops_assets modules imported after this call."""
    bound = [
        name
        for name, module in list(sys.modules.items())
        if name.startswith("mlops_assets.")
        and name != "mlops_assets.contracts"
        and getattr(module, "RawData", None) is ProjectRawData
    ]
    if bound:
        raise RuntimeError(f"install() must run before these modules are imported: {sorted(bound)}")
    contracts.RawData = ReplicatedRawData


def scale_settings(**overrides):
    """ProjectSettings (folders from the environment, as usual) with the scale benchmark's search budget.

    MLOPS_BENCH_SEARCH=project keeps the project's own search budget (the scoring benchmark's champion uses it).
    """
    from mlops_assets.settings import ProjectSettings, SearchSettings

    search = (
        SearchSettings()
        if os.environ.get("MLOPS_BENCH_SEARCH", "scale") == "project"
        else SearchSettings(**SCALE_SEARCH)
    )
    return ProjectSettings(search=search, baseline_group_columns=["hr"], **overrides)
