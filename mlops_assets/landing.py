"""Landing dataset versions: the configured source file cut into cumulative versions, each landed atomically.

A version is written to a hidden `.landing-<key>-<pid>` folder next to its final place and renamed to
`versions/<key>/` in one step, so the dataset-version sensor never sees half of one; land your own versions the same
way (write, then rename). The main job lands the source's versions one at a time; `config.SourceSettings.cut` names
the function that cuts the source into versions: `cumulative_versions` below for any data set, or the demo's
monthly cut.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .partitions import LANDING_PREFIX, version_key_problem

if TYPE_CHECKING:
    from .config import ProjectSettings

# The row key the template adds when a data set has none: the row's position in the source file.
GENERATED_ROW_KEY = "row_id"


def source_path(settings: ProjectSettings) -> Path:
    """The source file: an absolute path, or one relative to the project's data/ folder (where it is committed)."""
    from .config import PROJECT_ROOT

    return PROJECT_ROOT / "data" / settings.source.file


def read_source(settings: ProjectSettings) -> pd.DataFrame:
    """The source file (CSV or Parquet), with a `row_id` column when that is the configured key."""
    path = source_path(settings)
    frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if settings.row_key == [GENERATED_ROW_KEY] and GENERATED_ROW_KEY not in frame.columns:
        frame.insert(0, GENERATED_ROW_KEY, range(len(frame)))  # stable: the same row has the same id in every cut
    return frame


def cumulative_versions(source: pd.DataFrame, settings: ProjectSettings) -> list[tuple[str, pd.DataFrame]]:
    """`settings.source.versions` cumulative versions `v01`, `v02`, …: each holds the rows of the one before and more.

    Rows are taken in time order (features.row_time) for a time split, else in the order of the file.
    """
    if settings.split.method == "time":
        from .features import row_time

        source = source.iloc[row_time(source).argsort(kind="stable")]
    count = settings.source.versions
    width = max(2, len(str(count)))
    return [(f"v{i:0{width}d}", source.iloc[: len(source) * i // count]) for i in range(1, count + 1)]


def source_versions(settings: ProjectSettings) -> list[tuple[str, pd.DataFrame]]:
    """The versions the configured cut (`module:function`) makes of the source file."""
    module, _, function = settings.source.cut.partition(":")
    cut = getattr(importlib.import_module(module), function)
    versions = cut(read_source(settings), settings)
    for key, _ in versions:
        if problem := version_key_problem(key):
            raise ValueError(f"{settings.source.cut} made the version key {key!r}: {problem}")
    return versions


def land_version(versions_dir: Path, key: str, frame: pd.DataFrame, file_name: str = "rows.csv") -> Path:
    """Write one immutable version folder atomically (a hidden folder, then one rename); never overwrite one."""
    target = Path(versions_dir) / key
    if target.exists():
        return target
    staging = Path(versions_dir) / f"{LANDING_PREFIX}{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    frame.to_csv(staging / file_name, index=False)
    os.rename(staging, target)
    return target


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .config import ProjectSettings

    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.landing",
        description="Land the configured source's dataset versions (config.SourceSettings) without running anything.",
    )
    parser.add_argument("--versions", type=int, help="land only the first N versions")
    args = parser.parse_args(argv)
    settings = ProjectSettings()
    landed = []
    for key, rows in source_versions(settings)[: args.versions]:
        if not (settings.versions_dir / key).exists():
            land_version(settings.versions_dir, key, rows)
            landed.append(key)
    print(f"landed into {settings.versions_dir}: {', '.join(landed) or 'nothing new'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
