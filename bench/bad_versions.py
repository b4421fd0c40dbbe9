"""Large bad versions: what it costs ingestion to refuse one, against ingesting a valid version of the same size.

    .venv/bin/python bench/bad_versions.py generate --rows 1000000 --out DIR   # DIR/<case>/rentals.csv
    .venv/bin/python bench/bad_versions.py ingest DIR/duplicate-key --out one.json

`generate` writes three versions of `--rows` rows as CSV files (a bad export is usually a CSV), made by
bench/generate.py from the demo year:

- `valid`: noisy replicas of the year, one row per `(replica, day, hr)`;
- `duplicate-key`: the same rows with `replica` 0 everywhere, so the row key repeats (at 1,000,000 rows every row
  is a duplicate, each key about 116 times): the shape of the issue's 1,000,000-row export whose `(day, hr)`
  repeats (a version of more rows than the year has hours, say 20,000, is needed for any key to repeat);
- `bad-cells`: the valid rows with one bad cell per row, four kinds in turn: a weekday of 9 (a range), weather
  "sunny" (a category), a temperature of 1.5 (a range) and a holiday of "yes" (text in an integer column).

`ingest` reads and validates one version in this process, as `raw_dataset` does (`stages.ingestion.read_version`:
read and parse the file, validate, build the failure report and the UI's failure table) and writes the seconds it
took (wall and CPU), the peak RSS before and after, and what it reported. The contract is `bench/scale.py`'s
replicated contract as plain Pandera (`scale:PlainReplicatedRawData`, the project's default kind of contract), so that
a valid version of a million rows exists; bench/run.py alternates the three cases in separate processes and measures
each process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from results import emit  # noqa: E402

CASES = ["valid", "duplicate-key", "bad-cells"]
CONTRACT = "scale:PlainReplicatedRawData"  # the contract setting read_version is given (bench/ is on the path)
# (column, bad value) by row position modulo 4: none of them touches the row key or the counts' sum.
BAD_CELLS = [("weekday", 9), ("weathersit", "sunny"), ("temp", 1.5), ("holiday", "yes")]


def generate(rows: int, out: Path) -> dict:
    """Write the three versions; how often each key of the duplicate-key version occurs, on average."""
    import numpy as np
    from generate import demo_rows, replicated_rows, write_version

    valid = replicated_rows(demo_rows(), rows, seed=4)
    write_version(out / "valid", valid, "csv")
    duplicates = valid.assign(replica=0)
    write_version(out / "duplicate-key", duplicates, "csv")
    bad = valid.astype({column: object for column, _ in BAD_CELLS})
    turn = np.arange(rows) % len(BAD_CELLS)
    for kind, (column, value) in enumerate(BAD_CELLS):
        bad.loc[turn == kind, column] = value
    write_version(out / "bad-cells", bad, "csv")
    return {"key_repeats": rows / len(duplicates.drop_duplicates(["replica", "day", "hr"]))}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest(folder: Path) -> dict:
    import scale  # noqa: F401 (the contract's module: imported before what is measured)

    from mlops_assets.infra.sources.files import FileSource  # noqa: F401 (not part of what is measured)
    from mlops_assets.stages import reading  # noqa: F401
    from mlops_assets.stages.ingestion import ContractViolation, read_version

    before = _peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        version = read_version(folder, CONTRACT)
        report = {"failed": False, "rows": len(version.frame)}
    except ContractViolation as violation:
        metadata = violation.to_metadata()  # what raw_dataset shows in the UI: part of refusing the version
        report = {
            "failed": True,
            "failure_cases": metadata["failure_cases"],
            "table_rows": len(violation.failures),
            "failed_checks": violation.failed_checks,
            "message": str(violation)[:2000],
        }
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {**report, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_before_mb": before, "peak_mb": _peak_mb()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "ingest"])
    parser.add_argument("folder", nargs="?", type=Path, help="ingest: the version folder")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "generate":
        return emit(generate(args.rows, args.out), None)
    return emit(ingest(args.folder), args.out)


if __name__ == "__main__":
    sys.exit(main())
