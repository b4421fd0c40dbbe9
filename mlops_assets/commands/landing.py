"""Landing dataset versions atomically, so that the dataset-version sensor never reads half of one.

    python -m mlops_assets.commands.landing                     # the dataset's source file, cut into versions
    python -m mlops_assets.commands.landing path/to/export KEY  # your own: a folder of CSV/Parquet files, or a file
    python -m mlops_assets.commands.landing --dataset NAME ...  # which dataset, when the project has several

A version's files are written into `<versions>/.landing-<key>-<pid>/` (the sensor skips `.landing-` folders),
flushed to disk, a `.landed` manifest of their names and sizes is written last, and the folder is renamed to
`<key>` in one step. The sensor ingests a folder whose files match its manifest at once; any other folder (copied
in place by hand) only once nothing in it has changed for `data_source.quiet_period_seconds`. An existing version
is never overwritten: land changed data under a new key. The rename is the one decision point: of two landings of
the same key at once exactly one lands, and the other is refused (`VersionExists`), never told that it landed.

The main job lands the source's versions one at a time; the dataset's `source.cut` names the function that cuts
the source into versions: `cumulative_versions` below for any data set, or the demo's monthly cut.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mlops_assets.infra.version_keys import DATA_SUFFIXES, LANDED_MANIFEST, LANDING_PREFIX, version_key_problem

if TYPE_CHECKING:
    from mlops_assets.settings import DatasetSettings

# The row key the template adds when a data set has none: the row's position in the source file.
GENERATED_ROW_KEY = "row_id"


def source_path(dataset: DatasetSettings) -> Path:
    """The source file: an absolute path, or one relative to the project's data/ folder (where it is committed)."""
    from mlops_assets.settings import PROJECT_ROOT

    return PROJECT_ROOT / "data" / dataset.source.file


def read_source(dataset: DatasetSettings) -> pd.DataFrame:
    """The source file (CSV or Parquet), with a `row_id` column when that is the configured key."""
    path = source_path(dataset)
    frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    if dataset.row_key == [GENERATED_ROW_KEY] and GENERATED_ROW_KEY not in frame.columns:
        frame.insert(0, GENERATED_ROW_KEY, range(len(frame)))  # stable: the same row has the same id in every cut
    return frame


def cumulative_versions(source: pd.DataFrame, dataset: DatasetSettings) -> list[tuple[str, pd.DataFrame]]:
    """`dataset.source.versions` cumulative versions `v01`, `v02`, …: each holds the rows of the one before and more.

    Rows are taken in time order (the dataset's row_time) when it has one, else in the order of the file.
    """
    if dataset.row_time is not None:
        source = source.iloc[dataset.row_time_of(source).argsort(kind="stable")]
    count = dataset.source.versions
    width = max(2, len(str(count)))
    return [(f"v{i:0{width}d}", source.iloc[: len(source) * i // count]) for i in range(1, count + 1)]


def source_versions(dataset: DatasetSettings) -> list[tuple[str, pd.DataFrame]]:
    """The versions the dataset's cut (`module:function`) makes of its source file."""
    module, _, function = dataset.source.cut.partition(":")
    cut = getattr(importlib.import_module(module), function)
    versions = cut(read_source(dataset), dataset)
    for key, _ in versions:
        if problem := version_key_problem(key):
            raise ValueError(f"{dataset.source.cut} made the version key {key!r}: {problem}")
    return versions


class VersionExists(FileExistsError):
    """The version is there already (versions are immutable), or another landing of the same key won the rename."""


def _is_data(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and path.name.lower().endswith(DATA_SUFFIXES)


def land(versions_dir: Path, key: str, write: Callable[[Path], object]) -> Path:
    """Land version `key`: `write(folder)` puts its data files into a hidden folder, which is then renamed.

    Returns the folder only when this call created it; raises VersionExists when the version exists or appears
    while this landing writes (the rename onto it fails: another landing of the same key won).
    """
    problem = version_key_problem(key)
    if problem:
        raise ValueError(f"{key!r} cannot be a dataset version: {problem}")
    target = Path(versions_dir) / key
    if target.exists():
        raise VersionExists(f"{target} exists: versions are immutable, land under a new key")
    staging = Path(versions_dir) / f"{LANDING_PREFIX}{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write(staging)
        files = {}
        for path in sorted(p for p in staging.iterdir() if _is_data(p)):
            with path.open("rb") as handle:
                os.fsync(handle.fileno())  # the data is on disk before the manifest says it is complete
            files[path.name] = path.stat().st_size
        (staging / LANDED_MANIFEST).write_text(json.dumps({"files": files}))
        try:
            os.rename(staging, target)  # atomic, and fails onto a non-empty folder: the one decision point
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise VersionExists(
                f"{target} was landed by another landing of the same key while this one was writing: that one won "
                "and this one was discarded (versions are immutable, land under a new key)"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def land_version(versions_dir: Path, key: str, frame: pd.DataFrame, file_name: str = "rows.csv") -> Path:
    """Land one version's rows as one CSV file; an existing version is never overwritten."""
    return land(versions_dir, key, lambda folder: frame.to_csv(folder / file_name, index=False))


def land_files(versions_dir: Path, key: str, source: Path) -> Path:
    """Land the data files of `source` (a folder, or one file) as version `key`."""
    source = Path(source)
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if _is_data(p))
    if not files or not all(_is_data(p) for p in files):
        raise ValueError(f"{source}: no {' or '.join(DATA_SUFFIXES)} files to land (symbolic links are not copied)")
    return land(versions_dir, key, lambda folder: [shutil.copyfile(p, folder / p.name) for p in files])


def main(argv: list[str] | None = None) -> int:
    import argparse

    from mlops_assets.components.project import dataset_named

    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.commands.landing", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="?", type=Path, help="a folder of CSV/Parquet files, or one such file")
    parser.add_argument("key", nargs="?", help="its version key: letters, digits, '.', '_', '-' (at most 64)")
    parser.add_argument("--versions", type=int, help="without files: land only the source's first N versions")
    parser.add_argument("--dataset", help="the dataset (its defs.yaml name); needed when the project has several")
    parser.add_argument("--to", type=Path, help="the versions folder (default: data/<dataset>/versions)")
    args = parser.parse_args(argv)
    settings = dataset_named(args.dataset)
    versions_dir = args.to or settings.versions_dir
    if args.files is not None:
        if args.key is None:
            parser.error("give the version key after the files")
        try:
            print(f"landed {land_files(versions_dir, args.key, args.files)}")
        except (ValueError, VersionExists) as error:
            print(error, file=sys.stderr)
            return 2
        return 0
    landed = []
    for key, rows in source_versions(settings)[: args.versions]:
        with contextlib.suppress(VersionExists):  # there already: the source's versions are landed once
            land_version(versions_dir, key, rows)
            landed.append(key)
    print(f"landed into {versions_dir}: {', '.join(landed) or 'nothing new'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
