"""Reading, fingerprinting and validating dataset versions against the RawData contract (no Dagster)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.contracts import WEATHER_SITUATIONS, RawData
from mlops_assets.demo.versions import DEMO_VERSIONS, land_version, monthly_snapshot
from mlops_assets.sources.files import FileSource
from mlops_assets.stages.ingestion import ContractViolation, read_version
from tests.conftest import write_version

CONTRACT_COLUMNS = list(RawData.to_schema().columns)


def folder_hash(folder: Path) -> str:
    """The content hash the files source computes without parsing (the sensor's check of an ingested version)."""
    return FileSource(folder.parent).content_hash(folder.name)


def failures_of(folder: Path) -> pd.DataFrame:
    with pytest.raises(ContractViolation) as caught:
        read_version(folder)
    failures = caught.value.failures
    assert list(failures.columns) == ["file", "row", "column", "check", "value"]
    return failures


def rows_matching(failures: pd.DataFrame, *, file, row, column, check) -> pd.DataFrame:
    """Failure rows naming this file, row (None: no row), column and check (a substring of the check's name)."""
    row_matches = failures["row"].isna() if row is None else failures["row"].eq(row)
    return failures[
        failures["file"].eq(file)
        & row_matches
        & failures["column"].eq(column)
        & failures["check"].str.contains(check, regex=False)
    ]


# --- the real data passes --------------------------------------------------------------------------------------


def test_the_whole_2011_file_passes_the_contract(tmp_path, bikeshare):
    folder = tmp_path / "2011"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "data" / "bikeshare_2011.csv", folder / "rentals.csv")

    version = read_version(folder)

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

    version = read_version(folder)

    assert (version.frame["weathersit"] == "heavy rain/snow").sum() == 1


@pytest.mark.parametrize("key", DEMO_VERSIONS)
def test_every_demo_monthly_snapshot_passes(tmp_path, bikeshare, key):
    snapshot = monthly_snapshot(bikeshare, key)
    folder = land_version(tmp_path / "versions", key, snapshot)

    version = read_version(folder)

    assert folder.name == key
    assert len(version.frame) == len(snapshot) > 0
    months = int(key.split("-")[1])
    assert version.frame["mnth"].nunique() == months
    # Cumulative: each month's snapshot holds every earlier row.
    assert version.frame["day"].min() == 1


def test_landing_never_overwrites_a_version(tmp_path, bikeshare):
    versions = tmp_path / "versions"
    first = land_version(versions, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    before = folder_hash(first)

    land_version(versions, "2011-01", monthly_snapshot(bikeshare, "2011-02"))

    assert folder_hash(first) == before
    assert [p.name for p in versions.iterdir()] == ["2011-01"], "no staging folder may be left behind"
    assert sorted(p.name for p in first.iterdir()) == [".landed", "rentals.csv"], "the manifest is written last"


# --- the content hash ------------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_the_data_version(tmp_path, bikeshare):
    snapshot = monthly_snapshot(bikeshare, "2011-01")
    one = land_version(tmp_path / "a", "2011-01", snapshot)
    two = land_version(tmp_path / "b", "2011-01", snapshot)

    first, again, copy = read_version(one), read_version(one), read_version(two)

    assert len(first.content_hash) == 64
    assert first.content_hash == again.content_hash == copy.content_hash
    assert first.content_hash == folder_hash(one)


def test_content_hash_changes_when_one_byte_changes(tmp_path, bikeshare):
    folder = land_version(tmp_path, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    before = folder_hash(folder)
    path = folder / "rentals.csv"
    data = bytearray(path.read_bytes())
    last_digit = max(i for i, b in enumerate(data) if chr(b).isdigit())
    data[last_digit] = ord("1") if data[last_digit] != ord("1") else ord("2")  # same length, one byte differs
    path.write_bytes(bytes(data))

    assert folder_hash(folder) != before


def test_content_hash_covers_file_names(tmp_path, bikeshare):
    folder = land_version(tmp_path, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    before = folder_hash(folder)
    (folder / "rentals.csv").rename(folder / "other.csv")

    assert folder_hash(folder) != before


def test_files_other_than_csv_and_parquet_are_ignored(tmp_path, bikeshare):
    folder = land_version(tmp_path, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    before = read_version(folder).content_hash
    (folder / "README.md").write_text("notes about this version")

    version = read_version(folder)

    assert version.files == ["rentals.csv"]
    assert version.content_hash == before


# --- several files in one version ------------------------------------------------------------------------------


def test_csv_and_parquet_in_one_version_are_read_together(tmp_path, bikeshare):
    january = monthly_snapshot(bikeshare, "2011-01")
    half = len(january) // 2
    folder = write_version(
        tmp_path, "mixed", {"a.csv": january.iloc[:half], "b.parquet": january.iloc[half:].reset_index(drop=True)}
    )

    version = read_version(folder)

    assert version.files == ["a.csv", "b.parquet"]
    assert len(version.frame) == len(january)
    pd.testing.assert_frame_equal(
        version.frame.reset_index(drop=True), january.reset_index(drop=True), check_dtype=False
    )


def test_a_failure_in_the_second_file_names_that_file_and_its_own_row(tmp_path, bikeshare):
    rows = bikeshare.head(48).copy()
    second = rows.iloc[24:].reset_index(drop=True)
    second.loc[4, "hr"] = 24  # the 5th data row of b.parquet
    folder = write_version(tmp_path, "mixed", {"a.csv": rows.iloc[:24], "b.parquet": second})

    failures = failures_of(folder)

    assert len(failures) == 1
    assert len(rows_matching(failures, file="b.parquet", row=5, column="hr", check="less_than_or_equal_to")) == 1


def test_an_hour_delivered_in_two_files_is_a_duplicate_in_both(tmp_path, bikeshare):
    rows = bikeshare.head(10)
    folder = write_version(tmp_path, "twice", {"a.csv": rows, "b.csv": rows.iloc[[3]]})

    failures = failures_of(folder)

    key = f"({rows['day'].iloc[3]}, {rows['hr'].iloc[3]})"
    for file, row in [("a.csv", 4), ("b.csv", 1)]:
        [found] = rows_matching(failures, file=file, row=row, column="(day, hr)", check="unique").itertuples()
        assert found.value == key
    assert len(failures) == 2


# --- every kind of violation -----------------------------------------------------------------------------------


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
        read_version(folder)
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


@pytest.mark.parametrize(
    ("column", "index", "value"),
    [("hr", 2, 2.5), ("hr", 7, "7.9"), ("weekday", 0, 5.5), ("casual", 3, 0.5)],
    ids=["hour-2.5", "hour-7.9", "weekday-5.5", "casual-0.5"],
)
def test_a_fraction_in_an_integer_column_is_reported_not_truncated(tmp_path, bikeshare, column, index, value):
    # Coercion alone would cast 7.9 to 7: the version would pass with an hour nobody delivered.
    rows = bikeshare.head(24).copy()
    rows[column] = rows[column].astype(object)
    rows.loc[index, column] = value
    folder = write_version(tmp_path, "bad", {"rentals.csv": rows})

    failures = failures_of(folder)

    found = rows_matching(failures, file="rentals.csv", row=index + 1, column=column, check="coerce_dtype('int64')")
    assert len(found) == 1, failures
    assert found["value"].iloc[0] == str(float(value))


def test_whole_numbers_written_as_floats_are_accepted(tmp_path, bikeshare):
    rows = bikeshare.head(24).copy()
    rows["hr"] = rows["hr"].astype(float)  # written as "0.0", "1.0", ...
    folder = write_version(tmp_path, "floats", {"rentals.csv": rows})

    version = read_version(folder)

    assert version.frame["hr"].dtype == "int64"
    assert version.frame["hr"].tolist() == bikeshare.head(24)["hr"].tolist()


@pytest.mark.parametrize(
    ("files", "check"),
    [
        ({"rentals.csv": b""}, "not empty"),
        ({"rentals.csv": "caf\u00e9,clear\n".encode("latin-1")}, "UTF-8 text"),
        ({"rentals.parquet": b"this is not parquet"}, "readable parquet"),
    ],
    ids=["empty-file", "non-utf8", "broken-parquet"],
)
def test_unreadable_files_are_one_clear_failure(tmp_path, files, check):
    folder = write_version(tmp_path, "bad", files)

    failures = failures_of(folder)

    assert len(failures) == 1, f"the real reason is buried:\n{failures}"
    assert len(rows_matching(failures, file=next(iter(files)), row=None, column="(file)", check=check)) == 1


def test_non_utf8_bytes_inside_real_data_are_caught(tmp_path, bikeshare):
    text = bikeshare.head(20).to_csv(index=False).replace("clear", "cl\u00e9ar", 1)
    folder = write_version(tmp_path, "bad", {"rentals.csv": text.encode("latin-1")})

    failures = failures_of(folder)

    assert len(rows_matching(failures, file="rentals.csv", row=None, column="(file)", check="UTF-8 text")) == 1


def test_an_unreadable_file_beside_a_good_one_is_reported_with_the_good_one_validated(tmp_path, bikeshare):
    good = bikeshare.head(24).copy()
    good.loc[3, "hr"] = 24
    folder = write_version(tmp_path, "bad", {"a.csv": good, "b.csv": b""})

    failures = failures_of(folder)

    assert len(rows_matching(failures, file="b.csv", row=None, column="(file)", check="not empty")) == 1
    assert len(rows_matching(failures, file="a.csv", row=4, column="hr", check="less_than_or_equal_to")) == 1


def test_a_header_only_file_has_no_rows(tmp_path, bikeshare):
    folder = write_version(tmp_path, "bad", {"rentals.csv": bikeshare.head(0)})

    failures = failures_of(folder)

    assert len(failures) == 1
    assert len(rows_matching(failures, file="rentals.csv", row=None, column="(table)", check="at least one row")) == 1


def test_a_folder_without_data_files_is_a_violation(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "README.md").write_text("no data here")

    failures = failures_of(folder)

    assert len(rows_matching(failures, file="(none)", row=None, column="(file)", check="has data files")) == 1


def test_a_missing_folder_is_not_a_contract_violation(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_version(tmp_path / "nope")


def test_a_column_missing_from_one_of_two_files(tmp_path, bikeshare):
    folder = write_version(
        tmp_path,
        "bad",
        {"a.csv": bikeshare.head(5), "b.csv": bikeshare.iloc[5:10].drop(columns=["hum"])},
    )

    failures = failures_of(folder)

    # Concatenated, b.csv's rows have no humidity: the null values are located in b.csv.
    assert set(failures["file"]) == {"b.csv"}
    assert sorted(failures.loc[failures["column"].eq("hum"), "row"]) == [1, 2, 3, 4, 5]


# --- structure: the real cause first, and no content of the file in the report -------------------------------------


def csv_text(rows: pd.DataFrame) -> str:
    return rows.to_csv(index=False)


def repeated_header(rows: pd.DataFrame) -> bytes:
    """Two exports concatenated with both headers: line 6 is the header again."""
    lines = csv_text(rows).splitlines()
    return ("\n".join([*lines[:5], lines[0], *lines[5:]]) + "\n").encode()


STRUCTURE = {
    # (file bytes from 24 real rows, check, row, words the message must hold)
    "repeated-header": (repeated_header, "header only once", 5, ["line 6 repeats the header"]),
    "semicolons": (lambda r: csv_text(r).replace(",", ";").encode(), "comma-separated", None, ["semicolon"]),
    "tabs": (lambda r: csv_text(r).replace(",", "\t").encode(), "comma-separated", None, ["tab-separated"]),
    "truncated-mid-value": (lambda r: csv_text(r).encode()[:-40], "complete last line", 24, ["truncated"]),
    "truncated-after-comma": (
        lambda r: csv_text(r).encode()[: csv_text(r).rindex(",") + 1],
        "complete last line",
        24,
        ["truncated", "14 of 15 fields"],
    ),
    "no-header": (lambda r: "\n".join(csv_text(r).splitlines()[1:]).encode() + b"\n", "header row", None, ["none"]),
    "not-a-csv": (lambda r: b"TOP-SECRET:x:0:0:admin:/home/admin\nsecret-line-2\n", "header row", None, ["none"]),
}


@pytest.mark.parametrize("case", list(STRUCTURE))
def test_a_broken_structure_is_one_failure_naming_the_real_cause(tmp_path, bikeshare, case):
    make, check, row, words = STRUCTURE[case]
    data = make(bikeshare.head(24))
    folder = write_version(tmp_path, "bad", {"rentals.csv": data})

    with pytest.raises(ContractViolation) as caught:
        read_version(folder)

    failures = caught.value.failures
    assert len(failures) == 1, f"the real cause is buried:\n{failures}"
    [found] = rows_matching(failures, file="rentals.csv", row=row, column="(file)", check=check).itertuples()
    for word in words:
        assert word in found.value
    # Nothing of the file but the contract's column names is quoted: not a value, not a line.
    report = str(caught.value).removeprefix(caught.value.location) + caught.value.to_metadata()["failure_table"].value
    for token in set(data.decode().replace(";", ",").replace("\t", ",").replace(":", ",").split()):
        for cell in token.split(","):
            if len(cell) > 3 and cell not in CONTRACT_COLUMNS:
                assert cell not in report, f"{cell!r} from the file is in the report"


def test_a_file_without_a_final_line_end_is_not_called_truncated(tmp_path, bikeshare):
    folder = write_version(tmp_path, "ok", {"rentals.csv": csv_text(bikeshare.head(24)).rstrip("\n").encode()})

    assert len(read_version(folder).frame) == 24


def test_failure_tables_print_a_missing_row_as_a_dash_like_the_message(tmp_path, bikeshare):
    folder = write_version(tmp_path, "bad", {"rentals.csv": bikeshare.head(5).drop(columns=["temp"])})

    with pytest.raises(ContractViolation) as caught:
        read_version(folder)

    assert "row -" in str(caught.value)
    table = caught.value.to_metadata()["failure_table"].value
    assert "nan" not in table
    assert "| rentals.csv | -     |" in table


# --- symbolic links are refused before a byte is read ----------------------------------------------------------


def test_a_data_file_that_is_a_link_is_refused_unread(tmp_path, bikeshare):
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("season,mnth\nTOP-SECRET-LINE,x\n")
    folder = write_version(tmp_path / "versions", "linked", {"a.csv": bikeshare.head(24)})
    (folder / "b.csv").symlink_to(secret)
    (folder / "c.csv").symlink_to(tmp_path / "nowhere.csv")  # dangling: following it would fail differently

    failures = failures_of(folder)

    for name in ("b.csv", "c.csv"):
        [found] = rows_matching(
            failures, file=name, row=None, column="(file)", check="not a symbolic link"
        ).itertuples()
        assert "refused unread" in found.value
    assert len(failures) == 2, "a.csv is validated beside them and passes"
    assert "TOP-SECRET-LINE" not in failures.to_string()


def test_a_version_folder_that_is_a_link_is_refused(tmp_path, bikeshare):
    from mlops_assets.sources import VersionUnreadable

    real = write_version(tmp_path / "elsewhere", "real", {"a.csv": bikeshare.head(24)})
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "linked").symlink_to(real, target_is_directory=True)

    with pytest.raises(VersionUnreadable, match="symbolic link"):
        read_version(tmp_path / "versions" / "linked")
    with pytest.raises(VersionUnreadable, match="symbolic link"):
        FileSource(tmp_path / "versions").content_hash("linked")
    assert "symbolic link" in FileSource(tmp_path / "versions").list_versions()["linked"]


def test_a_version_on_another_fsspec_filesystem_is_listed_settled_read_and_hashed_alike(tmp_path, bikeshare):
    import uuid

    import fsspec

    from mlops_assets.stages.ingestion import validate_version

    local = write_version(tmp_path, "v1", {"rentals.csv": bikeshare.head(24)})
    memory, root = fsspec.filesystem("memory"), f"/versions-{uuid.uuid4().hex}"
    memory.pipe(f"{root}/v1/rentals.csv", (local / "rentals.csv").read_bytes())
    memory.pipe(f"{root}/v1/README.md", b"not data")
    source = FileSource(f"memory://{root}", quiet_period_seconds=30)
    try:
        assert source.list_versions() == {"v1": None}
        fingerprint = source.fingerprint("v1")
        assert fingerprint.modified_at is not None, "object stores report a modification time too"
        assert not source.settled("v1", fingerprint, now=fingerprint.modified_at + 1)
        assert source.settled("v1", fingerprint, now=fingerprint.modified_at + 31)
        version = source.read("v1")
        assert version.content_hash == source.content_hash("v1") == folder_hash(local), "the same bytes, the same hash"
        assert len(validate_version(version).frame) == 24
    finally:
        memory.rm(root, recursive=True)


def test_the_landing_command_lands_atomically_with_a_manifest_and_never_overwrites(tmp_path, bikeshare):
    import json
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    source = write_version(
        tmp_path / "export", "files", {"a.csv": bikeshare.head(24), "b.parquet": bikeshare.iloc[24:29]}
    )
    (source / "notes.txt").write_text("not data")
    versions = tmp_path / "versions"

    def land(key: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mlops_assets.landing", str(source), key, "--to", str(versions)]
        return subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=120)

    landed = land("2012-01")

    assert landed.returncode == 0, landed.stderr
    assert sorted(p.name for p in versions.iterdir()) == ["2012-01"], "no .landing- folder is left"
    folder = versions / "2012-01"
    assert sorted(p.name for p in folder.iterdir()) == [".landed", "a.csv", "b.parquet"]
    manifest = json.loads((folder / ".landed").read_text())
    assert manifest == {"files": {name: (folder / name).stat().st_size for name in ["a.csv", "b.parquet"]}}
    assert len(read_version(folder).frame) == 29

    again, bad_key = land("2012-01"), land("../escape")

    assert again.returncode == 2 and "versions are immutable" in again.stderr
    assert bad_key.returncode == 2 and "cannot be a dataset version" in bad_key.stderr
    assert sorted(p.name for p in versions.iterdir()) == ["2012-01"]
