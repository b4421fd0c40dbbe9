"""The demo's dataset versions: cumulative monthly snapshots of the 2011 bike rentals (data/README.md).

`2011-01` holds January, `2011-02` January and February, … `2011-12` the whole year (the bikeshare dataset's
defs.yaml names `monthly_versions` as its cut). Delete this package with the demo; `landing.cumulative_versions`
cuts any data set. Versions are landed by commands/landing.py: atomically, with a manifest, so the sensor ingests
them at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mlops_assets.commands import landing
from mlops_assets.defs.bikeshare.contract import MONTHS

if TYPE_CHECKING:
    from mlops_assets.settings import DatasetSettings

SOURCE_CSV = Path(__file__).resolve().parents[2] / "data" / "bikeshare_2011.csv"
DEMO_VERSIONS = [f"2011-{month:02d}" for month in range(1, 13)]


def monthly_snapshot(source: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows of every month up to and including the month of `key` (e.g. "2011-03": January to March)."""
    last_month = int(key.split("-")[1])
    return source[source["mnth"].isin(MONTHS[:last_month])]


def monthly_versions(source: pd.DataFrame, dataset: DatasetSettings) -> list[tuple[str, pd.DataFrame]]:
    """The first `dataset.source.versions` monthly snapshots."""
    return [(key, monthly_snapshot(source, key)) for key in DEMO_VERSIONS[: dataset.source.versions]]


def land_version(versions_dir: Path, key: str, frame: pd.DataFrame, file_name: str = "rentals.csv") -> Path:
    """A demo version as the tests and benchmarks land it: one `rentals.csv` (landing.land_version)."""
    return landing.land_version(versions_dir, key, frame, file_name)


def land_demo_versions(versions_dir: Path, keys: list[str] | None = None, source_csv: Path = SOURCE_CSV) -> list[str]:
    """Land the demo versions that are not there yet; returns the keys landed now."""
    source = pd.read_csv(source_csv)
    landed = []
    for key in keys or DEMO_VERSIONS:
        if not (Path(versions_dir) / key).exists():
            land_version(versions_dir, key, monthly_snapshot(source, key))
            landed.append(key)
    return landed
