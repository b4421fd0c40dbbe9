"""Bad cells, CSV bytes and file edits built from the configured data set and its contract.

tests/contract_cases.py derives every rule break of a schema; this module picks the ones a test needs by what they
do (a bad cell that is one failure alone, a column of a given type, a numeric column with a bound) and edits version
files the ways the reliability cases need (truncated inside a line, changed but the same size and still valid).
Everything comes from the test model's dataset (its contract, row key and source, tests/conftest.py): nothing here
names a column of the demo. A test that needs what the contract does not have (no integer column, no bounded
column) skips and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd
import pandera.pandas as pa
import pytest

from tests.conftest import DATASET, MODEL
from tests.contract_cases import violating_value

SETTINGS = MODEL
RawData = DATASET.raw_contract()
SCHEMA = RawData.to_schema()
CONTRACT_COLUMNS = list(SCHEMA.columns)
KEY = list(SETTINGS.row_key)
# The contract's row key as a duplicate's failure names it: "(a, b)" (stages/validation.py).
UNIQUE = list(SCHEMA.unique or [])
UNIQUE_COLUMN = f"({', '.join(UNIQUE)})"
needs_unique_key = pytest.mark.skipif(not UNIQUE, reason="the contract declares no unique row key (Config.unique)")


def _kind(name: str) -> str:
    return getattr(SCHEMA.columns[name].dtype.type, "kind", "O")


def columns_of_kind(kinds: str) -> list[str]:
    """Contract columns whose dtype kind is in `kinds` ("i" integers, "f" floats, "iuf" numbers), key columns last."""
    found = [name for name in CONTRACT_COLUMNS if _kind(name) in kinds]
    return sorted(found, key=lambda name: name in KEY)


def first_column_of_kind(kinds: str, what: str) -> str:
    """The first such column, or a skip that says the contract has none."""
    found = columns_of_kind(kinds)
    if not found:
        pytest.skip(f"the contract has no {what} column")
    return found[0]


def bounded_columns(kinds: str, bound: str) -> list[str]:
    """Numeric contract columns of `kinds` with an upper ("max_value") or lower ("min_value") bound, key columns
    last."""
    return [
        name
        for name in columns_of_kind(kinds)
        if any(bound in (check.statistics or {}) for check in SCHEMA.columns[name].checks)
    ]


def dtype_text(name: str) -> str:
    """The dtype of a contract column as a failed coercion names it (e.g. int64, float64)."""
    return str(SCHEMA.columns[name].dtype)


@cache
def source_rows() -> pd.DataFrame:
    """The configured source's rows, validated by the contract (copy before changing them)."""
    from mlops_assets.commands.landing import read_source

    return RawData.validate(read_source(DATASET), lazy=True)


def sample(n: int = 24) -> pd.DataFrame:
    """The source's first `n` rows, indexed 0..n-1 (a copy)."""
    rows = source_rows()
    assert len(rows) >= n, f"the configured source has {len(rows)} rows; this test needs {n}"
    return rows.head(n).reset_index(drop=True).copy()


@dataclass(frozen=True)
class Break:
    """One bad cell: `value` in `column` breaks the contract's check `check` (its text as a failure names it)."""

    column: str
    value: object
    check: str

    def apply(self, rows: pd.DataFrame, at: int) -> pd.DataFrame:
        """A copy of `rows` with the cell at row position `at` replaced by the bad value."""
        rows = rows.copy()
        rows[self.column] = rows[self.column].astype(object)
        rows.iloc[at, rows.columns.get_loc(self.column)] = self.value
        return rows

    @property
    def id(self) -> str:
        return f"{self.column}-{self.check.split('(')[0]}"


def check_text(check: pa.Check) -> str:
    return check.error or check.name


def _failures(rows: pd.DataFrame) -> pd.DataFrame:
    try:
        RawData.validate(rows, lazy=True)
    except pa.errors.SchemaErrors as error:
        return error.failure_cases
    return pd.DataFrame(columns=["column", "check"])


@cache
def rule_breaks() -> tuple[Break, ...]:
    """Every column rule of the contract that one bad cell breaks alone (exactly one failure: that column, that
    check; tried on real rows), columns outside the row key first."""
    rows = sample(20)
    found = []
    for name in sorted(CONTRACT_COLUMNS, key=lambda name: name in KEY):
        for check in SCHEMA.columns[name].checks:
            value = violating_value(check, rows[name])
            if value is None:
                continue
            candidate = Break(name, value, check_text(check))
            failures = _failures(candidate.apply(rows, 3))
            alone = len(failures) == 1 and failures["column"].iloc[0] == name
            if alone and failures["check"].iloc[0] == candidate.check:
                found.append(candidate)
    if not found:
        pytest.skip("no rule of the contract can be broken by one cell alone (contract_cases.violating_value)")
    return tuple(found)


def a_break(*, not_in: tuple[str, ...] = ()) -> Break:
    """The first bad cell that is one failure alone, in a column not in `not_in`."""
    return next(b for b in rule_breaks() if b.column not in not_in)


def two_breaks() -> tuple[Break, Break]:
    """Two bad cells in two different columns, each one failure alone (skips when the contract has no two)."""
    first = a_break()
    second = next((b for b in rule_breaks() if b.column != first.column), None)
    if second is None:
        pytest.skip("the contract has one breakable column only")
    return first, second


def no_rows_checks() -> list[str]:
    """The contract's checks that refuse a version with no rows (e.g. the template's "at least one row")."""
    failures = _failures(sample(1).head(0))
    found = sorted(set(failures["check"].astype(str)))
    if not found:
        pytest.skip("the contract accepts a version with no rows")
    return found


def key_text(rows: pd.DataFrame, position: int) -> str:
    """The row key of the row at `position` as a duplicate's failure shows it: "(1, 8)"."""
    return f"({', '.join(str(rows[name].iloc[position]) for name in UNIQUE)})"


# --- CSV bytes ----------------------------------------------------------------------------------------------------


def csv_bytes(rows: pd.DataFrame) -> bytes:
    return rows.to_csv(index=False).encode()


def _last_line_start(data: bytes) -> int:
    return data.rstrip(b"\n").rfind(b"\n") + 1


def cut_after_a_comma(data: bytes) -> bytes:
    """The file cut right after the first comma of its last line (no line end): a truncated copy."""
    start = _last_line_start(data)
    return data[: data.index(b",", start) + 1]


def cut_inside_a_value(data: bytes) -> bytes:
    """The file cut one character into the first value of its last line that has at least two characters and is
    not the line's last value (no line end): a truncated copy whose last line has fewer fields than the header."""
    start = _last_line_start(data)
    fields = data[start:].rstrip(b"\n").split(b",")
    offset = start
    for field in fields[:-1]:
        if len(field) >= 2 and not field.startswith(b'"'):
            return data[: offset + 1]
        offset += len(field) + 1
    raise AssertionError("no value of two characters or more in the last line to cut inside")


def cut_in_the_middle(data: bytes) -> bytes:
    """The file cut inside a value of the line in its middle: half a copy."""
    return cut_inside_a_value(data[: data.index(b"\n", len(data) // 2) + 1])


def with_invalid_utf8(data: bytes, line: int = 5) -> bytes:
    """The CSV bytes with a Latin-1 "é" appended to the last value of data line `line`: not UTF-8."""
    lines = data.split(b"\n")
    lines[line] = lines[line] + b"\xe9"
    return b"\n".join(lines)


# --- edits of a landed version's file -----------------------------------------------------------------------------


def swap_two_rows(data: bytes) -> bytes:
    """The same rows with two different data lines of the same length swapped: another file of the same size that
    the contract still accepts."""
    header, *lines = data.split(b"\n")
    by_length: dict[int, int] = {}
    for position, line in enumerate(lines):
        if not line:
            continue
        other = by_length.setdefault(len(line), position)
        if other != position and lines[other] != line:
            lines[other], lines[position] = lines[position], lines[other]
            return b"\n".join([header, *lines])
    raise AssertionError("no two different data lines of the same length to swap")


def move_last_row_first(data: bytes) -> bytes:
    """The same rows, the last data line first: other bytes that the contract still accepts."""
    header, *lines = data.rstrip(b"\n").split(b"\n")
    return b"\n".join([header, lines[-1], *lines[:-1]]) + b"\n"
