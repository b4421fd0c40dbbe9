"""The one typed place a forker edits: where the data is, what to predict, how to split, tune, gate and monitor.

`ProjectSettings` is a Dagster resource, so every asset, check and sensor receives the same validated object, the
UI's Resources page shows the values in force, and tests swap in their own by passing another instance. The data
contract lives in `contracts.py` and the feature code in `features.py`: those are the other two places a forker
touches. The defaults below are the demo's (hourly bike rentals); every one of them that names a column or a
threshold in the data's units is marked "data:".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> str:
    return os.environ.get("MLOPS_DATA_DIR") or str(PROJECT_ROOT / "data")


def default_state_dir() -> str:
    # One state folder holds everything local: the Dagster instance (DAGSTER_HOME) and MLflow's database
    # and artifacts. `state/dagster.yaml` ships with the project; the rest is made by runs.
    return os.environ.get("MLOPS_STATE_DIR") or os.environ.get("DAGSTER_HOME") or str(PROJECT_ROOT / "state")


class SourceSettings(dg.Config):
    """Where the main job gets dataset versions from: a source file under data_dir, cut into cumulative versions."""

    file: str = Field(
        default="bikeshare_2011.csv",
        description="data: the source file (CSV or Parquet), in data/ or an absolute path.",
    )
    versions: int = Field(default=12, ge=1, description="How many versions the source is cut into.")
    cut: str = Field(
        default="mlops_assets.demo.versions:monthly_versions",
        description="'module:function' that cuts the source into (key, rows) versions. "
        "mlops_assets.commands.landing:cumulative_versions cuts any data set, by time (features.row_time) or file order.",
    )


class SplitSettings(dg.Config):
    method: Literal["time", "hash"] = Field(
        default="time",
        description="time: the newest rows are the holdout; hash: a stable hash of the row key decides.",
    )
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)


class SearchSettings(dg.Config):
    """Hyperparameter search: a seeded random search over the grid below, scored by cross-validation."""

    n_iter: int = Field(default=6, ge=1, description="Parameter sets tried (the search budget).")
    cv_folds: int = Field(default=3, ge=2)
    max_iter: list[int] = [100, 200]
    learning_rate: list[float] = [0.05, 0.1, 0.2]
    max_leaf_nodes: list[int] = [15, 31]
    min_samples_leaf: list[int] = [10, 20, 40]
    l2_regularization: list[float] = [0.0, 0.1, 1.0]


class GateSettings(dg.Config):
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
        "confusion matrix and the predicted_label of batch predictions).",
    )
    champion_margin: float = Field(
        default=0.05,
        description="The candidate may be worse than the champion by at most this fraction of the champion's "
        "primary metric, judged on a paired bootstrap interval: fails only when the whole interval is worse than that.",
    )
    slice_margin: float = Field(default=0.25, description="The same margin, per slice.")
    min_slice_rows: int = Field(default=30, description="Slices with fewer holdout rows are not gated.")
    bootstrap_samples: int = Field(default=500, ge=50)


class DriftSettings(dg.Config):
    psi_warn: float = 0.1
    psi_alert: float = 0.2
    dataset_drift_share: float = Field(default=0.5, description="Dataset drift when this share of features drift.")
    psi_bins: int = 10


class MonitoringSettings(dg.Config):
    min_rows: int = Field(
        default=100,
        ge=1,
        description="data: monitoring judges drift and the realized metric only on at least this many rows the "
        "champion never saw; with fewer it records 'too few rows' and the version does not vote for retraining "
        "(one row gave a drift share of 0.89).",
    )


class DataSourceSettings(dg.Config):
    """Where dataset versions come from (sources/): folders of files (the default) or a database table or query.

    `kind`, `url` and `table` default to $MLOPS_DATA_SOURCE, $MLOPS_DATA_SOURCE_URL and $MLOPS_DATA_SOURCE_TABLE,
    so that a deployment chooses its source by configuration (deploy/env.example), as it chooses its executor.
    (`SourceSettings` above is something else: the file the main job cuts into versions and lands.)
    """

    kind: Literal["files", "database"] = Field(
        default_factory=lambda: os.environ.get("MLOPS_DATA_SOURCE") or "files",
        description="files: one folder <url>/<key>/ of CSV and Parquet files per version; database: the rows of "
        "`table` (or `query`) for the version, through SQLAlchemy.",
    )
    url: str | None = Field(
        default_factory=lambda: os.environ.get("MLOPS_DATA_SOURCE_URL") or None,
        description="files: the folder of version folders, a path or an fsspec URL (file://, s3://, memory://); "
        "None: <data_dir>/versions.",
    )
    quiet_period_seconds: float = Field(
        default=30.0,
        ge=0.0,
        description="files: a version folder is ingested once nothing in it changed for this long, so that a "
        "folder still being copied is never read half-written; a folder landed with a .landed manifest "
        "(landing.py) is ingested at once.",
    )
    database_url_env: str = Field(
        default="MLOPS_DATA_SOURCE_DATABASE_URL",
        description="database: the environment variable holding the SQLAlchemy URL (with its credentials; they are "
        "never part of this configuration), e.g. postgresql+psycopg2://user:password@host/db.",
    )
    table: str | None = Field(
        default_factory=lambda: os.environ.get("MLOPS_DATA_SOURCE_TABLE") or None,
        description="database: the table (or schema.table) holding every version's rows.",
    )
    version_column: str = Field(
        default="dataset_version", description="database: the table's column naming the version of each row."
    )
    query: str | None = Field(
        default=None,
        description="database: instead of `table`, a SELECT of one version's rows with the parameter :version.",
    )
    versions_query: str | None = Field(
        default=None, description="database, with `query`: a SELECT of the version keys (one column)."
    )


class RetrainSettings(dg.Config):
    """When monitoring says so, retrain; with hysteresis, a cooldown and a cap so it never storms."""

    degradation_margin: float = Field(
        default=0.15, description="Retrain when the realized metric is worse than evaluated by this fraction."
    )
    retrain_on_dataset_drift: bool = True
    trigger_k: int = Field(default=1, ge=1, description="Retrain when k of the last n decisions say so ...")
    trigger_n: int = Field(default=1, ge=1, description="... out of this many (hysteresis).")
    cooldown_versions: int = Field(default=1, ge=0, description="Versions to wait after a retraining.")
    max_retrains_per_day: int = Field(default=24, ge=1)


class ProjectSettings(dg.ConfigurableResource):
    """Everything about the data, the task and the policies, in one place."""

    data_dir: str = Field(default_factory=default_data_dir, description="Holds versions/<key>/ folders.")
    state_dir: str = Field(default_factory=default_state_dir, description="Local Dagster and MLflow state.")
    model_name: str = Field(default="bike_rentals", description="The registered model in MLflow's registry.")
    seed: int = 42

    # --- the data (data:) ----------------------------------------------------------------------------------------
    task: Literal["regression", "classification"] = "regression"
    target: str = "bikers"
    positive_label: str | None = Field(
        default=None,
        description="Classification: the target label that counts as positive (1). None: the labels are 0/1.",
    )
    row_key: list[str] = Field(
        default=["day", "hr"],
        description="Columns that identify a row: the hash split, duplicate checks and batch predictions use them.",
    )
    leakage_columns: list[str] = Field(
        default=["casual", "registered"],
        description="Columns that must never be model inputs (they give the target away); training refuses them.",
    )
    categorical_columns: list[str] = Field(
        default=["weathersit", "holiday", "workingday", "hr", "weekday"],
        description="Model input columns monitored as categories (the others are numerical).",
    )
    baseline_group_columns: list[str] = Field(
        default=["weekday", "hr"],
        description="Regression baseline: the mean target per group of these columns (empty: the global mean).",
    )
    slice_columns: list[str] = Field(default=["weathersit", "workingday"], description="Metrics and gates per slice.")
    error_plot_column: str | None = Field(
        default="hr", description="Regression: plot the holdout error per value of this column; None: no such plot."
    )

    # --- the policies --------------------------------------------------------------------------------------------
    source: SourceSettings = SourceSettings()
    split: SplitSettings = SplitSettings()
    search: SearchSettings = SearchSettings()
    gates: GateSettings = GateSettings()
    drift: DriftSettings = DriftSettings()
    retrain: RetrainSettings = RetrainSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    data_source: DataSourceSettings = Field(default_factory=DataSourceSettings)

    @property
    def versions_dir(self) -> Path:
        """Where versions are landed by default (the files data source's folder unless `data_source.url` says so)."""
        return Path(self.data_dir) / "versions"

    @property
    def versions_url(self) -> str:
        return self.data_source.url or str(self.versions_dir)

    @property
    def predictions_dir(self) -> Path:
        return Path(self.data_dir) / "predictions"
