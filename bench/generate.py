"""Bigger dataset versions that keep the raw contract: noisy replicas of the demo rows, with a replica number.

    .venv/bin/python bench/generate.py --rows 1000000 --out /tmp/versions/big-1m      # writes rentals.parquet

Why a replica number. The demo contract says one row per hour (`unique = ["day", "hr"]`); a year has 8,760 hours,
so a version of 100,000 rows of the same contract cannot exist. A bigger version here is what a bigger delivery of
this kind of data looks like: many noisy replicas of the year (think of one per station), each replica holding
every demo hour at most once. The rows keep every column, type, range, category and table rule of the bikeshare
dataset's `RawData` contract (mlops_assets/defs/bikeshare/contract.py); `ReplicatedRawData` (bench/scale.py) is
`RawData` plus one integer column `replica`, and the dataset's row key becomes `(replica, day, hr)`, so the
uniqueness rule is still checked, on three columns instead of two. Nothing else of the pipeline changes: features,
split (by time), training, evaluation, scoring and monitoring ignore `replica`.

Noise (seeded): the four weather measurements move by a normal step (sd 0.03) and are clipped to [0, 1]; one row
in twenty gets the weather situation of a neighbouring hour; the two counts are multiplied by a log-normal factor
(sd 0.15) and rounded, and `bikers` stays `casual + registered`. A replica holds a random subset of the demo hours
when it is the last, partial one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SOURCE_CSV = ROOT / "data" / "bikeshare_2011.csv"
MEASUREMENTS = ["temp", "atemp", "hum", "windspeed"]


def replicated_rows(source: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` noisy replicas of `source`'s rows, ordered by time, with a `replica` column; unique (replica, day, hr)."""
    rng = np.random.default_rng(seed)
    n = len(source)
    full, rest = divmod(rows, n)
    # Positions into source: every row once per full replica, then a random subset (no repeats) for the last one.
    positions = np.concatenate([np.tile(np.arange(n), full), np.sort(rng.choice(n, size=rest, replace=False))])
    replica = np.concatenate([np.repeat(np.arange(full), n), np.full(rest, full)]).astype("int64")
    frame = source.iloc[positions].reset_index(drop=True)
    for column in MEASUREMENTS:
        values = frame[column].to_numpy(dtype=float) + rng.normal(0.0, 0.03, size=rows)
        frame[column] = np.clip(values, 0.0, 1.0).round(4)
    swap = rng.random(rows) < 0.05
    neighbour = np.clip(positions + rng.choice([-1, 1], size=rows), 0, n - 1)
    weather = frame["weathersit"].to_numpy(dtype=object)
    weather[swap] = source["weathersit"].to_numpy(dtype=object)[neighbour[swap]]
    frame["weathersit"] = weather
    for column in ["casual", "registered"]:
        factor = rng.lognormal(0.0, 0.15, size=rows)
        frame[column] = np.clip(np.rint(frame[column].to_numpy() * factor), 0, 4_000).astype("int64")
    frame["bikers"] = frame["casual"] + frame["registered"]
    frame.insert(0, "replica", replica)
    # Time order (as a delivery of hourly data would come), replicas of one hour together.
    order = np.lexsort((frame["replica"].to_numpy(), frame["hr"].to_numpy(), frame["day"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def demo_rows(months: int = 12) -> pd.DataFrame:
    """The demo rows of the first `months` months, with the integer columns as integers."""
    from mlops_assets.defs.bikeshare.contract import MONTHS

    source = pd.read_csv(SOURCE_CSV)
    return source[source["mnth"].isin(MONTHS[:months])].reset_index(drop=True)


def write_version(folder: Path, frame: pd.DataFrame, file_format: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rentals.{file_format}"
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the version folder to write")
    parser.add_argument("--months", type=int, default=12, help="replicate the first N demo months (default 12)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = replicated_rows(demo_rows(args.months), args.rows, args.seed)
    print(write_version(args.out, frame, args.format), len(frame), "rows")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
