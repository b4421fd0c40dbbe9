"""The demo's dataset versions: cumulative monthly snapshots of the 2011 bike rentals (data/README.md).

`2011-01` holds January, `2011-02` January and February, … `2011-12` the whole year. A version is landed
atomically (written to a hidden folder, then renamed), so the sensor never sees half a version.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from ..contracts import MONTHS
from ..partitions import LANDING_PREFIX

SOURCE_CSV = Path(__file__).resolve().parents[2] / "data" / "bikeshare_2011.csv"
DEMO_VERSIONS = [f"2011-{month:02d}" for month in range(1, 13)]


def monthly_snapshot(source: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows of every month up to and including the month of `key` (e.g. "2011-03": January to March)."""
    last_month = int(key.split("-")[1])
    return source[source["mnth"].isin(MONTHS[:last_month])]


def land_version(versions_dir: Path, key: str, frame: pd.DataFrame, file_name: str = "rentals.csv") -> Path:
    """Write one immutable version folder atomically. An existing version is never overwritten."""
    target = Path(versions_dir) / key
    if target.exists():
        return target
    staging = Path(versions_dir) / f"{LANDING_PREFIX}{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    frame.to_csv(staging / file_name, index=False)
    os.rename(staging, target)
    return target


def land_demo_versions(versions_dir: Path, keys: list[str] | None = None, source_csv: Path = SOURCE_CSV) -> list[str]:
    """Land the demo versions that are not there yet; returns the keys landed now."""
    source = pd.read_csv(source_csv)
    landed = []
    for key in keys or DEMO_VERSIONS:
        if not (Path(versions_dir) / key).exists():
            land_version(versions_dir, key, monthly_snapshot(source, key))
            landed.append(key)
    return landed


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE_CSV.parent / "versions"
    print("landed:", land_demo_versions(out) or "nothing new")
