"""A dataset's settings: where its versions come from, its contract, its row key and its time order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from mlops_assets.settings.paths import Settings, default_data_dir, default_state_dir, load_object


class SourceSettings(Settings):
    """Where the main job gets dataset versions from: a source file under data/, cut into cumulative versions."""

    file: str = Field(
        default="bikeshare_2011.csv",
        description="data: the source file (CSV or Parquet), in data/ or an absolute path.",
    )
    versions: int = Field(default=12, ge=1, description="How many versions the source is cut into.")
    cut: str = Field(
        default="mlops_assets.demo.versions:monthly_versions",
        description="'module:function' that cuts the source into (key, rows) versions. The default for any data "
        "set is mlops_assets.commands.landing:cumulative_versions (by row_time, or in the file's order).",
    )


class DataSourceSettings(Settings):
    """Where dataset versions are read from (infra/sources/): folders of files (the default) or a database.

    `kind`, `url` and `table` default to $MLOPS_DATA_SOURCE, $MLOPS_DATA_SOURCE_URL and $MLOPS_DATA_SOURCE_TABLE,
    so that a deployment chooses its source by configuration (deploy/env.example), as it chooses its executor.
    """

    kind: Literal["files", "database"] = Field(
        default_factory=lambda: os.environ.get("MLOPS_DATA_SOURCE") or "files",
        description="files: one folder <url>/<key>/ of CSV and Parquet files per version; database: the rows of "
        "`table` (or `query`) for the version, through SQLAlchemy.",
    )
    url: str | None = Field(
        default_factory=lambda: os.environ.get("MLOPS_DATA_SOURCE_URL") or None,
        description="files: the folder of version folders, a path or an fsspec URL (file://, s3://, memory://); "
        "None: data/<dataset>/versions.",
    )
    quiet_period_seconds: float = Field(
        default=30.0,
        ge=0.0,
        description="files: a version folder is ingested once nothing in it changed for this long, so that a "
        "folder still being copied is never read half-written; a folder landed with a .landed manifest "
        "(commands/landing.py) is ingested at once.",
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


class DatasetFields(Settings):
    """What a dataset component's defs.yaml says."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="The dataset's name: the prefix of its asset keys, its partitions ('<name>_versions'), its "
        "sensor and its folder data/<name>/versions/. Lower case, digits and _.",
    )
    description: str = Field(default="", description="What the data is, for the asset catalog.")
    contract: str = Field(
        description="'module:Class' of the Pandera DataFrameModel every version must meet (beside this YAML)."
    )
    row_key: list[str] = Field(
        min_length=1,
        description="Columns that identify a row: the hash split, duplicate checks and predictions use them.",
    )
    row_time: str | None = Field(
        default=None,
        description="'module:function' giving each row's position in time as a sortable number (beside the "
        "contract); None: the rows have no time order (models split by a hash of the row key).",
    )
    data_source: DataSourceSettings = Field(default_factory=DataSourceSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)


class DatasetSettings(DatasetFields):
    """A dataset at run time: its fields and the project's folders (from the environment, never from YAML)."""

    data_dir: str = Field(default_factory=default_data_dir, description="Holds <dataset>/versions/<key>/ folders.")
    state_dir: str = Field(default_factory=default_state_dir, description="Local Dagster and MLflow state.")

    @property
    def partitions_name(self) -> str:
        return f"{self.name}_versions"

    @property
    def versions_dir(self) -> Path:
        """Where versions are landed by default (the files source's folder unless `data_source.url` says so)."""
        return Path(self.data_dir) / self.name / "versions"

    @property
    def versions_url(self) -> str:
        return self.data_source.url or str(self.versions_dir)

    def raw_contract(self):
        """The Pandera model of the raw rows."""
        return load_object(self.contract)

    def row_time_of(self, frame):
        """Each row's position in time (`row_time`); an error when the dataset has none."""
        if self.row_time is None:
            raise ValueError(f"dataset {self.name!r} has no row_time: its rows have no time order")
        return load_object(self.row_time)(frame)
