"""What the IO manager's format costs: pickle against Parquet for the frames the pipeline stores between steps.

    .venv/bin/python bench/io_formats.py --rows 1000000 --reps 5 --out io.json

The frames of one version of `--rows` generated rows (bench/generate.py), as the measured model's steps make them
(bench/bench_model.py): the raw rows (`raw_dataset`), the feature table (`feature_table`) and the split
(`dataset_split`: train and holdout). Each is written the way
mlops_assets/wiring/io_managers.py writes (a temporary file, flushed and fsynced, renamed) and read back, alternately as
pickle (protocol 5, what the IO manager does) and as Parquet (pyarrow, no compression choice beyond the default).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import emit


def _write_atomic(path: Path, write) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def _pickle(frames: dict[str, pd.DataFrame], folder: Path) -> tuple[float, float, int]:
    path = folder / "value.pkl"
    started = time.perf_counter()
    _write_atomic(path, lambda f: pickle.dump(frames, f, protocol=pickle.HIGHEST_PROTOCOL))
    written = time.perf_counter()
    with path.open("rb") as file:
        pickle.load(file)
    return written - started, time.perf_counter() - written, path.stat().st_size


def _parquet(frames: dict[str, pd.DataFrame], folder: Path) -> tuple[float, float, int]:
    paths = {name: folder / f"{name}.parquet" for name in frames}
    started = time.perf_counter()
    for name, frame in frames.items():
        _write_atomic(paths[name], lambda f, frame=frame: frame.to_parquet(f))
    written = time.perf_counter()
    for path in paths.values():
        pd.read_parquet(path)
    return written - started, time.perf_counter() - written, sum(p.stat().st_size for p in paths.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from bench_model import bench_model
    from generate import demo_rows, replicated_rows

    from mlops_assets.stages.splitting import split_version

    model = bench_model()
    raw = replicated_rows(demo_rows(), args.rows)
    split = split_version(raw, model, champion=None)  # the model's split, as dataset_split makes it
    values = {
        "raw_dataset": {"raw": raw},
        "feature_table": {"features": model.feature_code().make_features(raw)},
        "dataset_split": {"train": split.train, "holdout": split.holdout},
    }
    results: dict = {"rows": args.rows, "reps": args.reps, "values": {}}
    with tempfile.TemporaryDirectory(prefix="io-formats-") as folder:
        for name, frames in values.items():
            measured: dict[str, dict[str, list]] = {
                fmt: {"write_s": [], "read_s": [], "bytes": []} for fmt in ("pickle", "parquet")
            }
            for _ in range(args.reps):
                for fmt, how in (("pickle", _pickle), ("parquet", _parquet)):
                    write_s, read_s, size = how(frames, Path(folder))
                    measured[fmt]["write_s"].append(write_s)
                    measured[fmt]["read_s"].append(read_s)
                    measured[fmt]["bytes"].append(size)
            results["values"][name] = measured
    return emit(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
