"""Training: a seeded hyperparameter search with cross-validation inside the training rows, and the model that
carries its own feature code (it takes raw contract rows), logged to MLflow in skops format with a manifest.

Plain functions; scikit-learn, skops and MLflow are imported where they are used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.infra.faults import fault_point
from mlops_assets.settings import ModelSettings
from mlops_assets.stages.drift import build_reference_profile
from mlops_assets.stages.manifest import build_manifest
from mlops_assets.stages.splitting import Split
from mlops_assets.stages.validation import validate_model_input

# Manifest entries also set as tags of the candidate's MLflow run (and of its registry version).
RUN_TAGS = ("data_hash", "contract_hash", "train_until_time")
# Pinned like the lock file: the environment a logged model needs to load and predict.
MODEL_PIP_PACKAGES = ["scikit-learn", "skops", "pandas", "numpy", "scipy", "pandera", "mlflow"]


@dataclass
class TrainedModel:
    estimator: object  # fitted on the feature table; serving_pipeline() puts the feature code in front of it
    best_params: dict
    cv_score: float
    cv_results: pd.DataFrame
    scoring: str


def serving_pipeline(
    estimator,
    raw_train: pd.DataFrame,
    settings: ModelSettings,
    feature_fn: Callable | None = None,
    input_check: bool = True,
):
    """The model that is logged and served: raw contract rows -> input check -> the features -> the estimator.

    The estimator was fitted on the feature table that the same feature code made, so training, batch scoring
    and the HTTP server share one implementation of the features; the input check (the dataset's contract on the
    model's input columns) travels with the model and refuses rows it cannot score honestly.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    columns = settings.input_columns
    rows = raw_train[columns]
    contract = {"contract": settings.dataset.contract, "columns": columns}
    steps = [("contract", FunctionTransformer(validate_model_input, kw_args=contract).fit(rows))] if input_check else []
    steps.append(("features", FunctionTransformer(feature_fn or settings.feature_code().make_features).fit(rows)))
    return Pipeline([*steps, ("model", estimator)])


def _cv_splitter(task: str, split_method: str, folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    if split_method == "time":
        # Rows come sorted by time (splitting.split_rows): each fold validates on rows after its training rows.
        return TimeSeriesSplit(n_splits=folds)
    if task == "classification":
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def tune_and_train(features: pd.DataFrame, y: pd.Series, settings: ModelSettings) -> TrainedModel:
    """Random search over the estimator's space (search.n_iter sets, seeded), scored by CV on the training rows only.

    `features` are the training rows of the feature table (one implementation: the model's make_features).
    """
    from sklearn.model_selection import RandomizedSearchCV

    from mlops_assets.stages.estimators import build_estimator, search_distributions, search_size

    task, search, seed = settings.task, settings.search, settings.seed
    estimator = build_estimator(settings, features)
    distributions = search_distributions(settings.estimator, behind_step=hasattr(estimator, "steps"))
    size = search_size(distributions)
    scoring = "neg_root_mean_squared_error" if task == "regression" else "roc_auc"
    searcher = RandomizedSearchCV(
        estimator,
        param_distributions=distributions,
        n_iter=min(search.n_iter, size) if size is not None else search.n_iter,
        scoring=scoring,
        cv=_cv_splitter(task, settings.split.method, search.cv_folds, seed),
        random_state=seed,
        n_jobs=1,
        refit=True,
    )
    with single_threaded():
        searcher.fit(features, y)
    cv_results = pd.DataFrame(searcher.cv_results_)
    keep = ["rank_test_score", "mean_test_score", "std_test_score", "mean_fit_time"]
    cv_results = cv_results[[c for c in cv_results if c.startswith("param_")] + keep].sort_values("rank_test_score")
    cv_results.columns = [c.removeprefix("param_").removeprefix("estimator__") for c in cv_results.columns]
    return TrainedModel(
        estimator=searcher.best_estimator_,
        best_params={name.removeprefix("estimator__"): value for name, value in searcher.best_params_.items()},
        cv_score=float(searcher.best_score_),
        cv_results=cv_results.reset_index(drop=True),
        scoring=scoring,
    )


@dataclass(frozen=True)
class Candidate:
    """What the candidate_model asset hands downstream: where the model is and how it was made."""

    model_uri: str
    run_id: str
    manifest: dict
    cv_score: float
    scoring: str = ""
    best_params: dict | None = None
    cv_results: pd.DataFrame | None = None

    def to_metadata(self, run_link) -> dict:
        import dagster as dg

        return {
            "mlflow_run_id": self.run_id,
            "mlflow_run": run_link,
            "model_uri": self.model_uri,
            f"cv_{self.scoring}": self.cv_score,
            "best_params": dg.MetadataValue.json(self.best_params or {}),
            "manifest": dg.MetadataValue.json(self.manifest),
            "cv_results": dg.MetadataValue.md(self.cv_results.round(4).to_markdown(index=False)),
        }


def check_model_inputs(settings: ModelSettings) -> None:
    """Refuse to train on the target or a leakage column (the model's defs.yaml) as a model input."""
    leaking = [c for c in settings.input_columns if c == settings.target or c in settings.leakage_columns]
    if leaking:
        raise ValueError(
            f"{settings.features}.MODEL_INPUT_COLUMNS contains {leaking}: the target and the leakage columns of "
            f"model {settings.name!r} must never be model inputs"
        )


def train_candidate(
    split: Split,
    features: pd.DataFrame,
    settings: ModelSettings,
    *,
    code_version: str,
    data_hash: str | None,
    dataset_version: str,
    dagster_run_id: str,
    mlflow_run_id: str,
) -> Candidate:
    """Tune and train on the split's training rows, and log the model, its manifest and profile to the active run.

    `features` is the feature table of the whole version (features.make_features); the reference profile of the
    training rows is logged with the model so that monitoring compares new data with what this model saw.
    """
    check_model_inputs(settings)
    train = split.train
    inputs = train[settings.input_columns]
    y = settings.target_of(train)
    trained = tune_and_train(features.loc[train.index], y, settings)
    pipeline = serving_pipeline(trained.estimator, train, settings)
    record = build_manifest(
        code_version=code_version,
        data_hash=data_hash,
        dataset_version=dataset_version,
        settings=settings,
        dagster_run_id=dagster_run_id,
        mlflow_run_id=mlflow_run_id,
        train_until_time=split.metadata.get("train_until_time"),
    )
    profile = build_reference_profile(
        inputs,
        predict(pipeline, inputs, settings.task),
        categorical=settings.categorical_columns,
        bins=settings.drift.psi_bins,
    )
    model_uri = log_candidate(pipeline, trained, inputs, settings.task, record, profile)
    fault_point("training.after_log_model")
    return Candidate(
        model_uri=model_uri,
        run_id=mlflow_run_id,
        manifest=record,
        cv_score=trained.cv_score,
        scoring=trained.scoring,
        best_params=trained.best_params,
        cv_results=trained.cv_results,
    )


def single_threaded():
    """Gradient boosting's OpenMP threads, limited to one.

    Measured here (2 cores): with one other busy process on the machine, a 300-iteration fit took 8.8 s on two
    OpenMP threads (they spin-wait for each other) and 0.8 s on one; on an idle machine 0.70 s against 0.76 s.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def predict(model, rows: pd.DataFrame, task: str) -> np.ndarray:
    """Regression: the predicted value; classification: the positive-class probability."""
    with single_threaded():
        if task == "classification":
            return model.predict_proba(rows)[:, 1]
        return model.predict(rows)


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_PIP_PACKAGES]


def skops_trusted_types(model) -> list[str]:
    """The non-sklearn types and functions the saved model refers to (our feature function), checked by name."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def log_candidate(
    pipeline,
    trained: TrainedModel,
    example_rows: pd.DataFrame,
    task: str,
    manifest: dict,
    reference_profile: dict,
) -> str:
    """Log everything about a trained candidate into the active MLflow run; returns the model URI."""
    import mlflow
    from mlflow.models import infer_signature

    example = example_rows.head(5)
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values; the contract forbids them anyway.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column", category=UserWarning)
        # Served predictions match batch scoring: the value for regression, class probabilities for classification.
        served = pipeline.predict(example) if task == "regression" else pipeline.predict_proba(example)
        signature = infer_signature(example, served)
    mlflow.log_params({f"best_{k}": v for k, v in trained.best_params.items()})
    mlflow.log_metric(f"cv_{trained.scoring}", trained.cv_score)
    mlflow.log_table(trained.cv_results, artifact_file="cv_results.json")
    mlflow.log_dict(manifest, "manifest.json")
    mlflow.log_dict(reference_profile, "reference_profile.json")
    # The whole manifest is the artifact above; the run carries only what one filters runs by.
    mlflow.set_tags({key: str(manifest[key]) for key in RUN_TAGS if key in manifest})
    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        serialization_format="skops",
        skops_trusted_types=skops_trusted_types(pipeline),
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),  # explicit: inferring them costs 3-8 s per model
        pyfunc_predict_fn="predict" if task == "regression" else "predict_proba",
    )
    return info.model_uri
