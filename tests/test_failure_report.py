"""The failure report of a version that breaks its contract in many rows: bounded, counted, sorted, Pandera's own.

A version with a failure in every row is reported with the first FAILURES_PER_RULE failures of each rule, sorted by
row and then column, and with the number of failures of every rule (the cost of a bad version must not grow with
its failures: bench/bad_versions.py measures it at a million rows). Cells Pandera cannot cast are found before
Pandera runs (stages/validation.py); where that screen and Pandera disagree, Pandera decides. Every version is a
real file of the configured data set read by `read_version`.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_assets.stages.ingestion import ContractViolation, read_version
from mlops_assets.stages.validation import FAILURES_PER_RULE
from tests.configured_data import (
    KEY,
    SCHEMA,
    UNIQUE_COLUMN,
    Break,
    columns_of_kind,
    dtype_text,
    key_text,
    needs_unique_key,
    rule_breaks,
    sample,
    two_breaks,
)
from tests.conftest import DATASET, write_version
from tests.test_raw_dataset import table_rows

CONTRACT = DATASET.contract  # the dataset's contract, `module:Class`
ROWS = 3 * FAILURES_PER_RULE + 7


def violation(folder) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        read_version(folder, CONTRACT)
    return caught.value


def shown(report: ContractViolation, column: str, check: str) -> pd.DataFrame:
    failures = report.failures
    return failures[failures["column"].eq(column) & failures["check"].eq(check)]


def a_break_outside(*columns: str) -> Break:
    """A bad cell that is one failure alone, outside the row key and `columns`: it can go in every row (in the row
    key it would also repeat the key)."""
    found = next((b for b in rule_breaks() if b.column not in (*KEY, *columns)), None)
    if found is None:
        pytest.skip("no rule outside the row key can be broken by one cell alone")
    return found


def integer_column() -> str:
    """An integer column that may not be missing, outside the row key if the contract has one."""
    found = [name for name in columns_of_kind("i") if not SCHEMA.columns[name].nullable]  # the row key's last
    if not found:
        pytest.skip("the contract has no integer column that may not be missing")
    return found[0]


def test_a_rule_broken_in_every_row_shows_its_first_failures_and_counts_them_all(tmp_path):
    bad = a_break_outside()
    rows = sample(ROWS)
    for at in range(ROWS):
        rows = bad.apply(rows, at)

    report = violation(write_version(tmp_path, "bad", {"rows.csv": rows}))

    assert report.counts == {(bad.column, bad.check): ROWS}
    assert shown(report, bad.column, bad.check)["row"].tolist() == list(range(1, FAILURES_PER_RULE + 1))
    assert f"{ROWS} contract failure(s) ({FAILURES_PER_RULE} shown" in str(report)
    metadata = report.to_metadata()
    assert metadata["failure_cases"] == ROWS
    assert table_rows(metadata["failure_counts"].value) == [[bad.column, bad.check, str(ROWS)]]
    assert len(table_rows(metadata["failure_table"].value)) == FAILURES_PER_RULE


@needs_unique_key
def test_a_row_key_repeated_in_every_row_is_counted_and_its_first_rows_shown(tmp_path):
    rows = sample(ROWS)
    twice = pd.concat([rows, rows], ignore_index=True)

    report = violation(write_version(tmp_path, "twice", {"rows.csv": twice}))

    assert report.counts == {(UNIQUE_COLUMN, "unique"): 2 * ROWS}
    first = shown(report, UNIQUE_COLUMN, "unique")
    assert first["row"].tolist() == list(range(1, FAILURES_PER_RULE + 1))
    assert first["value"].tolist() == [key_text(rows, at) for at in range(FAILURES_PER_RULE)]


def test_text_in_many_rows_of_a_numeric_column_is_pandera_s_failure_and_every_row_counts(tmp_path):
    column = integer_column()
    other = a_break_outside(column)
    rows = sample(ROWS).astype({column: object})
    text = list(range(0, ROWS, 3))
    rows.loc[text, column] = "abc"
    missing = 1  # a missing value in an integer column: Pandera's not_nullable, not a failed cast
    rows.loc[missing, column] = None
    for at in range(ROWS):
        rows = other.apply(rows, at)

    report = violation(write_version(tmp_path, "text", {"rows.csv": rows}))

    coerce = f"coerce_dtype('{dtype_text(column)}')"
    counts = {(column, coerce): len(text), (column, "not_nullable"): 1, (other.column, other.check): ROWS}
    assert report.counts == counts
    casts = shown(report, column, coerce)
    assert casts["row"].tolist() == [at + 1 for at in text[:FAILURES_PER_RULE]]
    assert set(casts["value"]) == {"abc"}, "the value as delivered"
    assert shown(report, column, "not_nullable")["row"].tolist() == [missing + 1]


def test_a_value_the_screen_takes_for_a_number_is_still_pandera_s_to_refuse(tmp_path):
    column = integer_column()
    rows = sample(24)
    rows[column] = rows[column].astype(str)
    rows.loc[5, column] = "1e0"  # a number to pandas, not an integer to Pandera's cast

    report = violation(write_version(tmp_path, "bad", {"rows.parquet": rows}))

    assert report.counts == {(column, f"coerce_dtype('{dtype_text(column)}')"): 1}
    assert report.failures[["row", "value"]].values.tolist() == [[6, "1e0"]]


def test_a_value_the_screen_cannot_read_but_pandera_casts_is_accepted(tmp_path):
    column = integer_column()
    rows = sample(24)
    expected = rows[column].iloc[5]
    rows[column] = rows[column].astype(str)
    rows.loc[5, column] = str(expected).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))  # Arabic-Indic digits

    version = read_version(write_version(tmp_path, "digits", {"rows.parquet": rows}), CONTRACT)

    assert version.frame[column].iloc[5] == expected


def test_failures_are_sorted_by_row_then_column_across_files(tmp_path):
    first, second = two_breaks()
    a = second.apply(first.apply(sample(24), 9), 2)
    b = first.apply(second.apply(sample(48).iloc[24:].reset_index(drop=True), 4), 4)

    report = violation(write_version(tmp_path, "two", {"a.csv": a, "b.csv": b}))

    rows = report.failures[["file", "row", "column"]].values.tolist()
    assert rows == [
        ["a.csv", 3, second.column],
        ["a.csv", 10, first.column],
        *sorted([["b.csv", 5, first.column], ["b.csv", 5, second.column]]),
    ]
