"""Training through Dagster into MLflow: the logged model, its manifest and metadata, reproducibility, and
classification through the same training code.

The configured data set's first version is materialized twice (raw_dataset -> feature_table -> dataset_split ->
candidate_model) into a real Dagster instance and a real MLflow store, both under a temporary folder, with a
search of two folds and one parameter set.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
import pytest
import sklearn
import yaml
from sklearn.datasets import load_breast_cancer

from mlops_assets.commands.landing import land_version
from mlops_assets.settings import PROJECT_ROOT, ProjectSettings
from mlops_assets.contracts import RawData
from mlops_assets.features import MODEL_INPUT_COLUMNS
from mlops_assets.infra.alerts import Notifier
from mlops_assets.infra.sources.files import FileSource
from mlops_assets.stages import manifest as manifests
from mlops_assets.stages import training
from mlops_assets.stages.metrics import classification_metrics, task_metrics
from mlops_assets.stages.splitting import split_rows
from mlops_assets.stages.targets import target_values
from mlops_assets.stages.validation import contract_hash
from mlops_assets.wiring.assets.features import dataset_split, feature_table
from mlops_assets.wiring.assets.ingestion import raw_dataset
from mlops_assets.wiring.assets.training import TRAINING_CODE_VERSION, candidate_model
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import FAST_SEARCH

SETTINGS = ProjectSettings()
TASK = SETTINGS.task
LEAKY = [SETTINGS.target, *SETTINGS.leakage_columns]  # the target and the columns that give it away
CV_METRIC = "cv_neg_root_mean_squared_error" if TASK == "regression" else "cv_roc_auc"


def _materialize(instance, settings: ProjectSettings, tracking: MLflowTracking, key: str) -> dict:
    started = time.perf_counter()
    result = dg.materialize(
        [raw_dataset, feature_table, dataset_split, candidate_model],
        partition_key=key,
        instance=instance,
        resources={"settings": settings, "mlflow_tracking": tracking, "notifier": Notifier()},
    )
    seconds = time.perf_counter() - started
    assert result.success
    events = {
        event.asset_key.to_user_string(): event
        for event in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
    }
    return {
        "result": result,
        "seconds": seconds,
        "raw": events["raw_dataset"],
        "metadata": {k: v.value for k, v in events["candidate_model"].metadata.items()},
        "split": result.output_for_node("dataset_split"),
    }


@pytest.fixture(scope="module")
def key(keys) -> str:
    return keys[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, versions, key):
    """The first version materialized twice, in two Dagster runs, against one instance and one MLflow store."""
    tmp = tmp_path_factory.mktemp("training")
    settings = ProjectSettings(data_dir=str(tmp / "data"), state_dir=str(tmp / "state"), search=FAST_SEARCH)
    tracking = MLflowTracking(state_dir=settings.state_dir)
    land_version(settings.versions_dir, key, versions[key])
    (tmp / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test(temp_dir=str(tmp / "dagster_home")) as instance:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)  # never log to a developer's tracking server
        instance.add_dynamic_partitions("dataset_version", [key])
        first = _materialize(instance, settings, tracking, key)
        second = _materialize(instance, settings, tracking, key)
        yield {"settings": settings, "tracking": tracking, "first": first, "second": second}


@pytest.fixture
def client(trained):
    """The MLflow client of the fixture's store, which is also made the global tracking URI for mlflow.* calls."""
    mlflow.set_tracking_uri(trained["tracking"].uri)
    return trained["tracking"].client()


@pytest.fixture
def model_dir(trained, client) -> Path:
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=trained["first"]["metadata"]["model_uri"]))


def raw_holdout_rows(trained) -> pd.DataFrame:
    """The holdout as raw contract rows would arrive for scoring: every column but the target and its parts."""
    return trained["first"]["split"].holdout.drop(columns=LEAKY)


def test_the_logged_model_loads_as_pyfunc_and_sklearn_and_scores_raw_rows(trained, client):
    uri = trained["first"]["metadata"]["model_uri"]
    holdout = trained["first"]["split"].holdout
    rows = raw_holdout_rows(trained)
    assert set(MODEL_INPUT_COLUMNS) < set(rows.columns)  # raw rows, not just the model inputs

    as_pyfunc = np.asarray(mlflow.pyfunc.load_model(uri).predict(rows), dtype=float)
    as_sklearn = training.predict(mlflow.sklearn.load_model(uri), rows, TASK)

    # Served: the value, or both classes' probabilities (negative, positive); batch scoring keeps the positive one.
    np.testing.assert_allclose(as_pyfunc if TASK == "regression" else as_pyfunc[:, 1], as_sklearn)
    y = target_values(holdout, TASK, SETTINGS.target, SETTINGS.positive_label)
    metrics = task_metrics(TASK, y, as_sklearn)
    print(
        f"\nfirst version's holdout ({len(holdout)} rows): {metrics}; Dagster runs "
        f"{trained['first']['seconds']:.1f} s and {trained['second']['seconds']:.1f} s"
    )
    if TASK == "regression":
        assert metrics["rmse"] < y.std()  # better than always predicting the mean
    else:
        assert metrics["roc_auc"] > 0.6  # better than chance


def test_the_signature_takes_raw_contract_columns_without_the_target_or_its_parts(trained, client):
    model_info = mlflow.models.get_model_info(trained["first"]["metadata"]["model_uri"])
    inputs = model_info.signature.inputs.input_names()

    assert inputs == MODEL_INPUT_COLUMNS
    assert not set(LEAKY) & set(inputs)
    assert set(inputs) <= set(RawData.to_schema().columns)
    # the signature is enforced: a row without a model input is refused
    model = mlflow.pyfunc.load_model(trained["first"]["metadata"]["model_uri"])
    missing = MODEL_INPUT_COLUMNS[-1]
    with pytest.raises(mlflow.exceptions.MlflowException, match=missing):
        model.predict(raw_holdout_rows(trained).drop(columns=[missing]))


def test_the_model_is_saved_with_skops_and_explicit_pinned_requirements(model_dir):
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["sklearn"]

    assert flavor["serialization_format"] == "skops"
    assert flavor["pickled_model"] == "model.skops"
    assert (model_dir / "model.skops").is_file()
    assert "mlops_assets.features.make_features" in flavor["skops_trusted_types"]
    assert not [p.name for p in model_dir.rglob("*") if p.suffix in {".pkl", ".pickle", ".joblib", ".cloudpickle"}]
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert requirements == training.pip_requirements()
    assert all("==" in line for line in requirements)


def test_asset_metadata_links_the_mlflow_run_model_and_search(trained, client):
    metadata = trained["first"]["metadata"]
    run = client.get_run(metadata["mlflow_run_id"])

    assert metadata["mlflow_run"] == (
        f"{trained['tracking'].ui_url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        "?workflowType=machine_learning"
    )
    assert metadata["model_uri"].startswith("models:/")
    assert mlflow.models.get_model_info(metadata["model_uri"]).run_id == run.info.run_id
    assert metadata["best_params"] == {
        "max_iter": 50,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 20,
        "l2_regularization": 0.0,
    }
    # scikit-learn's scores grow with quality: a negated RMSE, or a ROC AUC.
    assert metadata[CV_METRIC] < 0 if TASK == "regression" else 0 < metadata[CV_METRIC] <= 1
    assert run.data.metrics[CV_METRIC] == pytest.approx(metadata[CV_METRIC])
    assert run.data.params["best_max_iter"] == "50"
    assert "rank_test_score" in metadata["cv_results"]


def test_the_manifest_records_everything_needed_to_reproduce_the_model(trained, key):
    first, settings = trained["first"], trained["settings"]
    manifest = first["metadata"]["manifest"]
    raw_data_version = first["raw"].tags["dagster/data_version"]

    assert manifest["code_version"] == TRAINING_CODE_VERSION
    assert manifest["data_hash"] == raw_data_version
    assert raw_data_version == FileSource(settings.versions_dir).content_hash(key)
    assert manifest["contract_hash"] == contract_hash(RawData)
    assert manifest["config_hash"] == manifests.config_hash(settings.model_dump(exclude={"data_dir", "state_dir"}))
    assert manifest["seed"] == settings.seed == 42
    assert manifest["lock_file_hash"] == manifests.file_hash(PROJECT_ROOT / "requirements.lock")
    assert manifest["lock_file_hash"] is not None
    assert manifest["dagster_run_id"] == first["result"].run_id
    assert manifest["mlflow_run_id"] == first["metadata"]["mlflow_run_id"]
    assert manifest["train_until_time"] == first["split"].metadata.get("train_until_time")  # None: a hash split
    assert manifest["dataset_version"] == key


def test_the_config_hash_follows_the_configuration_but_not_the_folders(trained):
    settings = trained["settings"]
    same = settings.model_copy(update={"data_dir": "/elsewhere", "state_dir": "/other"})
    reseeded = settings.model_copy(update={"seed": 7})

    def config_hash(s: ProjectSettings) -> str:
        return manifests.config_hash(s.model_dump(exclude={"data_dir", "state_dir"}))

    assert config_hash(same) == config_hash(settings)
    assert config_hash(reseeded) != config_hash(settings)


def test_the_mlflow_run_is_named_and_tagged_for_the_dagster_step(trained, client, key):
    first = trained["first"]
    run = client.get_run(first["metadata"]["mlflow_run_id"])
    tags = run.data.tags

    assert run.info.run_name == f"candidate_model[{key}]"
    assert run.info.status == "FINISHED"
    assert tags["dagster.run_id"] == first["result"].run_id
    assert tags["dagster.asset"] == "candidate_model"
    assert tags["dagster.partition"] == key
    assert tags["dagster.code_version"] == TRAINING_CODE_VERSION
    assert tags["data_version"] == first["raw"].tags["dagster/data_version"]
    assert tags["data_hash"] == tags["data_version"]
    assert not [tag for tag in tags if tag.startswith("manifest.")]  # the manifest is an artifact
    assert run.info.artifact_uri.startswith((Path(trained["settings"].state_dir).resolve() / "mlartifacts").as_uri())


def test_manifest_and_cv_results_are_logged_artifacts(trained, client, tmp_path):
    run_id = trained["first"]["metadata"]["mlflow_run_id"]
    artifacts = {artifact.path for artifact in client.list_artifacts(run_id)}

    assert {"manifest.json", "cv_results.json", "reference_profile.json"} <= artifacts
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json") == trained["first"]["metadata"]["manifest"]
    table = json.loads(Path(client.download_artifacts(run_id, "cv_results.json", str(tmp_path))).read_text())
    cv_results = pd.DataFrame(table["data"], columns=table["columns"])
    assert len(cv_results) == 1  # the grid holds one parameter set: n_iter is capped to it
    assert cv_results["mean_test_score"].iloc[0] == pytest.approx(trained["first"]["metadata"][CV_METRIC])


def test_the_same_version_and_configuration_train_the_same_model(trained, client):
    first, second = trained["first"], trained["second"]
    assert first["result"].run_id != second["result"].run_id
    assert first["metadata"]["mlflow_run_id"] != second["metadata"]["mlflow_run_id"]
    rows = raw_holdout_rows(trained)
    pd.testing.assert_frame_equal(first["split"].holdout, second["split"].holdout)

    predictions = [
        training.predict(mlflow.sklearn.load_model(run["metadata"]["model_uri"]), rows, TASK) for run in (first, second)
    ]

    np.testing.assert_array_equal(predictions[0], predictions[1])
    assert first["metadata"][CV_METRIC] == second["metadata"][CV_METRIC]
    metrics = [client.get_run(run["metadata"]["mlflow_run_id"]).data.metrics for run in (first, second)]
    assert metrics[0] == metrics[1]
    assert first["metadata"]["best_params"] == second["metadata"]["best_params"]
    volatile = {"dagster_run_id", "mlflow_run_id"}
    first_manifest, second_manifest = first["metadata"]["manifest"], second["metadata"]["manifest"]
    assert {k: v for k, v in first_manifest.items() if k not in volatile} == {
        k: v for k, v in second_manifest.items() if k not in volatile
    }
    assert second_manifest["dagster_run_id"] == second["result"].run_id


# ----------------------------------------------------------------------------------------------------------
# Classification: the same training code with a forker's own data and feature function
# ----------------------------------------------------------------------------------------------------------

CANCER_FEATURES = [name.replace(" ", "_") for name in load_breast_cancer().feature_names]


def select_cancer_features(rows: pd.DataFrame) -> pd.DataFrame:
    """A forker's feature function: the measurements as they are (module level, so skops can save it)."""
    return rows[CANCER_FEATURES].astype(float)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    assert list(frame.columns) == CANCER_FEATURES
    return frame.assign(patient_id=[f"p{i:04d}" for i in range(len(frame))], malignant=1 - data.target)


def test_cv_splitters_follow_the_task_and_split_method():
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    assert isinstance(training._cv_splitter("classification", "hash", 3, 1), StratifiedKFold)
    assert type(training._cv_splitter("regression", "hash", 3, 1)) is KFold
    assert isinstance(training._cv_splitter("regression", "time", 3, 1), TimeSeriesSplit)
    assert isinstance(training._cv_splitter("classification", "time", 3, 1), TimeSeriesSplit)


def test_classification_trains_scores_and_logs_through_the_same_code(cancer, tmp_path, monkeypatch):
    split = split_rows(cancer, "hash", 0.25, ["patient_id"])
    assert 0 < split.holdout["malignant"].mean() < 1

    trained = training.tune_and_train(
        select_cancer_features(split.train), split.train["malignant"], "classification", FAST_SEARCH, 42, "hash"
    )
    pipeline = training.serving_pipeline(
        trained.estimator,
        split.train,
        feature_fn=select_cancer_features,
        input_columns=CANCER_FEATURES,
        input_check=None,  # the bike contract does not describe this data set
    )
    proba = training.predict(pipeline, split.holdout, "classification")
    metrics = classification_metrics(split.holdout["malignant"], proba)

    assert trained.scoring == "roc_auc"
    assert 0.9 < trained.cv_score <= 1.0
    assert np.all((proba >= 0) & (proba <= 1))
    assert metrics["roc_auc"] > 0.95
    assert metrics["accuracy"] > 0.85
    # the target and the row key are not inputs
    assert list(pipeline.named_steps["features"].feature_names_in_) == CANCER_FEATURES

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking = MLflowTracking(state_dir=str(tmp_path / "state"))
    experiment_id = tracking.ensure_experiment()
    mlflow.set_tracking_uri(tracking.uri)
    with mlflow.start_run(experiment_id=experiment_id):
        uri = training.log_candidate(
            pipeline, trained, split.train[CANCER_FEATURES], "classification", {"seed": 42}, {}
        )
    loaded = mlflow.sklearn.load_model(uri)
    np.testing.assert_allclose(training.predict(loaded, split.holdout, "classification"), proba)


def test_the_target_and_the_leakage_columns_are_never_model_inputs():
    from mlops_assets.stages.training import check_model_inputs

    assert not set(LEAKY) & set(MODEL_INPUT_COLUMNS)
    check_model_inputs(SETTINGS)
    leaking = SETTINGS.model_copy(update={"leakage_columns": [*SETTINGS.leakage_columns, MODEL_INPUT_COLUMNS[0]]})
    with pytest.raises(ValueError, match=f"contains \\['{MODEL_INPUT_COLUMNS[0]}'\\].*must never be model inputs"):
        check_model_inputs(leaking)
