"""A model's settings: its dataset, feature code, target, estimator and search space, split, gates and policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import Field, model_validator

from mlops_assets.settings.dataset import DatasetSettings
from mlops_assets.settings.paths import Settings, load_object


class SplitSettings(Settings):
    method: Literal["auto", "time", "hash"] = Field(
        default="auto",
        description="time: the newest rows are the holdout; hash: a stable hash of the row key decides; auto: time "
        "when the dataset has a row_time, else hash.",
    )
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=1.0, description="The share of a version held out.")


class Range(Settings):
    """A range to sample a numeric parameter from (uniformly, or uniformly in its logarithm)."""

    low: float
    high: float
    log: bool = Field(default=False, description="Sample log-uniformly (for scales such as C or alpha).")
    integer: bool = Field(default=False, description="Whole numbers only (such as max_depth).")


# HistGradientBoosting's space when the estimator is left at its default.
DEFAULT_SEARCH_SPACE: dict[str, list[Any]] = {
    "max_iter": [100, 200],
    "learning_rate": [0.05, 0.1, 0.2],
    "max_leaf_nodes": [15, 31],
    "min_samples_leaf": [10, 20, 40],
    "l2_regularization": [0.0, 0.1, 1.0],
}


# Read from YAML as it is and validated by pydantic below: Dagster's resolvers cannot tell a list from a Range in a
# union, so this field is given to them as plain data.
SearchSpace = Annotated[
    dict[str, list[Any] | Range] | None,
    dg.Resolver(lambda context, value: value, model_field_type=dict[str, Any] | None),
]


class EstimatorSettings(Settings):
    """The estimator: any scikit-learn-compatible class by import path, its fixed parameters and a search space."""

    class_path: str | None = Field(
        default=None,
        description="'module.Class' (or 'module:Class') of a scikit-learn-compatible estimator, e.g. "
        "sklearn.linear_model.LogisticRegression. None: HistGradientBoostingRegressor/Classifier for the task.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed constructor parameters.")
    search_space: SearchSpace = Field(
        default=None,
        description="Parameters to search: a list of values, or a range {low, high, log, integer}. None: the "
        "default estimator's space (empty for any other estimator).",
    )
    preprocessing: Literal["auto", "none", "scale"] = Field(
        default="auto",
        description="What goes between the features and the estimator. scale: one-hot categories and standardise "
        "numbers (linear models, SVMs, neighbours need it); none: the features as they are (trees); auto: scale "
        "unless the estimator is a tree ensemble or a tree.",
    )

    def space(self) -> dict[str, list[Any] | Range]:
        if self.search_space is not None:
            return self.search_space
        return DEFAULT_SEARCH_SPACE if self.class_path is None else {}


class SearchSettings(Settings):
    """Hyperparameter search: a seeded random search over the estimator's space, scored by cross-validation."""

    n_iter: int = Field(default=6, ge=1, description="Parameter sets tried (the search budget).")
    cv_folds: int = Field(default=3, ge=2, description="Cross-validation folds inside the training rows.")


class GateSettings(Settings):
    """Promotion gates (stages/gates.py): a candidate is promoted only when every gate passes."""

    max_rmse: float = Field(default=150.0, description="data: regression holdout RMSE must be at most this.")
    min_r2: float = Field(default=0.5, description="Regression: holdout R² must be at least this.")
    min_roc_auc: float = Field(default=0.7, description="Classification: holdout ROC AUC must be at least this.")
    min_pr_auc: float | None = Field(
        default=None,
        description="Classification: holdout PR AUC (average precision) must be at least this; None: not gated. "
        "With rare positives PR AUC says more than ROC AUC: a random model scores the positive rate.",
    )
    decision_threshold: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Classification: a probability at or above this predicts the positive label (F1, accuracy, the "
        "confusion matrix and the predicted_positive column of batch predictions).",
    )
    champion_margin: float = Field(
        default=0.05,
        description="The candidate may be worse than the champion by at most this fraction of the champion's "
        "primary metric, judged on a paired bootstrap interval: fails only when the whole interval is worse than that.",
    )
    slice_margin: float = Field(default=0.25, description="The same margin, per slice.")
    min_slice_rows: int = Field(default=30, description="Slices with fewer holdout rows are not gated.")
    bootstrap_samples: int = Field(default=500, ge=50, description="Resamples of the paired bootstrap interval.")


class DriftSettings(Settings):
    psi_warn: float = Field(default=0.1, description="A feature's PSI above this is a warning.")
    psi_alert: float = Field(default=0.2, description="A feature's PSI above this counts as drift.")
    dataset_drift_share: float = Field(default=0.5, description="Dataset drift when this share of features drift.")
    psi_bins: int = Field(default=10, description="Quantile bins of a numeric feature for PSI.")


class MonitoringSettings(Settings):
    min_rows: int = Field(
        default=100,
        ge=1,
        description="data: monitoring judges drift and the realized metric only on at least this many rows the "
        "champion never saw; with fewer it records 'too few rows' and the version does not vote for retraining "
        "(one row gave a drift share of 0.89).",
    )


class RetrainSettings(Settings):
    """When monitoring says so, retrain; with hysteresis, a cooldown and a cap so it never storms."""

    degradation_margin: float = Field(
        default=0.15, description="Retrain when the realized metric is worse than evaluated by this fraction."
    )
    retrain_on_dataset_drift: bool = Field(default=True, description="Dataset drift alone triggers a retraining.")
    trigger_k: int = Field(default=1, ge=1, description="Retrain when k of the last n decisions say so ...")
    trigger_n: int = Field(default=1, ge=1, description="... out of this many (hysteresis).")
    cooldown_versions: int = Field(default=1, ge=0, description="Versions to wait after a retraining.")
    cooldown_counts_failed_attempts: bool = Field(
        default=False,
        description="Whether a retraining whose candidate failed its gates starts the cooldown. No by default: a "
        "failed attempt leaves the degraded champion in place, so the next degraded version should try again (with "
        "more data); max_retrains_per_day still keeps failing attempts from storming.",
    )
    max_retrains_per_day: int = Field(default=24, ge=1, description="At most this many retrainings a day.")


class ModelFields(Settings):
    """What a model component's defs.yaml says."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="The model's name: the prefix of its asset keys, its group in the UI, its sensors and (unless "
        "registered_model says otherwise) its registered model in MLflow. Lower case, digits and _.",
    )
    dataset: str = Field(description="The name of the dataset component this model reads.")
    description: str = Field(default="", description="What the model predicts and for whom.")
    features: str = Field(
        description="The module of the feature code (beside this YAML): make_features(raw) -> features, "
        "MODEL_INPUT_COLUMNS (the raw columns it reads) and the Features contract."
    )
    registered_model: str | None = Field(default=None, description="The MLflow registered model; None: `name`.")
    seed: int = Field(default=42, description="Seeds the split's tie-breaks, the search and the estimator.")

    # --- the data (data:) ----------------------------------------------------------------------------------------
    task: Literal["regression", "classification"] = Field(default="regression", description="What is predicted.")
    target: str = Field(description="data: the column to predict.")
    positive_label: str | None = Field(
        default=None,
        description="Classification: the target label that counts as positive (1). None: the labels are 0/1.",
    )
    positive_at_least: float | None = Field(
        default=None,
        description="Classification of a numeric column: a value at or above this counts as positive (busy hours: "
        "bikers >= 250). Instead of positive_label.",
    )
    leakage_columns: list[str] = Field(
        default_factory=list,
        description="Columns that must never be model inputs (they give the target away); training refuses them.",
    )
    categorical_columns: list[str] = Field(
        default_factory=list,
        description="Model input columns that are categories: monitored as such, and one-hot encoded when the "
        "estimator needs scaling.",
    )
    baseline_group_columns: list[str] = Field(
        default_factory=list,
        description="Regression baseline: the mean target per group of these columns (empty: the global mean).",
    )
    slice_columns: list[str] = Field(default_factory=list, description="Metrics and gates per slice.")
    error_plot_column: str | None = Field(
        default=None, description="Regression: plot the holdout error per value of this column; None: no such plot."
    )

    # --- the model and its policies ------------------------------------------------------------------------------
    estimator: EstimatorSettings = Field(default_factory=EstimatorSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    gates: GateSettings = Field(default_factory=GateSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)


class ModelSettings(ModelFields):
    """One model at run time: its fields, with its dataset's settings in place of the dataset's name."""

    dataset: DatasetSettings  # type: ignore[assignment]

    @model_validator(mode="after")
    def _resolve(self) -> ModelSettings:
        if self.split.method == "auto":
            self.split = self.split.model_copy(update={"method": "time" if self.dataset.row_time else "hash"})
        elif self.split.method == "time" and not self.dataset.row_time:
            raise ValueError(
                f"model {self.name!r}: split.method is time, but dataset {self.dataset.name!r} has no row_time"
            )
        if self.positive_label is not None and self.positive_at_least is not None:
            raise ValueError(f"model {self.name!r}: set positive_label or positive_at_least, not both")
        return self

    # --- names -----------------------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        """The registered model in MLflow's registry."""
        return self.registered_model or self.name

    def key(self, asset: str) -> dg.AssetKey:
        """The asset key of one of this model's assets: `<model>/<asset>`."""
        return dg.AssetKey([self.name, asset])

    @property
    def raw_key(self) -> dg.AssetKey:
        return dg.AssetKey([self.dataset.name, "raw_dataset"])

    # --- the dataset's, for the stages -----------------------------------------------------------------------------
    @property
    def row_key(self) -> list[str]:
        return self.dataset.row_key

    @property
    def data_dir(self) -> str:
        return self.dataset.data_dir

    @property
    def versions_dir(self) -> Path:
        return self.dataset.versions_dir

    @property
    def state_dir(self) -> str:
        return self.dataset.state_dir

    @property
    def predictions_dir(self) -> Path:
        return Path(self.dataset.data_dir) / "predictions" / self.name

    def row_time(self, frame):
        return self.dataset.row_time_of(frame)

    # --- the code it names -----------------------------------------------------------------------------------------
    def feature_code(self):
        """The feature module: make_features, MODEL_INPUT_COLUMNS and Features."""
        return load_object(self.features)

    @property
    def input_columns(self) -> list[str]:
        return list(self.feature_code().MODEL_INPUT_COLUMNS)

    def target_of(self, frame):
        """The target of `frame`'s rows as the models see it (stages/targets.py)."""
        from mlops_assets.stages.targets import target_values

        return target_values(frame, self.task, self.target, self.positive_label, self.positive_at_least)

    def label_names(self) -> tuple[str, str]:
        from mlops_assets.stages.targets import label_names

        return label_names(self.positive_label, self.target, self.positive_at_least)
