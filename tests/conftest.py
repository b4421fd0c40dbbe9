"""Shared fixtures and helpers: the configured data set, settings that point every folder into `tmp_path`, a real
Dagster instance, a real MLflow store.

The tests outside tests/demo/ run on whatever model the project has (the first of its defs.yaml models by name, or
$MLOPS_TEST_MODEL), with that model's dataset, contract and features: their rows come from the dataset's source and
its cut into versions, and their bad inputs are derived from the contract (tests/contract_cases.py). Nothing here
writes into the repository's data/ or state/ folders.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.components.project import project_models
from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.settings import DatasetSettings, ModelSettings, SearchSettings
from mlops_assets.settings.dataset import DatasetFields
from mlops_assets.stages.registry import CHAMPION, PREVIOUS, alias_version
from mlops_assets.wiring.resources import MLflowTracking

# The model the generic tests run on: the first by name (in a generated project, its one model).
TEST_MODEL = os.environ.get("MLOPS_TEST_MODEL") or next(iter(project_models()))
MODEL = project_models()[TEST_MODEL]  # its settings as configured (the project's folders: read, never write)
DATASET = MODEL.dataset
DATASET_FIELDS = set(DatasetFields.model_fields) | {"data_dir", "state_dir"}

# A search budget that trains in about a second: tests check behaviour, not model quality.
FAST_SEARCH = SearchSettings(n_iter=2, cv_folds=2)
# The default estimator's space cut to one point (another estimator keeps its own space, two draws of it).
FAST_SPACE = {"max_iter": [50], "learning_rate": [0.1], "max_leaf_nodes": [15], "min_samples_leaf": [20]}


def fast_estimator(model: ModelSettings = MODEL):
    if model.estimator.class_path is not None:
        return model.estimator
    return model.estimator.model_copy(update={"search_space": FAST_SPACE})


def model_settings(root: Path | None = None, name: str = TEST_MODEL, **overrides) -> ModelSettings:
    """A model's settings with its folders under `root` and `overrides` (of the model, or of its dataset)."""
    model = project_models()[name]
    dataset_changes = {k: v for k, v in overrides.items() if k in DATASET_FIELDS}
    if root is not None:
        dataset_changes = {"data_dir": str(root / "data"), "state_dir": str(root / "state"), **dataset_changes}
    dataset = DatasetSettings(**{**model.dataset.model_dump(), **dataset_changes})
    fields = {k: v for k, v in overrides.items() if k not in DATASET_FIELDS}
    return ModelSettings(**{**model.model_dump(exclude={"dataset"}), **fields, "dataset": dataset})


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
def source() -> pd.DataFrame:
    """The dataset's source rows as its raw contract validates them (the dtypes the pipeline sees)."""
    from mlops_assets.commands.landing import read_source

    return DATASET.raw_contract().validate(read_source(DATASET), lazy=True)


@pytest.fixture(scope="session")
def versions() -> dict[str, pd.DataFrame]:
    """The dataset's source cut into dataset versions (its source.cut), in order: key -> rows."""
    from mlops_assets.commands.landing import source_versions

    return dict(source_versions(DATASET))


@pytest.fixture(scope="session")
def keys(versions) -> list[str]:
    """The versions' keys, in order: keys[0] is the first version the pipeline sees."""
    return list(versions)


def land(settings: ModelSettings, versions: dict[str, pd.DataFrame], *keys: str, as_key: str | None = None) -> None:
    """Land the given versions (atomically, as the main job does); `as_key` lands the one version under another key."""
    from mlops_assets.commands.landing import land_version

    for key in keys:
        land_version(settings.dataset.versions_dir, as_key or key, versions[key])


@pytest.fixture
def settings(tmp_path: Path) -> ModelSettings:
    return model_settings(tmp_path)


@pytest.fixture(scope="session")
def _empty_dagster_home(tmp_path_factory) -> Path:
    """A Dagster home whose SQLite databases are created and migrated once (about 0.3 s each time otherwise)."""
    home = tmp_path_factory.mktemp("dagster_home_template")
    with dg.instance_for_test(temp_dir=str(home)) as template:
        template.get_dynamic_partitions(DATASET.partitions_name)
    return home


@pytest.fixture
def instance(tmp_path: Path, _empty_dagster_home: Path):
    """A real, persistent (SQLite) Dagster instance in this test's temporary folder, starting empty."""
    home = tmp_path / "dagster_home"
    shutil.copytree(_empty_dagster_home, home)
    with dg.instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


def write_version(versions_dir: Path, key: str, files: dict[str, pd.DataFrame | bytes | Path]) -> Path:
    """Write a version folder by hand (any file name, any bytes; a Path: a symbolic link to it): for bad versions.

    Written in place, it is settled for the sensor only after the quiet period (see `settle`).
    """
    folder = Path(versions_dir) / key
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            (folder / name).symlink_to(content)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        elif name.endswith(".parquet"):
            content.to_parquet(folder / name, index=False)
        else:
            content.to_csv(folder / name, index=False)
    return folder


def settle(folder: Path, seconds_ago: float = 3600) -> Path:
    """Set a version folder's and its files' modification times back, as if it was copied `seconds_ago`.

    A folder written in place is ingested only once nothing in it changed for the quiet period; tests that write one
    by hand and mean a finished copy say so with this (instead of sleeping through the quiet period).
    """
    then = time.time() - seconds_ago
    for path in [*Path(folder).iterdir(), Path(folder)]:
        os.utime(path, (then, then), follow_symlinks=False)
    return Path(folder)


def check_evaluations(instance: dg.DagsterInstance, check: str, partition: str) -> list:
    """The evaluations (newest first) of raw_dataset's asset check `check` for one partition."""
    key = dg.AssetCheckKey(MODEL.raw_key, check)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    found = [r.event.dagster_event.event_specific_data for r in records if r.event and r.event.dagster_event]
    return [e for e in found if isinstance(e, dg.AssetCheckEvaluation) and e.partition == partition]


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This process's environment for a child process, without the project's, Dagster's and MLflow's variables.

    `mlflow.set_tracking_uri` exports MLFLOW_TRACKING_URI to the environment, so after one test used a store,
    every child process started later would otherwise inherit that test's store.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_", "DAGSTER_"))}
    return {**env, **overrides}


def make_project(root: Path, **settings_overrides) -> SimpleNamespace:
    """Settings, tracking and a registry client that keep everything under `root` (never the repository's folders).

    The MLflow URI is explicit: a MLFLOW_TRACKING_URI in the environment must not send the tests' models elsewhere.
    """
    state = root / "state"
    fast = fast_estimator(project_models()[settings_overrides.get("name", TEST_MODEL)])
    settings = model_settings(root, **{"search": FAST_SEARCH, "estimator": fast, **settings_overrides})
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{state.resolve() / 'mlflow.db'}", state_dir=str(state))
    return SimpleNamespace(root=root, settings=settings, tracking=tracking, client=tracking.client())


def asset_keys(settings: ModelSettings, names) -> list[dg.AssetKey]:
    """The model's asset keys for asset names ("raw_dataset" is its dataset's); keys pass through."""
    return [
        name if isinstance(name, dg.AssetKey) else settings.raw_key if name == "raw_dataset" else settings.key(name)
        for name in names
    ]


def pipeline_job(settings: ModelSettings) -> str:
    from mlops_assets.wiring.jobs import pipeline_job_name

    return pipeline_job_name(settings.dataset)


def run_assets(project, instance: dg.DagsterInstance, key: str, selection, settings: ModelSettings | None = None):
    """One run of the dataset's pipeline job for partition `key`, materializing `selection` (asset names or keys)."""
    settings = settings or project.settings
    defs = build_definitions(models=[settings], mlflow_tracking=project.tracking, notifier=Notifier())
    return defs.resolve_job_def(pipeline_job(settings)).execute_in_process(
        instance=instance,
        partition_key=key,
        asset_selection=asset_keys(settings, selection),
        raise_on_error=False,
    )


def step_error(result, step: str) -> str:
    """The failure message of `step`, with its causes (a user exception is the cause of Dagster's own error)."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure and event.step_key.split("__")[-1] == step.split("/")[-1]:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


def aliases(project) -> dict[str, str | None]:
    """Where `champion` and `previous_champion` point (None when unset)."""
    return {alias: alias_version(project.client, project.settings.model_name, alias) for alias in (CHAMPION, PREVIOUS)}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def webhook() -> Iterator[SimpleNamespace]:
    """A real webhook receiver on loopback: `url` to post alerts to, `posts` the JSON bodies received, in order."""
    posts: list = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass  # keep the test output to what the tests say

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/alerts", posts=posts)
    finally:
        server.shutdown()
        server.server_close()
