"""The scale benchmark's variant of the measured model: the replicated raw contract and a small search budget.

`ReplicatedRawData` is the bikeshare dataset's `RawData` (mlops_assets/defs/bikeshare/contract.py) plus one integer
column `replica`, with the row key `(replica, day, hr)` (see bench/generate.py for why; `PlainReplicatedRawData` is
it as plain Pandera, for the bad-versions benchmark, bench/bad_versions.py). It also opts in to the vectorised
validation path of `mlops_assets.stages.fast_validation.FastContract`, which the project's contracts do not use by
default (plain Pandera): the contract module recommends it for big versions, and these are the big versions. A
dataset names its contract as 'module:Class', so `scale_model()` is bike_rentals with its dataset's contract set to
`scale:ReplicatedRawData` and its row key to `[replica, day, hr]`: every process that reads the contract (the
pipeline's steps, the plain script, the logged model's input check in the HTTP server) needs bench/ on its import
path. The scale benchmark's code location (bench/scale_definitions.py) and `bench/plain_script.py --replicated` both
use `scale_model()`, so the pipeline and the plain script do the same work.

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
from pathlib import Path

import pandera.pandas as pa
from pandera.typing import Series

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder: bench_model, and `scale` itself

from bench_model import bench_model

from mlops_assets.defs.bikeshare.contract import RawData
from mlops_assets.stages.fast_validation import FastContract

CONTRACT = "scale:ReplicatedRawData"  # the dataset's contract setting: this module's class
ROW_KEY = ["replica", "day", "hr"]
SCALE_SEARCH = {"n_iter": 1, "cv_folds": 2}
SCALE_SPACE = {
    "max_iter": [30],
    "learning_rate": [0.2],
    "max_leaf_nodes": [31],
    "min_samples_leaf": [20],
    "l2_regularization": [0.0],
}


class PlainReplicatedRawData(RawData):
    """RawData with one row per (replica, day, hr), as plain Pandera validates it (the project's default)."""

    replica: Series[int] = pa.Field(ge=0, description="which noisy replica of the demo year (bench/generate.py)")

    class Config:
        unique = ROW_KEY
        name = "PlainReplicatedRawData"


class ReplicatedRawData(FastContract, PlainReplicatedRawData):
    """The same contract, validated through the opt-in fast path (FastContract)."""

    class Config:
        name = "ReplicatedRawData"


def scale_model(**overrides):
    """The measured model (folders from the environment, as usual) on the replicated contract, with the scale
    benchmark's search budget and baseline.

    MLOPS_BENCH_SEARCH=project keeps the model's own search budget (the scoring benchmark's champion uses it).
    """
    from mlops_assets.settings import SearchSettings

    budget = {}
    if os.environ.get("MLOPS_BENCH_SEARCH", "scale") != "project":
        estimator = bench_model().estimator.model_copy(update={"search_space": SCALE_SPACE})
        budget = {"search": SearchSettings(**SCALE_SEARCH), "estimator": estimator}
    return bench_model(contract=CONTRACT, row_key=ROW_KEY, baseline_group_columns=["hr"], **{**budget, **overrides})
