"""Where dataset versions come from: one `DataSource` API, used by the dataset-version sensor and by `raw_dataset`.

- `list_versions()`: the versions there, each with None or the reason it can never be a version (a folder link);
- `fingerprint(key)`: a cheap identity (file names, sizes and times; a row count) and when the version last changed;
- `settled(key, fingerprint, now)`: whether the version is complete and may be read;
- `content_hash(key)`: the exact identity, equal to `read(key).content_hash` (the raw asset's data_version);
- `part_hashes(key)`: each part's own SHA-256, equal to `read(key).part_hashes`, to tell which part changed (None:
  the source cannot tell);
- `read(key)`: the version's rows per part (a file, or the query's result), the parts that could not be read, and
  the content hash of exactly what was read.

A dataset's `data_source` chooses the implementation (`data_source`): folders of files (files.py, the default, no
service needed) or a database table or query (database.py). Nothing here keeps state between calls: the sensor's
memory is its cursor and what was ingested is the Dagster instance's. This module stays light (the definitions
import it); pandas, fsspec and SQLAlchemy are imported by the implementations when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The API and its types live in base.py (the implementations import them from there, not from this package).
from mlops_assets.infra.sources.base import (
    FAILURE_COLUMNS,
    DataSource,
    Fingerprint,
    RawVersion,
    VersionUnreadable,
)

if TYPE_CHECKING:
    from mlops_assets.settings import DatasetSettings

__all__ = [
    "FAILURE_COLUMNS",
    "DataSource",
    "Fingerprint",
    "RawVersion",
    "VersionUnreadable",
    "changed_message",
    "data_source",
]


def data_source(dataset: DatasetSettings) -> DataSource:
    """The data source the dataset's `data_source` configures."""
    source = dataset.data_source
    if source.kind == "database":
        from mlops_assets.infra.sources.database import DatabaseSource

        return DatabaseSource.from_settings(source, dataset.row_key)
    from mlops_assets.infra.sources.files import FileSource

    return FileSource(dataset.versions_url, dataset.contract, source.quiet_period_seconds)


def changed_message(
    key: str, recorded: str, current: str, recorded_parts: dict | None = None, current_parts: dict | None = None
) -> str:
    """Why a version whose content differs from its recorded data_version is not ingested again; with both sides'
    part hashes (`part_hashes`), which files were changed, added or removed."""
    which = ""
    if recorded_parts is not None and current_parts is not None:
        common = sorted(set(recorded_parts) & set(current_parts))
        changes = {
            "changed": [name for name in common if recorded_parts[name] != current_parts[name]],
            "added": sorted(set(current_parts) - set(recorded_parts)),
            "removed": sorted(set(recorded_parts) - set(current_parts)),
        }
        which = "; ".join(f"{', '.join(names)} {what}" for what, names in changes.items() if names)
        which = f" ({which})" if which else ""
    return (
        f"Dataset version {key!r} changed after it was ingested{which}: its content now hashes to {current[:12]}, "
        f"the recorded data_version is {recorded[:12]}. Versions are immutable: restore its data, or land the "
        "changed data as a new version."
    )
