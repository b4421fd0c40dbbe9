"""Reading, fingerprinting and validating dataset versions against the RawData contract (no Dagster).

Every version here is built from the configured data set: the source's rows and the configured cut's versions; every
bad input from the contract (tests/contract_cases.py, tests/configured_data.py). The demo's own facts about its file
and its rules are in tests/demo/test_demo_contract.py.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets.commands.landing import VersionExists, land_files, land_version
from mlops_assets.infra.sources.files import FileSource
from mlops_assets.stages.ingestion import ContractViolation, read_version
from mlops_assets.stages.validation import contract_failures
from tests.configured_data import (
    CONTRACT_COLUMNS,
    SCHEMA,
    UNIQUE,
    UNIQUE_COLUMN,
    a_break,
    columns_of_kind,
    csv_bytes,
    cut_after_a_comma,
    cut_inside_a_value,
    dtype_text,
    first_column_of_kind,
    key_text,
    needs_unique_key,
    no_rows_checks,
    sample,
    with_invalid_utf8,
)
from tests.conftest import DATASET, write_version
from tests.contract_cases import broken_versions

CONTRACT = DATASET.contract  # the dataset's contract, `module:Class`
FILE = "rows.csv"  # the file name landing.land_version gives a version
LATIN_1_E = "\u00e9".encode("latin-1")  # the byte configured_data.with_invalid_utf8 adds


def folder_hash(folder: Path) -> str:
    """The content hash the files source computes without parsing (the sensor's check of an ingested version)."""
    return FileSource(folder.parent, CONTRACT).content_hash(folder.name)


def failures_of(folder: Path) -> pd.DataFrame:
    with pytest.raises(ContractViolation) as caught:
        read_version(folder, CONTRACT)
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


def test_the_whole_source_passes_the_contract(tmp_path, source):
    folder = land_version(tmp_path / "versions", "whole", source)

    version = read_version(folder, CONTRACT)

    assert len(version.frame) == len(source) > 0
    assert list(version.frame.columns) == CONTRACT_COLUMNS
    assert version.files == [FILE]
    # Every number arrives with the contract's type (read back from CSV text), every other column as text.
    assert {name: str(dtype) for name, dtype in version.frame.dtypes.items()} == {
        name: dtype_text(name) if name in columns_of_kind("iufb") else "object" for name in CONTRACT_COLUMNS
    }
    if UNIQUE:
        assert version.frame.groupby(UNIQUE).size().max() == 1


def test_every_version_of_the_configured_cut_passes_and_holds_the_one_before(tmp_path, versions):
    previous: set | None = None
    for key, rows in versions.items():
        folder = land_version(tmp_path / "versions", key, rows)

        version = read_version(folder, CONTRACT)

        assert folder.name == key
        assert len(version.frame) == len(rows) > 0
        # Cumulative (the dataset's source.cut): each version holds every row of the one before.
        row_keys = set(version.frame[UNIQUE or CONTRACT_COLUMNS].itertuples(index=False, name=None))
        if previous is not None:
            assert previous < row_keys, f"{key} does not hold every row of the version before it"
        previous = row_keys


def test_landing_never_overwrites_a_version(tmp_path, versions, keys):
    root = tmp_path / "versions"
    first = land_version(root, keys[0], versions[keys[0]])
    before = folder_hash(first)

    with pytest.raises(VersionExists, match="versions are immutable"):
        land_version(root, keys[0], versions[keys[1]])

    assert folder_hash(first) == before
    assert [p.name for p in root.iterdir()] == [keys[0]], "no staging folder may be left behind"
    assert sorted(p.name for p in first.iterdir()) == [".landed", FILE], "the manifest is written last"


# --- the content hash ------------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_the_data_version(tmp_path, versions, keys):
    rows = versions[keys[0]]
    one = land_version(tmp_path / "a", keys[0], rows)
    two = land_version(tmp_path / "b", keys[0], rows)

    first, again, copy = read_version(one, CONTRACT), read_version(one, CONTRACT), read_version(two, CONTRACT)

    assert len(first.content_hash) == 64
    assert first.content_hash == again.content_hash == copy.content_hash
    assert first.content_hash == folder_hash(one)


def test_content_hash_changes_when_one_byte_changes(tmp_path, versions, keys):
    folder = land_version(tmp_path, keys[0], versions[keys[0]])
    before = folder_hash(folder)
    path = folder / FILE
    data = bytearray(path.read_bytes())
    last_digit = max(i for i, b in enumerate(data) if chr(b).isdigit())
    data[last_digit] = ord("1") if data[last_digit] != ord("1") else ord("2")  # same length, one byte differs
    path.write_bytes(bytes(data))

    assert folder_hash(folder) != before


def test_content_hash_covers_file_names(tmp_path, versions, keys):
    folder = land_version(tmp_path, keys[0], versions[keys[0]])
    before = folder_hash(folder)
    (folder / FILE).rename(folder / "other.csv")

    assert folder_hash(folder) != before


def test_files_other_than_csv_and_parquet_are_ignored(tmp_path, versions, keys):
    folder = land_version(tmp_path, keys[0], versions[keys[0]])
    before = read_version(folder, CONTRACT).content_hash
    (folder / "README.md").write_text("notes about this version")

    version = read_version(folder, CONTRACT)

    assert version.files == [FILE]
    assert version.content_hash == before


# --- several files in one version ------------------------------------------------------------------------------


def test_csv_and_parquet_in_one_version_are_read_together(tmp_path, versions, keys):
    rows = versions[keys[0]]
    half = len(rows) // 2
    folder = write_version(
        tmp_path, "mixed", {"a.csv": rows.iloc[:half], "b.parquet": rows.iloc[half:].reset_index(drop=True)}
    )

    version = read_version(folder, CONTRACT)

    assert version.files == ["a.csv", "b.parquet"]
    assert len(version.frame) == len(rows)
    pd.testing.assert_frame_equal(version.frame.reset_index(drop=True), rows.reset_index(drop=True), check_dtype=False)


def test_a_failure_in_the_second_file_names_that_file_and_its_own_row(tmp_path):
    rows, bad = sample(48), a_break()
    second = bad.apply(rows.iloc[24:].reset_index(drop=True), 4)  # the 5th data row of b.parquet
    folder = write_version(tmp_path, "mixed", {"a.csv": rows.iloc[:24], "b.parquet": second})

    failures = failures_of(folder)

    assert len(failures) == 1
    assert len(rows_matching(failures, file="b.parquet", row=5, column=bad.column, check=bad.check)) == 1


@needs_unique_key
def test_a_row_key_delivered_in_two_files_is_a_duplicate_in_both(tmp_path):
    rows = sample(10)
    folder = write_version(tmp_path, "twice", {"a.csv": rows, "b.csv": rows.iloc[[3]]})

    failures = failures_of(folder)

    for file, row in [("a.csv", 4), ("b.csv", 1)]:
        [found] = rows_matching(failures, file=file, row=row, column=UNIQUE_COLUMN, check="unique").itertuples()
        assert found.value == key_text(rows, 3)
    assert len(failures) == 2


# --- every rule of the contract, one by one ----------------------------------------------------------------------

AT = 3  # the broken row's position: data row 4 of the file
CASES = broken_versions(SCHEMA, sample(8), at=AT)


def expected_failures(case: str, rows: pd.DataFrame) -> tuple[list[tuple], int | None]:
    """(failures that must be there as (row, column, check), their exact number or None) for a contract_cases case."""
    if case == "extra column":
        return [(None, "__extra_column__", "column_in_schema")], 1
    if case == "missing column":
        return [(None, CONTRACT_COLUMNS[0], "column_in_dataframe")], 1
    if case == "no rows":
        checks = no_rows_checks()
        return [(None, "(table)", check) for check in checks], len(checks)
    if case == "duplicate row key":
        return [(AT + 1, UNIQUE_COLUMN, "unique"), (len(rows), UNIQUE_COLUMN, "unique")], 2
    column, _, rule = case.partition(": ")
    check = {
        "missing value": "not_nullable",
        "fraction": f"coerce_dtype('{dtype_text(column)}')",
    }.get(rule, rule)
    return [(AT + 1, column, check)], None


@pytest.mark.parametrize("case", list(CASES))
def test_each_violation_names_file_row_column_and_check(tmp_path, case):
    rows = CASES[case]
    folder = write_version(tmp_path, "bad", {FILE: rows})

    with pytest.raises(ContractViolation) as caught:
        read_version(folder, CONTRACT)
    failures = caught.value.failures

    expected, count = expected_failures(case, rows)
    for row, column, check in expected:
        found = rows_matching(failures, file=FILE, row=row, column=column, check=check)
        assert len(found) == 1, f"no single failure for row {row}, {column}, {check}:\n{failures}"
        assert f"{column}: " in " ".join(caught.value.failed_checks)
    if count is not None:
        assert len(failures) == count, failures
    if ": " in case:  # a bad cell: nothing but its own row is reported
        assert failures["row"].dropna().eq(AT + 1).all(), failures
        if not case.endswith(": fraction"):  # (a fraction kept as text also fails the column's checks as a whole)
            assert failures["row"].notna().all(), failures
    # The message names the first failure's file and row, so a log line alone is enough to find it.
    assert FILE in str(caught.value)


@pytest.mark.parametrize("kinds", ["i", "f"], ids=["integer", "float"])
def test_a_text_in_a_numeric_column_is_a_failed_coercion(tmp_path, kinds):
    column = first_column_of_kind(kinds, {"i": "integer", "f": "float"}[kinds])
    rows = sample(24).astype({column: object})
    rows.loc[3, column] = "abc"
    folder = write_version(tmp_path, "bad", {FILE: rows})

    failures = failures_of(folder)

    found = rows_matching(failures, file=FILE, row=4, column=column, check=f"coerce_dtype('{dtype_text(column)}')")
    assert len(found) == 1, failures
    assert found["value"].iloc[0] == "abc"


def test_a_row_wise_table_check_is_one_failure_showing_the_row():
    """A dataframe check that fails row by row (the demo's `bikers == casual + registered`) is one `(table)` failure
    per failing row, showing the row's values: not one per column, as Pandera reports it."""
    schema = pa.DataFrameSchema(
        {"a": pa.Column(int), "b": pa.Column(int), "total": pa.Column(int)},
        checks=[pa.Check(lambda df: df["total"] == df["a"] + df["b"], name="total == a + b")],
    )
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 1, 1, 1], "total": [2, 3, 999, 5]})
    frame.loc[3, "a"] += 1
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)

    failures = contract_failures(caught.value)

    assert failures["index"].tolist() == [2, 3]
    assert set(failures["column"]) == {"(table)"} and set(failures["check"]) == {"total == a + b"}
    assert "total=999" in failures["value"].iloc[0]
    assert "a=5" in failures["value"].iloc[1]


def fractions() -> list:
    """(integer column, row, fraction added): as a number, as text, in a second integer column."""
    columns = columns_of_kind("i")
    if not columns:
        return [pytest.param(None, 0, 0, marks=pytest.mark.skip(reason="the contract has no integer column"))]
    first, *others = columns
    return [(first, 2, 0.5), (first, 7, "0.9"), *[(column, 0, 0.5) for column in others[:1]]]


@pytest.mark.parametrize(("column", "index", "offset"), fractions())
def test_a_fraction_in_an_integer_column_is_reported_not_truncated(tmp_path, column, index, offset):
    # Coercion alone would cast 7.9 to 7: the version would pass with a value nobody delivered.
    rows = sample(24)
    value = rows[column].iloc[index] + float(offset)
    if isinstance(offset, str):
        value = str(value)
    rows[column] = rows[column].astype(object)
    rows.loc[index, column] = value
    folder = write_version(tmp_path, "bad", {FILE: rows})

    failures = failures_of(folder)

    found = rows_matching(
        failures, file=FILE, row=index + 1, column=column, check=f"coerce_dtype('{dtype_text(column)}')"
    )
    assert len(found) == 1, failures
    assert found["value"].iloc[0] == str(float(value))


def test_whole_numbers_written_as_floats_are_accepted(tmp_path):
    column = first_column_of_kind("i", "integer")
    rows = sample(24)
    rows[column] = rows[column].astype(float)  # written as "0.0", "1.0", ...
    folder = write_version(tmp_path, "floats", {FILE: rows})

    version = read_version(folder, CONTRACT)

    assert version.frame[column].dtype == "int64"
    assert version.frame[column].tolist() == sample(24)[column].tolist()


@pytest.mark.parametrize(
    ("files", "check"),
    [
        ({FILE: b""}, "not empty"),
        ({FILE: "caf\u00e9,x\n".encode("latin-1")}, "UTF-8 text"),
        ({"rows.parquet": b"this is not parquet"}, "readable parquet"),
    ],
    ids=["empty-file", "non-utf8", "broken-parquet"],
)
def test_unreadable_files_are_one_clear_failure(tmp_path, files, check):
    folder = write_version(tmp_path, "bad", files)

    failures = failures_of(folder)

    assert len(failures) == 1, f"the real reason is buried:\n{failures}"
    assert len(rows_matching(failures, file=next(iter(files)), row=None, column="(file)", check=check)) == 1


def test_non_utf8_bytes_inside_real_data_are_named_by_file_offset_line_and_likely_encoding(tmp_path):
    data = with_invalid_utf8(csv_bytes(sample(20)), line=5)  # a Latin-1 "é" at the end of data row 5 (line 6)
    folder = write_version(tmp_path, "bad", {FILE: data})

    failures = failures_of(folder)

    [found] = rows_matching(failures, file=FILE, row=5, column="(file)", check="UTF-8 text").itertuples()
    offset = data.index(LATIN_1_E)
    assert found.value == (
        f"byte {offset:,} (line 6) is not UTF-8: {FILE} must be UTF-8 text; it looks like Windows-1252 or Latin-1: "
        "save it as UTF-8"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"], ids=["with-byte-order-mark", "without"])
def test_a_utf16_file_is_named_as_such(tmp_path, encoding):
    folder = write_version(tmp_path, "bad", {FILE: sample(5).to_csv(index=False).encode(encoding)})

    [found] = failures_of(folder).itertuples()

    assert (found.file, found.check) == (FILE, "UTF-8 text")
    assert f"{FILE} must be UTF-8 text; it looks like UTF-16" in found.value


def test_a_gzip_file_named_csv_is_named_as_compressed(tmp_path):
    folder = write_version(tmp_path, "bad", {FILE: gzip.compress(csv_bytes(sample(10)))})

    failures = failures_of(folder)

    message = f"{FILE} is gzip-compressed: name it {FILE}.gz"
    assert failures.values.tolist() == [[FILE, None, "(file)", "not compressed", message]]


def test_a_csv_gz_file_is_read_as_the_csv_it_compresses_and_lands_like_one(tmp_path):
    rows = sample(30)
    export = write_version(tmp_path / "export", "gz", {"a.csv.gz": gzip.compress(csv_bytes(rows.head(20)))})
    (export / "b.csv").write_bytes(csv_bytes(rows.iloc[20:]))

    folder = land_files(tmp_path / "versions", "v1", export)
    version = read_version(folder, CONTRACT)

    assert sorted(p.name for p in folder.iterdir()) == [".landed", "a.csv.gz", "b.csv"]
    pd.testing.assert_frame_equal(version.frame, rows, check_dtype=False)
    assert version.files == ["a.csv.gz", "b.csv"]


def test_a_broken_plain_or_non_utf8_csv_gz_file_is_one_clear_failure(tmp_path):
    text = with_invalid_utf8(csv_bytes(sample(20)), line=3)
    files = {
        "cut.csv.gz": gzip.compress(csv_bytes(sample(20)))[:40],
        "plain.csv.gz": csv_bytes(sample(20)),
        "latin.csv.gz": gzip.compress(text),
    }
    folder = write_version(tmp_path, "bad", files)

    failures = failures_of(folder).set_index("file")

    assert failures.loc["cut.csv.gz", "value"] == "the compressed data is cut off or damaged"
    assert failures.loc["plain.csv.gz", "value"] == "plain.csv.gz is not gzip-compressed: name it plain.csv"
    assert set(failures.loc[["cut.csv.gz", "plain.csv.gz"], "check"]) == {"gzip-compressed"}
    assert failures.loc["latin.csv.gz", "check"] == "UTF-8 text"
    offset = text.index(LATIN_1_E)
    assert failures.loc["latin.csv.gz", "value"].startswith(f"byte {offset:,} of the uncompressed text")


def test_an_unreadable_file_beside_a_good_one_is_reported_with_the_good_one_validated(tmp_path):
    bad = a_break()
    folder = write_version(tmp_path, "bad", {"a.csv": bad.apply(sample(24), 3), "b.csv": b""})

    failures = failures_of(folder)

    assert len(rows_matching(failures, file="b.csv", row=None, column="(file)", check="not empty")) == 1
    assert len(rows_matching(failures, file="a.csv", row=4, column=bad.column, check=bad.check)) == 1


def test_a_header_only_file_has_no_rows(tmp_path):
    checks = no_rows_checks()
    folder = write_version(tmp_path, "bad", {FILE: sample(1).head(0)})

    failures = failures_of(folder)

    assert len(failures) == len(checks)
    for check in checks:
        assert len(rows_matching(failures, file=FILE, row=None, column="(table)", check=check)) == 1


def test_a_folder_without_data_files_is_a_violation(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "README.md").write_text("no data here")

    failures = failures_of(folder)

    assert len(rows_matching(failures, file="(none)", row=None, column="(file)", check="has data files")) == 1


def test_a_missing_folder_is_not_a_contract_violation(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_version(tmp_path / "nope", CONTRACT)


def test_a_column_missing_from_one_of_two_files(tmp_path):
    column = next((n for n in columns_of_kind("f") if not SCHEMA.columns[n].nullable), None)
    if column is None:
        pytest.skip("the contract has no non-nullable float column")
    rows = sample(10)
    folder = write_version(tmp_path, "bad", {"a.csv": rows.head(5), "b.csv": rows.iloc[5:10].drop(columns=[column])})

    failures = failures_of(folder)

    # Concatenated, b.csv's rows have no value in that column: the null values are located in b.csv.
    assert set(failures["file"]) == {"b.csv"}
    assert sorted(failures.loc[failures["column"].eq(column), "row"]) == [1, 2, 3, 4, 5]


# --- structure: the real cause first, and no content of the file in the report -------------------------------------


def repeated_header(data: bytes) -> bytes:
    """Two exports concatenated with both headers: line 6 is the header again."""
    lines = data.decode().splitlines()
    return ("\n".join([*lines[:5], lines[0], *lines[5:]]) + "\n").encode()


FIELDS = len(CONTRACT_COLUMNS)
STRUCTURE = {
    # (file bytes from the CSV bytes of 24 real rows, check, row, words the message must hold)
    "repeated-header": (repeated_header, "header only once", 5, ["line 6 repeats the header"]),
    "semicolons": (lambda d: d.replace(b",", b";"), "comma-separated", None, ["semicolon"]),
    "tabs": (lambda d: d.replace(b",", b"\t"), "comma-separated", None, ["tab-separated"]),
    "truncated-mid-value": (cut_inside_a_value, "complete last line", 24, ["truncated"]),
    "truncated-after-comma": (
        cut_after_a_comma,
        "complete last line",
        24,
        ["truncated", f"1 of {FIELDS} fields"],
    ),
    "no-header": (lambda d: b"\n".join(d.splitlines()[1:]) + b"\n", "header row", None, ["none"]),
    "not-a-csv": (lambda d: b"TOP-SECRET:x:0:0:admin:/home/admin\nsecret-line-2\n", "header row", None, ["none"]),
}


@pytest.mark.parametrize("case", list(STRUCTURE))
def test_a_broken_structure_is_one_failure_naming_the_real_cause(tmp_path, case):
    make, check, row, words = STRUCTURE[case]
    data = make(csv_bytes(sample(24)))
    folder = write_version(tmp_path, "bad", {FILE: data})

    with pytest.raises(ContractViolation) as caught:
        read_version(folder, CONTRACT)

    failures = caught.value.failures
    assert len(failures) == 1, f"the real cause is buried:\n{failures}"
    [found] = rows_matching(failures, file=FILE, row=row, column="(file)", check=check).itertuples()
    for word in words:
        assert word in found.value
    # Nothing of the file but the contract's column names is quoted: not a value, not a line.
    report = str(caught.value).removeprefix(caught.value.location) + caught.value.to_metadata()["failure_table"].value
    for token in set(data.decode().replace(";", ",").replace("\t", ",").replace(":", ",").split()):
        for cell in token.split(","):
            if len(cell) > 3 and cell not in CONTRACT_COLUMNS:
                assert cell not in report, f"{cell!r} from the file is in the report"


def test_a_file_without_a_final_line_end_is_not_called_truncated(tmp_path):
    folder = write_version(tmp_path, "ok", {FILE: csv_bytes(sample(24)).rstrip(b"\n")})

    assert len(read_version(folder, CONTRACT).frame) == 24


def test_failure_tables_print_a_missing_row_as_a_dash_like_the_message(tmp_path):
    dropped = next(name for name in CONTRACT_COLUMNS if name not in UNIQUE)
    folder = write_version(tmp_path, "bad", {FILE: sample(5).drop(columns=[dropped])})

    with pytest.raises(ContractViolation) as caught:
        read_version(folder, CONTRACT)

    assert "row -" in str(caught.value)
    table = caught.value.to_metadata()["failure_table"].value
    assert "nan" not in table
    assert f"| {FILE} | -     |" in table


# --- symbolic links are refused before a byte is read ----------------------------------------------------------


def test_a_data_file_that_is_a_link_is_refused_unread(tmp_path):
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(f"{','.join(CONTRACT_COLUMNS[:2])}\nTOP-SECRET-LINE,x\n")
    folder = write_version(tmp_path / "versions", "linked", {"a.csv": sample(24)})
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


def test_a_version_folder_that_is_a_link_is_refused(tmp_path):
    from mlops_assets.infra.sources import VersionUnreadable

    real = write_version(tmp_path / "elsewhere", "real", {"a.csv": sample(24)})
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "linked").symlink_to(real, target_is_directory=True)

    with pytest.raises(VersionUnreadable, match="symbolic link"):
        read_version(tmp_path / "versions" / "linked", CONTRACT)
    with pytest.raises(VersionUnreadable, match="symbolic link"):
        FileSource(tmp_path / "versions", CONTRACT).content_hash("linked")
    assert "symbolic link" in FileSource(tmp_path / "versions", CONTRACT).list_versions()["linked"]


def test_a_version_on_another_fsspec_filesystem_is_listed_settled_read_and_hashed_alike(tmp_path):
    import uuid

    import fsspec

    from mlops_assets.stages.ingestion import validate_version

    local = write_version(tmp_path, "v1", {FILE: sample(24)})
    memory, root = fsspec.filesystem("memory"), f"/versions-{uuid.uuid4().hex}"
    memory.pipe(f"{root}/v1/{FILE}", (local / FILE).read_bytes())
    memory.pipe(f"{root}/v1/README.md", b"not data")
    source = FileSource(f"memory://{root}", CONTRACT, quiet_period_seconds=30)
    try:
        assert source.list_versions() == {"v1": None}
        fingerprint = source.fingerprint("v1")
        assert fingerprint.modified_at is not None, "object stores report a modification time too"
        assert not source.settled("v1", fingerprint, now=fingerprint.modified_at + 1)
        assert source.settled("v1", fingerprint, now=fingerprint.modified_at + 31)
        version = source.read("v1")
        assert version.content_hash == source.content_hash("v1") == folder_hash(local), "the same bytes, the same hash"
        assert len(validate_version(version, DATASET.raw_contract()).frame) == 24
    finally:
        memory.rm(root, recursive=True)


def test_the_landing_command_lands_atomically_with_a_manifest_and_never_overwrites(tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    rows = sample(29)
    source = write_version(tmp_path / "export", "files", {"a.csv": rows.head(24), "b.parquet": rows.iloc[24:29]})
    (source / "notes.txt").write_text("not data")
    versions = tmp_path / "versions"

    def land(key: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mlops_assets.commands.landing", str(source), key, "--to", str(versions)]
        command += ["--dataset", DATASET.name]
        return subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=120)

    landed = land("2012-01")

    assert landed.returncode == 0, landed.stderr
    assert sorted(p.name for p in versions.iterdir()) == ["2012-01"], "no .landing- folder is left"
    folder = versions / "2012-01"
    assert sorted(p.name for p in folder.iterdir()) == [".landed", "a.csv", "b.parquet"]
    manifest = json.loads((folder / ".landed").read_text())
    assert manifest == {"files": {name: (folder / name).stat().st_size for name in ["a.csv", "b.parquet"]}}
    assert len(read_version(folder, CONTRACT).frame) == 29

    again, bad_key = land("2012-01"), land("../escape")

    assert again.returncode == 2 and "versions are immutable" in again.stderr
    assert bad_key.returncode == 2 and "cannot be a dataset version" in bad_key.stderr
    assert sorted(p.name for p in versions.iterdir()) == ["2012-01"]
