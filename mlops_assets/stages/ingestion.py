"""Ingestion: read a dataset version's files, fingerprint them, validate them against the raw contract.

Plain functions: the `raw_dataset` asset (defs/assets/ingestion.py) and the tests call them directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from ..contracts import RawData
from ..partitions import DATA_SUFFIXES
from .validation import contract_failures


class ContractViolation(Exception):
    """A dataset version broke its contract. `failures` has one row per failure case."""

    FAILURE_COLUMNS = ["file", "row", "column", "check", "value"]

    def __init__(self, version_dir: Path, failures: pd.DataFrame):
        self.version_dir = version_dir
        self.failures = failures[self.FAILURE_COLUMNS].reset_index(drop=True)
        first = self.failures.iloc[0]
        row = "-" if pd.isna(first["row"]) else first["row"]  # file- and table-level failures have no row
        super().__init__(
            f"{version_dir}: {len(self.failures)} contract failure(s) in check(s) {self.failed_checks}; "
            f"first: file {first['file']}, row {row}, column {first['column']!r}, "
            f"check {first['check']!r}, value {first['value']!r}"
        )

    @property
    def failed_checks(self) -> list[str]:
        return sorted(set(self.failures["column"] + ": " + self.failures["check"]))

    def to_metadata(self, limit: int = 50) -> dict:
        """The failure report for the UI: counts, the failed checks and the first `limit` failures as a table."""
        import dagster as dg

        return {
            "failure_cases": len(self.failures),
            "failed_checks": dg.MetadataValue.json(self.failed_checks),
            "failure_table": dg.MetadataValue.md(self.failures.head(limit).to_markdown(index=False)),
        }


@dataclass(frozen=True)
class VersionData:
    frame: pd.DataFrame
    content_hash: str
    files: list[str]
    folder: Path

    def to_metadata(self, column_schema) -> dict:
        import dagster as dg

        return {
            "dagster/row_count": len(self.frame),
            "dagster/column_schema": column_schema,
            "files": dg.MetadataValue.json(self.files),
            "content_hash": self.content_hash,
            "path": dg.MetadataValue.path(str(self.folder)),
        }


def version_files(version_dir: Path) -> list[Path]:
    """The data files of a version, in a stable order; other files (a README, say) are ignored."""
    return sorted(p for p in version_dir.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


def content_hash(files: list[Path]) -> str:
    """SHA-256 over the names and bytes of the files: the version's identity, and the raw asset's data_version."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, encoding="utf-8")


def _file_failure(path: Path, check: str, error: Exception) -> dict:
    return {"file": path.name, "row": None, "column": "(file)", "check": check, "value": str(error)[:200]}


def read_version(version_dir: Path) -> VersionData:
    """Read and validate every data file of a version; raise ContractViolation naming file, row, column, rule."""
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        raise FileNotFoundError(f"dataset version folder {version_dir} does not exist")
    files = version_files(version_dir)
    if not files:
        failure = {"file": "(none)", "row": None, "column": "(file)", "check": "has data files", "value": ""}
        failure["value"] = f"no {' or '.join(DATA_SUFFIXES)} files in {version_dir}"
        raise ContractViolation(version_dir, pd.DataFrame([failure]))

    frames, origins, file_failures = [], [], []
    for path in files:
        try:
            frame = _read_file(path)
        except UnicodeDecodeError as error:
            file_failures.append(_file_failure(path, "UTF-8 text", error))
            continue
        except pd.errors.EmptyDataError as error:
            file_failures.append(_file_failure(path, "not empty", error))
            continue
        except (pd.errors.ParserError, OSError, ValueError) as error:
            file_failures.append(_file_failure(path, f"readable {path.suffix.lstrip('.')}", error))
            continue
        frames.append(frame)
        origins.append(pd.DataFrame({"file": path.name, "row": range(1, len(frame) + 1)}))

    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    origin = pd.concat(origins, ignore_index=True) if origins else pd.DataFrame({"file": [], "row": []})
    failures = pd.DataFrame(file_failures, columns=ContractViolation.FAILURE_COLUMNS)
    validated = None
    if frames:  # when no file could be read, "every column is missing" would only bury the real reason
        try:
            validated = RawData.validate(frame, lazy=True, inplace=True)  # frame is ours: no copy
        except pa.errors.SchemaErrors as error:
            failures = pd.concat([failures, _locate(contract_failures(error), origin, files)], ignore_index=True)
    if len(failures):
        raise ContractViolation(version_dir, failures)
    return VersionData(validated, content_hash(files), [p.name for p in files], version_dir)


def _locate(cases: pd.DataFrame, origin: pd.DataFrame, files: list[Path]) -> pd.DataFrame:
    """Map pandera's row index (into the concatenated frame) back to the file and row it came from."""
    index = pd.to_numeric(cases["index"], errors="coerce")
    known = index.notna() & index.lt(len(origin))
    position = index[known].astype(int).to_numpy()
    file = pd.Series("(all files)" if len(files) > 1 else files[0].name, index=cases.index, dtype=object)
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
