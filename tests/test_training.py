"""Training through Dagster into MLflow: the logged model, its manifest and metadata, reproducibility,
classification through the same training code, and any estimator family through the real pipeline.

The test model's dataset's first version is materialized twice (<dataset>/raw_dataset -> <model>/feature_table ->
<model>/dataset_split -> <model>/candidate_model) into a real Dagster instance and a real MLflow store, both under a
temporary folder, with a search of two folds and one parameter set. A linear model of each task (the project's
first model of that task, with its own non-default estimator or a linear one) goes through the same pipeline and
must load trusting only scikit-learn's types and the project's own functions, and serve raw rows.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
import sklearn
import yaml
from pandera.typing import Series
from sklearn.datasets import load_breast_cancer

from mlops_assets.components.project import project_models
from mlops_assets.infra.sources.files import FileSource
from mlops_assets.settings import PROJECT_ROOT, DatasetSettings, EstimatorSettings, ModelSettings, Range
from mlops_assets.stages import manifest as manifests
from mlops_assets.stages import training
from mlops_assets.stages.estimators import search_distributions, search_size
from mlops_assets.stages.metrics import classification_metrics, task_metrics
from mlops_assets.stages.splitting import split_rows
from mlops_assets.stages.validation import contract_hash
from mlops_assets.wiring.assets.training import TRAINING_CODE_VERSION
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import DATASET, FAST_SEARCH, FAST_SPACE, MODEL, land, make_project, run_assets, step_error

SETTINGS = MODEL
TASK = SETTINGS.task
RawData = DATASET.raw_contract()
MODEL_INPUT_COLUMNS = SETTINGS.input_columns
LEAKY = [SETTINGS.target, *SETTINGS.leakage_columns]  # the target and the columns that give it away
CV_METRIC = "cv_neg_root_mean_squared_error" if TASK == "regression" else "cv_roc_auc"
TRAINING = ["raw_dataset", "feature_table", "dataset_split", "candidate_model"]


def _materialize(project, instance, key: str) -> dict:
    started = time.perf_counter()
    result = run_assets(project, instance, key, TRAINING)
    seconds = time.perf_counter() - started
    assert result.success, step_error(result, "candidate_model")
    events = {
        event.asset_key: event
        for event in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
    }
    settings = project.settings
    return {
        "result": result,
        "seconds": seconds,
        "raw": events[settings.raw_key],
        "metadata": {k: v.value for k, v in events[settings.key("candidate_model")].metadata.items()},
        "split": result.output_for_node(f"{settings.name}__dataset_split"),
    }


@pytest.fixture(scope="module")
def key(keys) -> str:
    return keys[0]


@contextlib.contextmanager
def training_instance(root: Path, empty_home: Path) -> Iterator[dg.DagsterInstance]:
    """A real, persistent Dagster instance of its own under `root` (for module-scoped fixtures)."""
    home = root / "dagster_home"
    shutil.copytree(empty_home, home)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


@pytest.fixture(scope="module")
def trained(tmp_path_factory, _empty_dagster_home, versions, key):
    """The first version materialized twice, in two Dagster runs, against one instance and one MLflow store."""
    project = make_project(tmp_path_factory.mktemp("training"))
    land(project.settings, versions, key)
    with training_instance(project.root, _empty_dagster_home) as instance:
        instance.add_dynamic_partitions(DATASET.partitions_name, [key])
        first = _materialize(project, instance, key)
        second = _materialize(project, instance, key)
        yield {
            "project": project,
            "settings": project.settings,
            "tracking": project.tracking,
            "first": first,
            "second": second,
        }


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
    y = SETTINGS.target_of(holdout)
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
    assert f"{SETTINGS.features}.make_features" in flavor["skops_trusted_types"]
    assert_trusts_only_its_own_types(model_dir, SETTINGS)
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
    space = trained["settings"].estimator.space()
    if SETTINGS.estimator.class_path is None:  # the default estimator, its space cut to one point (FAST_SPACE)
        assert space == FAST_SPACE
        assert metadata["best_params"] == {name: values[0] for name, values in FAST_SPACE.items()}
        assert run.data.params["best_max_iter"] == "50"
    else:  # another estimator keeps its own space
        assert set(metadata["best_params"]) == set(space)
    assert run.data.params == {f"best_{name}": str(value) for name, value in metadata["best_params"].items()}
    # scikit-learn's scores grow with quality: a negated RMSE, or a ROC AUC.
    assert metadata[CV_METRIC] < 0 if TASK == "regression" else 0 < metadata[CV_METRIC] <= 1
    assert run.data.metrics[CV_METRIC] == pytest.approx(metadata[CV_METRIC])
    assert "rank_test_score" in metadata["cv_results"]


def test_the_manifest_records_everything_needed_to_reproduce_the_model(trained, key):
    first, settings = trained["first"], trained["settings"]
    manifest = first["metadata"]["manifest"]
    raw_data_version = first["raw"].tags["dagster/data_version"]

    assert manifest["code_version"] == TRAINING_CODE_VERSION
    assert manifest["data_hash"] == raw_data_version
    assert raw_data_version == FileSource(settings.versions_dir, settings.dataset.contract).content_hash(key)
    assert manifest["contract_hash"] == contract_hash(RawData)
    assert manifest["config_hash"] == config_hash(settings)
    assert manifest["seed"] == settings.seed == 42
    assert manifest["lock_file_hash"] == manifests.file_hash(PROJECT_ROOT / "requirements.lock")
    assert manifest["lock_file_hash"] is not None
    assert manifest["dagster_run_id"] == first["result"].run_id
    assert manifest["mlflow_run_id"] == first["metadata"]["mlflow_run_id"]
    assert manifest["train_until_time"] == first["split"].metadata.get("train_until_time")  # None: a hash split
    assert manifest["dataset_version"] == key


def config_hash(settings: ModelSettings) -> str:
    """The model's configuration hash as the manifest records it: everything but the dataset's folders."""
    return manifests.config_hash(settings.model_dump(exclude={"dataset": {"data_dir", "state_dir"}}))


def test_the_config_hash_follows_the_configuration_but_not_the_folders(trained):
    settings = trained["settings"]
    moved = settings.dataset.model_copy(update={"data_dir": "/elsewhere", "state_dir": "/other"})
    same = settings.model_copy(update={"dataset": moved})
    reseeded = settings.model_copy(update={"seed": 7})
    other_row_key = settings.model_copy(
        update={"dataset": settings.dataset.model_copy(update={"row_key": [*settings.row_key, "extra"]})}
    )

    assert config_hash(same) == config_hash(settings)
    assert config_hash(reseeded) != config_hash(settings)
    assert config_hash(other_row_key) != config_hash(settings)  # the dataset's settings are the model's too


def test_the_mlflow_run_is_named_and_tagged_for_the_dagster_step(trained, client, key):
    first = trained["first"]
    run = client.get_run(first["metadata"]["mlflow_run_id"])
    tags = run.data.tags

    assert run.info.run_name == f"{SETTINGS.name}/candidate_model[{key}]"
    assert run.info.status == "FINISHED"
    assert tags["dagster.run_id"] == first["result"].run_id
    assert tags["dagster.asset"] == f"{SETTINGS.name}/candidate_model"
    assert tags["model"] == SETTINGS.name
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
    if SETTINGS.estimator.class_path is None:
        assert len(cv_results) == 1  # the grid holds one parameter set: n_iter is capped to it
    else:
        size = search_size(search_distributions(trained["settings"].estimator, behind_step=False))
        assert len(cv_results) == (FAST_SEARCH.n_iter if size is None else min(FAST_SEARCH.n_iter, size))
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


class CancerRows(pa.DataFrameModel):
    """The forker's raw contract: a patient per row, the label 0/1 (the measurements are not described here)."""

    patient_id: Series[str] = pa.Field(unique=True)
    malignant: Series[int] = pa.Field(isin=[0, 1])


class CancerFeatures:
    """The forker's feature code, as a model's `features:` names it (make_features, MODEL_INPUT_COLUMNS, Features)."""

    make_features = staticmethod(select_cancer_features)
    MODEL_INPUT_COLUMNS = CANCER_FEATURES
    Features = None


def cancer_model(root: Path) -> ModelSettings:
    """A classification model of the forker's own dataset (no time order: a hash split of the patient id)."""
    dataset = DatasetSettings(
        name="cancer",
        contract=f"{__name__}:CancerRows",
        row_key=["patient_id"],
        data_dir=str(root / "data"),
        state_dir=str(root / "state"),
    )
    return ModelSettings(
        name="cancer_screening",
        dataset=dataset,
        features=f"{__name__}:CancerFeatures",
        task="classification",
        target="malignant",
        search=FAST_SEARCH,
        estimator=EstimatorSettings(search_space=FAST_SPACE),
    )


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


def test_classification_trains_scores_and_logs_through_the_same_code(cancer, tmp_path):
    settings = cancer_model(tmp_path)
    assert settings.split.method == "hash"  # the dataset has no row_time
    CancerRows.validate(cancer[["patient_id", "malignant"]], lazy=True)
    split = split_rows(cancer, "hash", 0.25, settings.row_key)
    assert 0 < split.holdout["malignant"].mean() < 1

    trained = training.tune_and_train(select_cancer_features(split.train), settings.target_of(split.train), settings)
    pipeline = training.serving_pipeline(
        trained.estimator,
        split.train,
        settings,
        input_check=False,  # the forker's contract does not describe the measurements
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
    assert pipeline.named_steps["features"].func is select_cancer_features  # the model's own feature code

    tracking = MLflowTracking(state_dir=str(tmp_path / "state"))  # no MLFLOW_TRACKING_URI (conftest)
    experiment_id = tracking.ensure_experiment()
    tracking.activate()
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


# ----------------------------------------------------------------------------------------------------------
# Any estimator family: a linear model of each task through the real pipeline, loaded trusting only its own types
# ----------------------------------------------------------------------------------------------------------

# A linear model per task: it needs the one-hot encoding and scaling that trees do without.
LINEAR = {
    "regression": EstimatorSettings(
        class_path="sklearn.linear_model.Ridge", search_space={"alpha": Range(low=0.1, high=100.0, log=True)}
    ),
    "classification": EstimatorSettings(
        class_path="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 1000},
        search_space={"C": Range(low=0.01, high=100.0, log=True)},
    ),
}
FINAL_CLASS = {"regression": "Ridge", "classification": "LogisticRegression"}
VALIDATION_FUNCTION = "mlops_assets.stages.validation.validate_model_input"


def first_model_of(task: str) -> ModelSettings | None:
    return next((m for m in project_models().values() if m.task == task), None)


def project_types(settings: ModelSettings) -> set[str]:
    """The project's own code a logged model refers to: its feature function and the input check."""
    return {f"{settings.features}.make_features", VALIDATION_FUNCTION}


def assert_trusts_only_its_own_types(model_dir: Path, settings: ModelSettings) -> list[str]:
    """The MLmodel's skops trusted types: scikit-learn's and the project's own functions, each by its full name,
    exactly what the saved file needs; the model loads trusting them and nothing else, and not without them."""
    import skops.io

    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["sklearn"]
    trusted = flavor["skops_trusted_types"]
    assert flavor["serialization_format"] == "skops"
    own = project_types(settings)
    assert own <= set(trusted), trusted
    assert [t for t in trusted if t not in own and not t.startswith("sklearn.")] == [], trusted
    assert all(t.count(".") >= 1 and "*" not in t and not t.startswith(("builtins.", "__")) for t in trusted)
    path = model_dir / flavor["pickled_model"]
    assert sorted(skops.io.get_untrusted_types(file=path)) == sorted(trusted)  # exactly what the file needs
    skops.io.load(path, trusted=trusted)
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        skops.io.load(path, trusted=[t for t in trusted if t != f"{settings.features}.make_features"])
    return trusted


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_a_linear_model_of_each_task_trains_loads_trusting_only_its_types_and_serves(
    task, tmp_path, instance, versions, keys
):
    configured = first_model_of(task)
    if configured is None:
        pytest.skip(f"the project has no {task} model")
    # A model that already names a non-default family (busy_hours: LogisticRegression) keeps it as configured.
    estimator = configured.estimator if configured.estimator.class_path else LINEAR[task]
    project = make_project(tmp_path, name=configured.name, estimator=estimator)
    settings = project.settings
    assert settings.task == task and settings.estimator.class_path.rsplit(".", 1)[-1] == FINAL_CLASS[task]
    if settings.dataset.name != DATASET.name:  # a model of another dataset: that dataset's versions
        from mlops_assets.commands.landing import source_versions

        versions = dict(source_versions(settings.dataset))
        keys = list(versions)
    key = keys[0]
    land(settings, versions, key)
    instance.add_dynamic_partitions(settings.dataset.partitions_name, [key])
    run = _materialize(project, instance, key)

    metadata, split = run["metadata"], run["split"]
    assert set(metadata["best_params"]) == set(settings.estimator.space())
    project.tracking.activate()
    uri = metadata["model_uri"]
    model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    assert_trusts_only_its_own_types(model_dir, settings)

    # The logged model is the feature code, the preprocessing the family needs and the estimator.
    loaded = mlflow.sklearn.load_model(uri)
    assert list(loaded.named_steps) == ["contract", "features", "model"]
    fitted = loaded.named_steps["model"]
    assert type(fitted.named_steps["estimator"]).__name__ == FINAL_CLASS[task]
    assert {name for name, _, _ in fitted.named_steps["preprocess"].transformers} == {"one_hot", "scale"}

    # Served: raw rows (every column but the target and its parts) through pyfunc, as the model server does.
    rows = split.holdout.drop(columns=[settings.target, *settings.leakage_columns])
    served = np.asarray(mlflow.pyfunc.load_model(uri).predict(rows), dtype=float)
    scored = training.predict(loaded, rows, task)
    y = settings.target_of(split.holdout)
    if task == "regression":
        np.testing.assert_allclose(served, scored)
        assert task_metrics(task, y, scored)["rmse"] < y.std()  # better than always predicting the mean
    else:
        assert served.shape == (len(rows), 2)
        np.testing.assert_allclose(served.sum(axis=1), 1.0)
        np.testing.assert_allclose(served[:, 1], scored)
        assert task_metrics(task, y, scored)["roc_auc"] > 0.6  # better than chance
