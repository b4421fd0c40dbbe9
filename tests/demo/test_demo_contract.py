"""The demo's own file and rules under the RawData contract: the 2011 CSV as committed, its monthly snapshots, and
each rule of the bike-rental contract with the exact failures it gives (moved from tests/test_ingestion.py, whose
tests derive every case from whatever contract is configured)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.components.project import dataset_named
from mlops_assets.defs.bikeshare.contract import WEATHER_SITUATIONS, RawData
from mlops_assets.demo.versions import DEMO_VERSIONS, SOURCE_CSV, land_version, monthly_snapshot
from mlops_assets.stages.ingestion import ContractViolation, VersionData, read_version
from tests.conftest import write_version
from tests.test_ingestion import rows_matching

BIKESHARE = dataset_named("bikeshare")
CONTRACT_COLUMNS = list(RawData.to_schema().columns)


def read(folder: Path) -> VersionData:
    """A version folder read and validated as the bikeshare dataset's raw_dataset reads it."""
    return read_version(folder, BIKESHARE.contract)


def failures_of(folder: Path) -> pd.DataFrame:
    with pytest.raises(ContractViolation) as caught:
        read(folder)
    failures = caught.value.failures
    assert list(failures.columns) == ["file", "row", "column", "check", "value"]
    return failures


# --- the real data passes --------------------------------------------------------------------------------------


def test_the_whole_2011_file_passes_the_contract(tmp_path, bikeshare):
    folder = tmp_path / "2011"
    folder.mkdir()
    shutil.copy(SOURCE_CSV, folder / "rentals.csv")

    version = read(folder)

    assert len(version.frame) == len(bikeshare) == 8645
    assert list(version.frame.columns) == CONTRACT_COLUMNS
    assert version.files == ["rentals.csv"]
    # The CSV quotes some integers ("0"): they arrive as integers, as the contract says.
    assert version.frame["hr"].dtype == "int64"
    assert version.frame.groupby(["day", "hr"]).size().max() == 1


def test_the_rare_heavy_rain_category_is_accepted(tmp_path, bikeshare):
    heavy = bikeshare[bikeshare["weathersit"] == "heavy rain/snow"]
    assert len(heavy) == 1, "the demo year has exactly one hour of heavy rain/snow"
    assert "heavy rain/snow" in WEATHER_SITUATIONS
    # A small version around that hour: it passes, and the category is kept as it is.
    position = bikeshare.index.get_loc(heavy.index[0])
    folder = write_version(tmp_path, "heavy", {"rentals.csv": bikeshare.iloc[position - 3 : position + 3]})

    version = read(folder)

    assert (version.frame["weathersit"] == "heavy rain/snow").sum() == 1


@pytest.mark.parametrize("key", DEMO_VERSIONS)
def test_every_demo_monthly_snapshot_passes(tmp_path, bikeshare, key):
    snapshot = monthly_snapshot(bikeshare, key)
    folder = land_version(tmp_path / "versions", key, snapshot)

    version = read(folder)

    assert folder.name == key
    assert len(version.frame) == len(snapshot) > 0
    months = int(key.split("-")[1])
    assert version.frame["mnth"].nunique() == months
    # Cumulative: each month's snapshot holds every earlier row.
    assert version.frame["day"].min() == 1


# --- every kind of violation of the bike-rental rules, with its exact failures -------------------------------------


def set_cell(column: str, index: int, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[index, column] = value
        return frame

    return mutate


def negative(column: str, index: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A negative count that still adds up, so that only the range check fails."""

    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[index, column] = -1
        frame.loc[index, "bikers"] = frame.loc[index, "casual"] + frame.loc[index, "registered"]
        return frame

    return mutate


def duplicate_hour(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[9, ["day", "hr"]] = frame.loc[8, ["day", "hr"]].to_numpy()
    return frame


# (mutation of the first 48 hours, expected failure rows as (row, column, check), exact number of failures)
VIOLATIONS = {
    "missing-column": (lambda f: f.drop(columns=["temp"]), [(None, "temp", "column_in_dataframe")], 1),
    "extra-column": (lambda f: f.assign(note="x"), [(None, "note", "column_in_schema")], 1),
    "wrong-type": (set_cell("temp", 3, "abc"), [(4, "temp", "coerce_dtype('float64')")], None),
    "hour-24": (set_cell("hr", 5, 24), [(6, "hr", "less_than_or_equal_to(23)")], 1),
    "weekday-7": (set_cell("weekday", 6, 7), [(7, "weekday", "less_than_or_equal_to(6)")], 1),
    "temp-1.5": (set_cell("temp", 7, 1.5), [(8, "temp", "less_than_or_equal_to(1)")], 1),
    "hum-negative": (set_cell("hum", 7, -0.1), [(8, "hum", "greater_than_or_equal_to(0)")], 1),
    "season-5": (set_cell("season", 0, 5), [(1, "season", "isin")], 1),
    "month-name": (set_cell("mnth", 0, "January"), [(1, "mnth", "isin")], 1),
    "casual-negative": (negative("casual", 10), [(11, "casual", "greater_than_or_equal_to(0)")], 1),
    "registered-negative": (negative("registered", 11), [(12, "registered", "greater_than_or_equal_to(0)")], 1),
    "unknown-weather": (set_cell("weathersit", 12, "fog"), [(13, "weathersit", "isin")], 1),
    "null-int": (set_cell("hr", 13, None), [(14, "hr", "not_nullable")], None),
    "null-float": (set_cell("temp", 14, None), [(15, "temp", "not_nullable")], 1),
    "null-category": (set_cell("weathersit", 15, None), [(16, "weathersit", "not_nullable")], 1),
    # The row key is reported as the tuple it is, once per duplicated row.
    "duplicate-hour": (duplicate_hour, [(9, "(day, hr)", "unique"), (10, "(day, hr)", "unique")], 2),
    "broken-sum": (set_cell("bikers", 20, 999), [(21, "(table)", "bikers == casual + registered")], 1),
}


@pytest.mark.parametrize("violation", list(VIOLATIONS))
def test_each_violation_names_file_row_column_and_check(tmp_path, bikeshare, violation):
    mutate, expected, count = VIOLATIONS[violation]
    folder = write_version(tmp_path, "bad", {"rentals.csv": mutate(bikeshare.head(48).copy())})

    with pytest.raises(ContractViolation) as caught:
        read(folder)
    failures = caught.value.failures

    for row, column, check in expected:
        found = rows_matching(failures, file="rentals.csv", row=row, column=column, check=check)
        assert len(found) == 1, f"no single failure for row {row}, {column}, {check}:\n{failures}"
        assert f"{column}: " in " ".join(caught.value.failed_checks)
    if count is not None:
        assert len(failures) == count, failures
    # The message names the first failure's file and row, so a log line alone is enough to find it.
    assert "rentals.csv" in str(caught.value)


def test_a_broken_sum_is_one_failure_showing_the_row(tmp_path, bikeshare):
    rows = bikeshare.head(48).copy()
    rows.loc[20, "bikers"] = 999
    rows.loc[30, "casual"] += 1
    folder = write_version(tmp_path, "bad", {"rentals.csv": rows})

    failures = failures_of(folder)

    assert failures["row"].tolist() == [21, 31]
    assert "bikers=999" in failures["value"].iloc[0]
    assert f"casual={rows.loc[30, 'casual']}" in failures["value"].iloc[1]
    assert set(failures["column"]) == {"(table)"}
