"""Where a project keeps its data and its local state, and how settings name code (`module:attribute`)."""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> str:
    return os.environ.get("MLOPS_DATA_DIR") or str(PROJECT_ROOT / "data")


def default_state_dir() -> str:
    # One state folder holds everything local: the Dagster instance (DAGSTER_HOME) and MLflow's database
    # and artifacts. `state/dagster.yaml` ships with the project; the rest is made by runs.
    return os.environ.get("MLOPS_STATE_DIR") or os.environ.get("DAGSTER_HOME") or str(PROJECT_ROOT / "state")


class Settings(dg.Resolvable, BaseModel):
    """A settings model: an unknown field (a typo in defs.yaml) is an error, not silently ignored. Resolvable, so
    that a component's defs.yaml can hold it with its constraints (ranges, patterns)."""

    model_config = ConfigDict(extra="forbid")


@functools.cache
def load_object(path: str):
    """The object a setting names as `package.module:attribute` (or a module, without `:`)."""
    module, _, attribute = path.partition(":")
    try:
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{path!r} cannot be imported: {error}") from error
