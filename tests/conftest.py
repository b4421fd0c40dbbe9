"""Shared fixtures: the real 2011 data, settings that point every folder into `tmp_path`, a real Dagster instance.

Nothing here writes into the repository's data/ or state/ folders.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.config import ProjectSettings, SearchSettings
from mlops_assets.demo_data import SOURCE_CSV

# A search budget that trains in about a second: tests check behaviour, not model quality.
FAST_SEARCH = SearchSettings(
    n_iter=2,
    cv_folds=2,
    max_iter=[50],
    learning_rate=[0.1],
    max_leaf_nodes=[15],
    min_samples_leaf=[20],
    l2_regularization=[0.0],
)


@pytest.fixture(autouse=True)
def _no_tracking_uri_variable():
    """Every test starts without MLFLOW_TRACKING_URI, and whatever it set is gone afterwards.

    The project's resources never export it (MLflowTracking.activate puts it back), but tests that call
    `mlflow.set_tracking_uri` themselves do, and a later test whose resource reads the variable would then log into
    that test's store; a developer's own tracking server must not receive the tests' runs either.
    """
    before = os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if before is not None:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def bikeshare() -> pd.DataFrame:
    """The real hourly rentals of 2011, read once; tests copy it before changing it."""
    return pd.read_csv(SOURCE_CSV)


@pytest.fixture
def settings(tmp_path: Path) -> ProjectSettings:
    return ProjectSettings(data_dir=str(tmp_path / "data"), state_dir=str(tmp_path / "state"))


@pytest.fixture(scope="session")
def _empty_dagster_home(tmp_path_factory) -> Path:
    """A Dagster home whose SQLite databases are created and migrated once (about 0.3 s each time otherwise)."""
    home = tmp_path_factory.mktemp("dagster_home_template")
    with dg.instance_for_test(temp_dir=str(home)) as template:
        template.get_dynamic_partitions("dataset_version")
    return home


@pytest.fixture
def instance(tmp_path: Path, _empty_dagster_home: Path):
    """A real, persistent (SQLite) Dagster instance in this test's temporary folder, starting empty."""
    home = tmp_path / "dagster_home"
    shutil.copytree(_empty_dagster_home, home)
    with dg.instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


def write_version(versions_dir: Path, key: str, files: dict[str, pd.DataFrame | bytes]) -> Path:
    """Write a version folder by hand (any file name, any bytes): for versions that break the contract."""
    folder = Path(versions_dir) / key
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        elif name.endswith(".parquet"):
            content.to_parquet(folder / name, index=False)
        else:
            content.to_csv(folder / name, index=False)
    return folder


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This process's environment for a child process, without the project's, Dagster's and MLflow's variables.

    `mlflow.set_tracking_uri` exports MLFLOW_TRACKING_URI to the environment, so after one test used a store,
    every child process started later would otherwise inherit that test's store.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_", "DAGSTER_"))}
    return {**env, **overrides}
