"""Scenario tests of the whole loop: dataset versions land, the real sensors decide, the requested runs run.

The scenarios are the bike_rentals model's (a regression on the bikeshare dataset, judged by its RMSE): the
project holds that model and its dataset, with the bikeshare_version_sensor and the bike_rentals_retraining_sensor.

Every scenario starts from the same state: one version (`2011-01`, January 1-28) landed, ingested, trained and
promoted as champion version 1. That state is built once per module (`champion_template`) and copied for each
scenario, so each one has its own Dagster instance, MLflow database, data and stored asset values. The MLflow
database records where its artifacts live (an absolute path), so the copies keep reading the template's model files
and write their own new runs' files there too, each under its own run id; the copies' artifact folders are not made.

The sensors are driven as the daemon would drive them (`main.SensorDriver`, `main.run_until_quiet`): partition
requests and asset events applied, run requests run in-process and tagged with the sensor and run key. Every
scenario ends by starting a second driver with a fresh cursor over the same instance and checking that it runs
nothing: the instance, not the driver's memory, says what was done.

The versions are small (600 to 1,300 rows) and derived from the real 2011 rows: "stable" rows are the champion's
January four weeks later (the same weekdays, hours and weather, counts drawn around the old ones), "shifted" rows are
real July days, and the cooldown scenario lands real February days.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.commands.main import version_table
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.versions import land_version
from mlops_assets.infra.alerts import Notifier
from mlops_assets.settings import EstimatorSettings, ModelSettings, RetrainSettings, SearchSettings
from mlops_assets.stages.registry import CHAMPION, PREVIOUS
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensor_driver import SensorDriver, run_until_quiet
from mlops_assets.wiring.sensors.alerts import failed_only_on_gates
from tests.conftest import FAST_SEARCH, asset_keys, model_settings

MODEL_NAME = "bike_rentals"
MODEL = model_settings(name=MODEL_NAME)  # its names (keys, sensors, partitions); each loop has its own folders
DATASET = MODEL.dataset.name
VERSION_SENSOR, RETRAINING_SENSOR = f"{DATASET}_version_sensor", f"{MODEL_NAME}_retraining_sensor"
DEMO_MODELS = ["bike_rentals", "busy_hours"]  # the demo's two models, both on the bikeshare dataset
BASE = "2011-01"
# Assets with a materialization per partition (retraining_decision is recorded by the retraining sensor).
PARTITIONED_ASSETS = [
    *ingestion_selection(MODEL),
    *training_selection(MODEL),
    MODEL.key("model_monitoring"),
    MODEL.key("retraining_decision"),
]


def retrain_key(key: str, model: str = MODEL_NAME) -> str:
    """The run key of a model's retraining sensor's run for version `key`."""
    return f"retrain:{model}:{key}"


# --- data -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def winter(bikeshare: pd.DataFrame) -> pd.DataFrame:
    """January 1-28 of 2011 (618 rows): the champion's version."""
    return bikeshare[bikeshare["day"] <= 28].reset_index(drop=True)


def four_weeks_later(rows: pd.DataFrame, first_day: int, last_day: int, seed: int) -> pd.DataFrame:
    """New days first_day..last_day drawn from the same process as the rows 28 days earlier.

    Each new hour takes the calendar and weather of the same weekday and hour four weeks before, and new counts
    drawn around the old ones (Poisson): the same distribution of weather, hours and rentals, not the same rows.
    The measurements are not jittered: they are recorded on a grid (temp in steps of 0.02), and values off that
    grid are a real change of distribution, which the drift bins of monitoring.py rightly see.
    """
    rng = np.random.default_rng(seed)
    source = rows[rows["day"].between(first_day - 28, last_day - 28)]
    later = source.assign(day=source["day"] + 28, mnth=np.where(source["day"] + 28 <= 31, "Jan", "Feb"))
    later["casual"] = rng.poisson(later["casual"])
    later["registered"] = rng.poisson(later["registered"])
    later["bikers"] = later["casual"] + later["registered"]
    return later


def stable(winter: pd.DataFrame, last_day: int = 56) -> pd.DataFrame:
    """The winter version and the same winter again, four weeks later (days 29..last_day)."""
    return pd.concat([winter, four_weeks_later(winter, 29, last_day, seed=0)], ignore_index=True)


def through_day(bikeshare: pd.DataFrame, last_day: int) -> pd.DataFrame:
    """The real rows of 2011 up to day `last_day`: a cumulative snapshot."""
    return bikeshare[bikeshare["day"] <= last_day].reset_index(drop=True)


# --- the loop ---------------------------------------------------------------------------------------------------


def project_settings(root: Path, name: str = MODEL_NAME, **overrides) -> ModelSettings:
    """A demo model with its folders under `root` and the fast search budget (two draws of its own space)."""
    return model_settings(root, name=name, **{"search": FAST_SEARCH, **overrides})


@dataclass
class Loop:
    """One project: its folders, its Dagster instance, its models (bike_rentals unless said otherwise) on the
    bikeshare dataset, and a sensor driver with the given settings."""

    root: Path
    instance: dg.DagsterInstance
    models: list[ModelSettings]
    driver: SensorDriver

    @classmethod
    def open(cls, root: Path, instance: dg.DagsterInstance, names=(MODEL_NAME,), **overrides) -> Loop:
        models = [project_settings(root, name, **overrides) for name in names]
        tracking = MLflowTracking(state_dir=models[0].state_dir)
        defs = build_definitions(models=models, mlflow_tracking=tracking, notifier=Notifier())
        return cls(root, instance, models, SensorDriver(defs, instance, root / "sensor_cursors.json"))

    def reconfigure(self, **overrides) -> Loop:
        """The same folders, instance and sensor cursors, with other settings (an edit of the model's defs.yaml)."""
        return Loop.open(self.root, self.instance, [m.name for m in self.models], **overrides)

    @property
    def settings(self) -> ModelSettings:
        """The first model's settings (the scenarios': bike_rentals)."""
        return self.models[0]

    @property
    def sensors(self) -> list[str]:
        return [VERSION_SENSOR, *(f"{model.name}_retraining_sensor" for model in self.models)]

    @property
    def tracking(self) -> MLflowTracking:
        return MLflowTracking(state_dir=self.settings.state_dir)

    def land(self, key: str, frame: pd.DataFrame) -> None:
        land_version(self.settings.versions_dir, key, frame)  # data/bikeshare/versions/<key>/

    def run(self) -> list[dict]:
        return run_until_quiet(self.driver, self.sensors)


@contextlib.contextmanager
def like_a_fresh_run_process(working_dir: Path) -> Iterator[None]:
    """No MLflow tracking URI set in this process, and a working directory of its own: as in a run process.

    The daemon and `dagster dev` start every run in a new process, where MLflow's process-wide tracking URI is not
    set (its default is ./mlflow.db in the working directory). Here earlier tests of this pytest process may have
    set it (`mlflow.set_tracking_uri` also exports it as MLFLOW_TRACKING_URI): it is cleared, so the assets reach
    the project's store through the resource or not at all, and a stray default store lands in `working_dir`.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # Both halves of MLflow's state are put back exactly as they were: the module global and the variable (other
    # test files set one and remove the other with monkeypatch).
    previous_global, previous_env = tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    cwd = Path.cwd()
    mlflow.set_tracking_uri(None)
    os.chdir(working_dir)
    try:
        yield
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous_global)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
    assert not (working_dir / "mlflow.db").exists(), "something used MLflow's default store instead of the project's"


@pytest.fixture(scope="module")
def champion_template(tmp_path_factory, winter) -> Path:
    """A project where version 2011-01 was picked up by the sensor, trained and promoted as champion version 1."""
    root = tmp_path_factory.mktemp("loop_template")
    (root / "dagster_home").mkdir()
    with like_a_fresh_run_process(root), dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        loop = Loop.open(root, instance)
        loop.land(BASE, winter)
        outcomes = loop.run()
        assert [(o["run_key"], o["status"]) for o in outcomes] == [(f"ingest:{BASE}", "success")]
        assert aliases(loop) == {CHAMPION: "1", PREVIOUS: None}
    return root


@pytest.fixture
def loop(champion_template: Path, tmp_path: Path) -> Iterator[Loop]:
    root = tmp_path / "project"
    shutil.copytree(champion_template, root, ignore=shutil.ignore_patterns("mlartifacts"))
    with like_a_fresh_run_process(tmp_path), dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        yield Loop.open(root, instance)


# --- reading the instance and the registry back ------------------------------------------------------------------


def records(instance: dg.DagsterInstance, asset: str | dg.AssetKey, key: str, model: ModelSettings = MODEL) -> list:
    """Materializations of the model's `asset` ("raw_dataset": its dataset's) for partition `key`, newest first."""
    [asset_key] = asset_keys(model, [asset])
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=100
    ).records


def metadata(instance: dg.DagsterInstance, asset: str | dg.AssetKey, key: str, model: ModelSettings = MODEL) -> dict:
    """The metadata of the latest materialization of `asset` for partition `key`, as plain values."""
    found = records(instance, asset, key, model)
    assert found, f"no {asset} materialization for {key}"
    return {name: value.value for name, value in found[0].asset_materialization.metadata.items()}


def partition_snapshot(instance: dg.DagsterInstance, key: str) -> dict[str, list[int]]:
    """Storage ids of every materialization of every asset for partition `key`."""
    return {
        asset.to_user_string(): sorted(r.storage_id for r in records(instance, asset, key))
        for asset in PARTITIONED_ASSETS
    }


def aliases(loop: Loop, model: ModelSettings | None = None) -> dict[str, str | None]:
    from mlflow.exceptions import MlflowException

    client = loop.tracking.client()
    name = (model or loop.settings).model_name
    found = {}
    for alias in (CHAMPION, PREVIOUS):
        try:
            found[alias] = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            found[alias] = None
    return found


def registered_versions(loop: Loop, model: ModelSettings | None = None) -> list[str]:
    name = (model or loop.settings).model_name
    return sorted(str(v.version) for v in loop.tracking.client().search_model_versions(f"name = '{name}'"))


def run_keys(instance: dg.DagsterInstance) -> list[str]:
    return sorted(r.dagster_run.tags.get("dagster/run_key", "") for r in instance.get_run_records())


def summary(outcomes: list[dict]) -> list[tuple[str, str, str]]:
    return [(o["sensor"], o["run_key"], o["status"]) for o in outcomes]


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.AssetCheckEvaluation]:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data for e in events}


def step_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    """step key -> the StepFailureData of each failed step of the run."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return {e.step_key: e.dagster_event.step_failure_data for e in events}


def predictions(loop: Loop, key: str, model: ModelSettings | None = None) -> pd.DataFrame:
    return pd.read_parquet((model or loop.settings).predictions_dir / f"{key}.parquet")


def assert_a_restart_does_nothing(loop: Loop) -> None:
    """A second driver over the same instance, with no cursor at all, requests and runs nothing new."""
    runs_before = {r.dagster_run.run_id for r in loop.instance.get_run_records()}
    restarted = SensorDriver(loop.driver.defs, loop.instance, loop.root / "fresh_sensor_cursors.json")

    assert run_until_quiet(restarted, loop.sensors) == []
    assert {r.dagster_run.run_id for r in loop.instance.get_run_records()} == runs_before


# --- 1. covariate shift -> degradation -> retraining -> promotion --------------------------------------------------


def test_summer_after_winter_degrades_the_champion_and_the_retrained_model_is_promoted(loop, winter, bikeshare):
    key = "2011-07"
    july = bikeshare[bikeshare["day"].between(182, 209)]  # four weeks of July
    loop.land(key, pd.concat([winter, july], ignore_index=True))

    outcomes = loop.run()

    assert summary(outcomes) == [
        (VERSION_SENSOR, f"ingest:{key}", "success"),
        (RETRAINING_SENSOR, retrain_key(key), "success"),
    ]
    monitoring = metadata(loop.instance, "model_monitoring", key)
    assert monitoring["champion_version"] == "1"
    # The January model on July: far more riders than it predicts, in far warmer weather.
    assert monitoring["degraded"] is True
    assert monitoring["relative_change"] > loop.settings.retrain.degradation_margin
    assert monitoring["realized_metric"] > 2 * monitoring["evaluated_metric"]
    assert {"temp", "atemp"} <= set(monitoring["drifted_features"])

    decision = metadata(loop.instance, "retraining_decision", key)
    assert decision["retrain"] is True
    assert decision["triggered"] is True
    assert f"{key}: the realized metric degraded beyond the margin" in decision["reasons"]
    assert "rmse" in decision["evidence"]

    evaluation = metadata(loop.instance, "model_evaluation", key)
    assert evaluation["gates_passed"] is True
    assert evaluation["champion_version"] == "1"
    assert evaluation["candidate_rmse"] < evaluation["champion_rmse"]
    deployed = metadata(loop.instance, "deployed_model", key)
    assert deployed["promoted"] is True
    assert deployed["champion_version"] == "2"
    assert deployed["previous_champion_version"] == "1"
    assert aliases(loop) == {CHAMPION: "2", PREVIOUS: "1"}
    assert registered_versions(loop) == ["1", "2"]
    # Ingested once; scored once by the old champion when ingested, then again by the new one after the retraining.
    assert len(records(loop.instance, "raw_dataset", key)) == 1
    assert len(records(loop.instance, "batch_predictions", key)) == 2
    assert set(predictions(loop, key)["model_version"]) == {"2"}

    [row] = version_table(loop.instance, [key], loop.settings)
    assert row["retrained"].startswith("yes: ")
    assert row["gates"] == "passed"
    assert row["promoted"] == "yes (v2)"

    assert_a_restart_does_nothing(loop)


# --- 2. a worse candidate -> a gate fails -> the champion stays ----------------------------------------------------


def test_a_candidate_that_cannot_learn_fails_the_gates_and_the_champion_stays(loop, winter):
    key = "2011-02-forced"
    loop = loop.reconfigure(
        # One boosting iteration at a tiny learning rate: a model no better than the mean.
        search=SearchSettings(n_iter=1, cv_folds=2),
        estimator=EstimatorSettings(
            search_space={
                "max_iter": [1],
                "learning_rate": [0.001],
                "max_leaf_nodes": [15],
                "min_samples_leaf": [20],
                "l2_regularization": [0.0],
            }
        ),
        # Always "degraded": a realized error can never be 100 % better than the evaluated one.
        retrain=RetrainSettings(degradation_margin=-1.0),
    )
    base_before = partition_snapshot(loop.instance, BASE)
    loop.land(key, stable(winter))

    outcomes = loop.run()

    assert summary(outcomes) == [
        (VERSION_SENSOR, f"ingest:{key}", "success"),
        (RETRAINING_SENSOR, retrain_key(key), "failure"),
    ]
    decision = metadata(loop.instance, "retraining_decision", key)
    assert decision["retrain"] is True
    assert f"{key}: the realized metric degraded beyond the margin" in decision["reasons"]

    retrain_run = outcomes[1]["run_id"]
    checks = check_evaluations(loop.instance, retrain_run)
    assert set(checks) == {
        "absolute_thresholds",
        "beats_baseline",
        "not_worse_than_champion",
        "no_slice_worse_than_champion",
    }
    [evaluation_record] = records(loop.instance, "model_evaluation", key)
    for check in checks.values():
        assert check.asset_key == MODEL.key("model_evaluation")
        assert check.blocking is True
        # Checks declared with check_specs carry no partition of their own: they evaluate the materialization.
        assert check.target_materialization_data.storage_id == evaluation_record.storage_id
    failed = {name for name, check in checks.items() if not check.passed}
    assert {"absolute_thresholds", "beats_baseline", "not_worse_than_champion"} <= failed
    # The run stopped at the gates and nowhere else; the evaluation itself is stored for the UI.
    assert failed_only_on_gates(loop.instance, retrain_run)
    evaluation = metadata(loop.instance, "model_evaluation", key)
    assert evaluation["gates_passed"] is False
    assert set(evaluation["failed_gates"].split(", ")) == failed

    assert records(loop.instance, "deployed_model", key) == []
    assert aliases(loop) == {CHAMPION: "1", PREVIOUS: None}
    assert registered_versions(loop) == ["1"]
    assert set(predictions(loop, key)["model_version"]) == {"1"}
    assert partition_snapshot(loop.instance, BASE) == base_before
    [row] = version_table(loop.instance, [key], loop.settings)
    assert row["gates"].startswith("failed (")
    assert row["promoted"] == "no"

    assert_a_restart_does_nothing(loop)


# --- 3 and 4. a version that breaks the contract stops at raw_dataset ----------------------------------------------


def renamed_column(winter: pd.DataFrame) -> pd.DataFrame:
    return stable(winter, last_day=42).rename(columns={"temp": "temperature"})


def missing_temperatures(winter: pd.DataFrame) -> pd.DataFrame:
    """30 % of the new rows' temperatures empty."""
    frame = stable(winter, last_day=42)
    new = frame.index[frame["day"] > 28]
    empty = np.random.default_rng(0).choice(new, size=round(0.3 * len(new)), replace=False)
    return frame.assign(temp=frame["temp"].mask(frame.index.isin(empty)))


@pytest.mark.parametrize(
    ("make_version", "expected_checks", "failure_cases"),
    [
        (renamed_column, {"temp: column_in_dataframe", "temperature: column_in_schema"}, lambda frame: 2),
        (missing_temperatures, {"temp: not_nullable"}, lambda frame: int(frame["temp"].isna().sum())),
    ],
    ids=["renamed-column", "missing-values"],
)
def test_a_version_that_breaks_the_contract_stops_at_raw_dataset_and_changes_nothing(
    loop, winter, make_version, expected_checks, failure_cases
):
    key = "2011-02-broken"
    frame = make_version(winter)
    base_before = partition_snapshot(loop.instance, BASE)
    runs_before = run_keys(loop.instance)
    loop.land(key, frame)

    outcomes = loop.run()

    assert summary(outcomes) == [(VERSION_SENSOR, f"ingest:{key}", "failure")]
    assert key in loop.instance.get_dynamic_partitions(MODEL.dataset.partitions_name)
    failures = step_failures(loop.instance, outcomes[0]["run_id"])
    assert list(failures) == [f"{DATASET}__raw_dataset"]
    report = failures[f"{DATASET}__raw_dataset"].user_failure_data
    assert set(report.metadata["failed_checks"].value) == expected_checks
    assert report.metadata["failure_cases"].value == failure_cases(frame)
    for check in expected_checks:
        column, rule = check.split(": ")
        assert column in report.description
        assert rule in report.description

    # Nothing downstream ran for the broken version: no features, no scores, no monitoring, no model, no decision.
    assert {asset: ids for asset, ids in partition_snapshot(loop.instance, key).items() if ids} == {}
    assert not (loop.settings.predictions_dir / f"{key}.parquet").exists()
    # Nothing that worked before is touched.
    assert partition_snapshot(loop.instance, BASE) == base_before
    assert aliases(loop) == {CHAMPION: "1", PREVIOUS: None}
    assert registered_versions(loop) == ["1"]
    assert run_keys(loop.instance) == sorted([*runs_before, f"ingest:{key}"])

    assert_a_restart_does_nothing(loop)


# --- 5. stable data -> no retraining -------------------------------------------------------------------------------


def test_the_same_distribution_later_in_time_does_not_retrain(loop, winter):
    key = "2011-02"
    loop.land(key, stable(winter))

    outcomes = loop.run()

    assert summary(outcomes) == [(VERSION_SENSOR, f"ingest:{key}", "success")]
    monitoring = metadata(loop.instance, "model_monitoring", key)
    assert monitoring["champion_version"] == "1"
    assert monitoring["degraded"] is False
    assert monitoring["relative_change"] <= loop.settings.retrain.degradation_margin
    assert monitoring["dataset_drift"] is False
    assert monitoring["drifted_features"] == []

    decision = metadata(loop.instance, "retraining_decision", key)
    assert decision["retrain"] is False
    assert decision["triggered"] is False
    assert "no degradation and no dataset drift" in decision["reasons"]
    assert "not triggered" in decision["reasons"]

    assert retrain_key(key) not in run_keys(loop.instance)
    for asset in ["dataset_split", "candidate_model", "model_evaluation", "deployed_model"]:
        assert records(loop.instance, asset, key) == [], asset
    assert aliases(loop) == {CHAMPION: "1", PREVIOUS: None}
    assert set(predictions(loop, key)["model_version"]) == {"1"}
    [row] = version_table(loop.instance, [key], loop.settings)
    assert row["retrained"] == "no: no degradation and no dataset drift"
    assert row["promoted"] == "no"

    assert_a_restart_does_nothing(loop)


# --- 6. the cooldown holds a second trigger back -------------------------------------------------------------------


def test_the_cooldown_holds_back_the_version_after_a_retraining(loop, bikeshare):
    first, second = "2011-02a", "2011-02b"
    loop = loop.reconfigure(retrain=RetrainSettings(cooldown_versions=1, degradation_margin=-1.0))

    loop.land(first, through_day(bikeshare, 42))
    first_outcomes = loop.run()
    loop.land(second, through_day(bikeshare, 56))
    second_outcomes = loop.run()

    assert summary(first_outcomes) == [
        (VERSION_SENSOR, f"ingest:{first}", "success"),
        (RETRAINING_SENSOR, retrain_key(first), "success"),
    ]
    assert summary(second_outcomes) == [(VERSION_SENSOR, f"ingest:{second}", "success")]
    assert metadata(loop.instance, "retraining_decision", first)["retrain"] is True
    assert metadata(loop.instance, "deployed_model", first)["champion_version"] == "2"
    assert metadata(loop.instance, "model_monitoring", second)["champion_version"] == "2"

    held = metadata(loop.instance, "retraining_decision", second)
    assert held["degraded"] is True
    assert held["triggered"] is True, "the policy voted to retrain ..."
    assert held["retrain"] is False, "... and the cooldown held it back"
    assert f"cooldown: {first} retrained 1 version ago, promoted (cooldown 1)" in held["reasons"]
    assert retrain_key(second) not in run_keys(loop.instance)
    assert aliases(loop) == {CHAMPION: "2", PREVIOUS: "1"}
    [row] = version_table(loop.instance, [second], loop.settings)
    assert row["retrained"] == f"no: cooldown: {first} retrained 1 version ago, promoted (cooldown 1)"

    assert_a_restart_does_nothing(loop)


# --- 7. two models on one dataset: one ingestion per version, a champion and a decision each ----------------------


def test_the_two_demo_models_share_each_ingestion_and_each_keeps_its_own_champion(tmp_path, winter, bikeshare):
    """bike_rentals (regression) and busy_hours (classification) read the bikeshare dataset: each version is ingested
    once for both, each model is trained, gated, promoted and monitored in its own registered model, and each
    retraining sensor decides for its own model."""
    root = tmp_path / "project"
    (root / "dagster_home").mkdir(parents=True)
    with like_a_fresh_run_process(tmp_path), dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        loop = Loop.open(root, instance, names=DEMO_MODELS)
        models = loop.models
        assert loop.sensors == [VERSION_SENSOR, *(f"{name}_retraining_sensor" for name in DEMO_MODELS)]

        loop.land(BASE, winter)
        first = loop.run()

        # One run for the first version: the dataset ingested once, and both models trained and promoted in it.
        assert summary(first) == [(VERSION_SENSOR, f"ingest:{BASE}", "success")]
        assert len(records(instance, "raw_dataset", BASE)) == 1
        for model in models:
            assert metadata(instance, "deployed_model", BASE, model)["promoted"] is True
            assert aliases(loop, model) == {CHAMPION: "1", PREVIOUS: None}
            assert registered_versions(loop, model) == ["1"]
            assert set(predictions(loop, BASE, model)["model_version"]) == {"1"}
        assert {m.model_name for m in models} == set(DEMO_MODELS)  # two registered models, not one

        key = "2011-07"
        july = bikeshare[bikeshare["day"].between(182, 209)]
        loop.land(key, pd.concat([winter, july], ignore_index=True))
        second = loop.run()

        assert summary(second)[0] == (VERSION_SENSOR, f"ingest:{key}", "success")
        assert len(records(instance, "raw_dataset", key)) == 1, "ingested once for both models"
        retrained = {}
        for model in models:
            # Each champion judged the new rows, and its own retraining sensor recorded a decision about them.
            assert len(records(instance, "model_monitoring", key, model)) == 1
            assert metadata(instance, "model_monitoring", key, model)["champion_version"] == "1"
            decision = metadata(instance, "retraining_decision", key, model)
            retrained[model.name] = decision["retrain"]
            assert (retrain_key(key, model.name) in run_keys(instance)) is decision["retrain"]
        # The January rentals model on July is the covariate shift of scenario 1: it retrains.
        assert retrained["bike_rentals"] is True
        assert [(o["sensor"], o["run_key"]) for o in second[1:]] == [
            (f"{name}_retraining_sensor", retrain_key(key, name)) for name in DEMO_MODELS if retrained[name]
        ]
        for outcome in second[1:]:  # a retraining run succeeds, or stops at a gate of its own model
            assert outcome["status"] == "success" or failed_only_on_gates(instance, outcome["run_id"]), outcome
        assert second[1]["status"] == "success", "bike_rentals' retrained model passes its gates (scenario 1)"
        for model in models:
            [row] = version_table(instance, [key], model)
            promoted = bool(records(instance, "deployed_model", key, model))
            promoted = promoted and metadata(instance, "deployed_model", key, model)["promoted"]
            assert row["promoted"] == ("yes (v2)" if promoted else "no")
            assert aliases(loop, model)[CHAMPION] == ("2" if promoted else "1")
            # Scored by whichever model is its champion afterwards, into the model's own predictions folder.
            scored = predictions(loop, key, model)
            assert set(scored["model_version"]) == {aliases(loop, model)[CHAMPION]}
            assert len(scored) == len(winter) + len(july)

        assert_a_restart_does_nothing(loop)
