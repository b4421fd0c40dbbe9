"""Landing a dataset version atomically, so that the sensor never reads half of one.

    python -m mlops_assets.landing SOURCE KEY       # SOURCE: a folder of CSV/Parquet files, or one such file

The data files are written into `<versions>/.landing-<key>-<pid>/` (the sensor skips `.landing-` folders), flushed
to disk, a `.landed` manifest of their names and sizes is written last, and the folder is renamed to `<key>` in one
step. The sensor ingests a folder whose files match its manifest at once; any other folder (copied in place by
hand) only once nothing in it has changed for `source.quiet_period_seconds`. An existing version is never
overwritten: land changed data under a new key.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from .partitions import DATA_SUFFIXES, LANDED_MANIFEST, LANDING_PREFIX, version_key_problem


def _is_data(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and path.suffix.lower() in DATA_SUFFIXES


def land(versions_dir: Path, key: str, write: Callable[[Path], None]) -> Path:
    """Land version `key`: `write(folder)` puts its data files into a hidden folder, which is then renamed."""
    problem = version_key_problem(key)
    if problem:
        raise ValueError(f"{key!r} cannot be a dataset version: {problem}")
    target = Path(versions_dir) / key
    if target.exists():
        return target
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
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def land_files(versions_dir: Path, key: str, source: Path) -> Path:
    """Land the data files of `source` (a folder, or one file) as version `key`."""
    source = Path(source)
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if _is_data(p))
    if not files or not all(_is_data(p) for p in files):
        raise ValueError(f"{source}: no {' or '.join(DATA_SUFFIXES)} files to land (symbolic links are not copied)")
    return land(versions_dir, key, lambda folder: [shutil.copyfile(p, folder / p.name) for p in files])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a folder of CSV/Parquet files, or one such file")
    parser.add_argument("key", help="the version key: letters, digits, '.', '_' and '-', at most 64 characters")
    parser.add_argument("--versions", type=Path, help="the versions folder (default: <data_dir>/versions)")
    args = parser.parse_args(argv)
    if args.versions is None:
        from .config import ProjectSettings

        args.versions = ProjectSettings().versions_dir
    if (args.versions / args.key).exists():
        print(f"{args.versions / args.key} exists: versions are immutable, land under a new key", file=sys.stderr)
        return 2
    try:
        target = land_files(args.versions, args.key, args.source)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"landed {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
