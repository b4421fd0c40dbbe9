"""Ingestion: validate a dataset version's rows against the raw contract.

The rows come from the configured data source (sources/: files or a database), read and hashed there; structural
problems of a file are named by stages/reading.py. Plain functions: the `raw_dataset` asset
(wiring/assets/ingestion.py) and the tests call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops_assets.infra.sources import FAILURE_COLUMNS, RawVersion
from mlops_assets.stages.validation import FAILURES_PER_RULE, check_contract


class ContractViolation(Exception):
    """A dataset version broke its contract. `failures` shows the first failures of each rule, sorted by row;
    `counts` has every rule's number of failures, (column, check) -> count (by default, the rows of `failures`)."""

    FAILURE_COLUMNS = FAILURE_COLUMNS

    def __init__(self, location: str | Path, failures: pd.DataFrame, counts: dict[tuple[str, str], int] | None = None):
        self.location = str(location)
        self.failures = failures[self.FAILURE_COLUMNS].reset_index(drop=True)
        self.counts = {**self.failures.groupby(["column", "check"]).size().to_dict(), **(counts or {})}
        shown = (
            f" ({len(self.failures)} shown: the first {FAILURES_PER_RULE} of each check)"
            if self.total > len(self.failures)
            else ""
        )
        first = ""
        if len(self.failures):
            row = self.failures.iloc[0]
            first = (
                f"; first: file {row['file']}, row {_row(row['row'])}, column {row['column']!r}, "
                f"check {row['check']!r}, value {row['value']!r}"
            )
        super().__init__(
            f"{self.location}: {self.total} contract failure(s){shown} in check(s) {self.failed_checks}{first}"
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failed_checks(self) -> list[str]:
        return sorted(f"{column}: {check}" for column, check in self.counts)

    def to_metadata(self, limit: int = 50) -> dict:
        """The failure report for the UI: counts, the failed checks with their counts, the first `limit` failures."""
        import dagster as dg

        counts = pd.DataFrame(
            [(column, check, count) for (column, check), count in sorted(self.counts.items())],
            columns=["column", "check", "failures"],
        )
        return {
            "failure_cases": self.total,
            "failed_checks": dg.MetadataValue.json(self.failed_checks),
            "failure_counts": dg.MetadataValue.md(counts.to_markdown(index=False)),
            "failure_table": dg.MetadataValue.md(
                self.failures.head(limit).assign(row=lambda f: f["row"].map(_row)).to_markdown(index=False)
            ),
        }


def _row(row) -> str:
    """File- and table-level failures have no row: "-" in the message and in the table alike."""
    return "-" if pd.isna(row) else str(int(row))


@dataclass(frozen=True)
class VersionData:
    frame: pd.DataFrame
    content_hash: str
    files: list[str]
    location: str
    part_hashes: dict[str, str] | None

    def to_metadata(self, column_schema) -> dict:
        import dagster as dg

        return {
            "dagster/row_count": len(self.frame),
            "dagster/column_schema": column_schema,
            "files": dg.MetadataValue.json(self.files),
            "content_hash": self.content_hash,
            **({"part_hashes": dg.MetadataValue.json(self.part_hashes)} if self.part_hashes is not None else {}),
            "location": dg.MetadataValue.path(self.location),
        }


def validate_version(raw: RawVersion, contract) -> VersionData:
    """Validate every part of a version that could be read; raise ContractViolation naming file, row, column, rule.

    Parts that could not be read are reported as they are (raw.failures) and the others are validated beside them.
    """
    frames = [frame for _, frame in raw.parts]
    origins = [pd.DataFrame({"file": name, "row": range(1, len(frame) + 1)}) for name, frame in raw.parts]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    origin = pd.concat(origins, ignore_index=True) if origins else pd.DataFrame({"file": [], "row": []})
    failures, counts = pd.DataFrame(raw.failures, columns=FAILURE_COLUMNS), {}
    validated = None
    if frames:  # when no part could be read, "every column is missing" would only bury the real reason
        validated, found = check_contract(contract, frame)  # frame is ours: validated in place, no copy
        if found.counts:
            failures = pd.concat([failures, _locate(found.table(), origin, raw.names)], ignore_index=True)
            counts = found.counts
    if len(failures) or counts:
        raise ContractViolation(raw.location, failures, counts)
    return VersionData(validated, raw.content_hash, raw.names, raw.location, raw.part_hashes)


def read_version(version_dir: Path, contract: str) -> VersionData:
    """Read and validate a version folder against `contract` (`module:Class`) through the files source (what
    `raw_dataset` does by default)."""
    from mlops_assets.infra.sources.files import FileSource
    from mlops_assets.settings.paths import load_object

    version_dir = Path(version_dir)
    return validate_version(FileSource(version_dir.parent, contract).read(version_dir.name), load_object(contract))


def _locate(cases: pd.DataFrame, origin: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Map pandera's row index (into the concatenated frame) back to the file and row it came from."""
    index = pd.to_numeric(cases["index"], errors="coerce")
    known = index.notna() & index.lt(len(origin))
    position = index[known].astype(int).to_numpy()
    file = pd.Series("(all files)" if len(names) > 1 else names[0], index=cases.index, dtype=object)
    row = pd.Series(None, index=cases.index, dtype=object)
    file[known] = origin["file"].to_numpy()[position]
    row[known] = origin["row"].to_numpy()[position]
    return pd.DataFrame(
        {
            "file": file,
            "row": row,
            "column": cases["column"],
            "check": cases["check"],
            "value": cases["value"],
        }
    )
