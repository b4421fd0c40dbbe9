"""The estimator a model's settings name: any scikit-learn-compatible class by import path, the preprocessing its
family needs, and the search space as scikit-learn's random search takes it.

Trees split on thresholds, so they take the features as they are (text categories as ordinal codes); linear models,
SVMs and neighbours compare magnitudes, so they get categories one-hot and numbers standardised. The preprocessing is
a step of the logged model, fitted on the training rows only, so serving runs exactly what training ran.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from mlops_assets.settings import EstimatorSettings, ModelSettings

# Families that split on thresholds: no scaling or one-hot needed.
TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")
ESTIMATOR_STEP = "estimator"  # its parameters are searched as `estimator__<name>` behind a preprocessing step


def estimator_class(settings: EstimatorSettings, task: str) -> type:
    if settings.class_path is None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        return HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    module, _, name = settings.class_path.replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"estimator.class_path {settings.class_path!r} cannot be imported: {error}") from None


def is_tree(cls: type) -> bool:
    return cls.__module__.startswith(TREE_MODULES)


def new_estimator(settings: EstimatorSettings, task: str, seed: int):
    """The configured estimator with its fixed parameters and, where it takes one, the model's seed."""
    cls = estimator_class(settings, task)
    params = dict(settings.params)
    if settings.class_path is None:
        # early_stopping off: it would hold out a random part of the rows and make results depend on it.
        params = {"early_stopping": False, **params}
    estimator = cls(**params)
    if "random_state" in estimator.get_params() and "random_state" not in params:
        estimator.set_params(random_state=seed)
    return estimator


def preprocessor(settings: ModelSettings, features: pd.DataFrame):
    """The step between the features and the estimator, or None when the estimator takes them as they are."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    mode = settings.estimator.preprocessing
    if mode == "auto":
        mode = "none" if is_tree(estimator_class(settings.estimator, settings.task)) else "scale"
    if mode == "none":
        if not text:
            return None
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        return ColumnTransformer([("codes", codes, text)], remainder="passthrough")
    categories = text + [c for c in settings.categorical_columns if c in features.columns and c not in text]
    numbers = [c for c in features.columns if c not in categories]
    return ColumnTransformer(
        [
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categories),
            ("scale", StandardScaler(), numbers),
        ]
    )


def build_estimator(settings: ModelSettings, features: pd.DataFrame):
    """The estimator to fit on the feature table: behind its preprocessing step when its family needs one."""
    from sklearn.pipeline import Pipeline

    estimator = new_estimator(settings.estimator, settings.task, settings.seed)
    step = preprocessor(settings, features)
    return estimator if step is None else Pipeline([("preprocess", step), (ESTIMATOR_STEP, estimator)])


def search_distributions(settings: EstimatorSettings, behind_step: bool) -> dict[str, Any]:
    """The search space as RandomizedSearchCV takes it: lists as they are, ranges as scipy distributions."""
    from scipy import stats

    from mlops_assets.settings import Range

    distributions = {}
    for name, space in settings.space().items():
        if isinstance(space, Range):
            if space.integer:
                space = stats.randint(int(space.low), int(space.high) + 1)
            elif space.log:
                space = stats.loguniform(space.low, space.high)
            else:
                space = stats.uniform(space.low, space.high - space.low)
        distributions[f"{ESTIMATOR_STEP}__{name}" if behind_step else name] = space
    return distributions


def search_size(distributions: dict[str, Any]) -> int | None:
    """How many parameter sets a space of lists holds (None when a range makes it unbounded)."""
    size = 1
    for values in distributions.values():
        if not isinstance(values, list):
            return None
        size *= len(values)
    return size
