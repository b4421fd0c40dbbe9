"""Reading one data file's bytes into rows, naming first what is structurally wrong with it.

A CSV file with a broken structure is one failure of that file, with the real cause: a first line that names none
of the contract's columns (no header, or another dataset's file), another delimiter than the comma, the header
repeated inside the file (files concatenated with their headers), a last line cut off (a truncated copy). Its rows
are not validated then: the contract's failures would bury the cause (every column "wrong", valid values listed as
failures). Messages quote no content of the file: only counts, line numbers and the contract's own column names.

A `.csv.gz` file is read as the CSV text it compresses; a gzip-compressed file named `.csv` is named as such. A file
that is not UTF-8 is named with the offset and line of its first byte that is not, and its likely encoding.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from functools import cache

import pandas as pd

DELIMITERS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}
GZIP_MAGIC = b"\x1f\x8b"


@cache
def contract_columns(contract: str) -> tuple[str, ...]:
    """The column names of the contract `module:Class` (the dataset's defs.yaml names it)."""
    from mlops_assets.settings.paths import load_object

    return tuple(load_object(contract).to_schema().columns)


def _failure(name: str, check: str, value: str, row: int | None = None) -> dict:
    return {"file": name, "row": row, "column": "(file)", "check": check, "value": value}


def _fields(line: str, delimiter: str = ",") -> list[str]:
    return [field.strip() for field in next(csv.reader([line], delimiter=delimiter), [])]


def _repeated_header(data: bytes, header: bytes) -> list[int]:
    """Line numbers (1-based) of lines after the first that equal the header line."""
    lines, start = [], 0
    while (found := data.find(b"\n" + header, start)) >= 0:
        end = found + 1 + len(header)
        if end == len(data) or data[end : end + 1] in (b"\n", b"\r"):
            lines.append(data.count(b"\n", 0, found + 1) + 1)
        start = end
    return lines


def csv_structure_problem(data: bytes, columns: tuple[str, ...]) -> tuple[int | None, str, str] | None:
    """(data row or None, check, message) of the first structural problem of a CSV file, or None."""
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r")
    try:
        header = first.decode("utf-8")
    except UnicodeDecodeError:
        return None  # the reader reports the encoding, with the byte's position
    fields = _fields(header)
    if len(fields) <= 1:
        for delimiter, word in DELIMITERS.items():
            split = _fields(header, delimiter)
            if len(split) > 1:
                known = len(set(split) & set(columns))
                return (
                    None,
                    "comma-separated",
                    f"the header has 1 field; split at the {word} ({delimiter!r}) it has {len(split)}, {known} of "
                    f"them contract columns: the file looks {word}-separated. Write it with commas.",
                )
    if not set(fields) & set(columns):
        return (
            None,
            "header row",
            f"the first line names none of the contract's {len(columns)} columns: the file has no header row, or "
            "is not a data file of this dataset",
        )
    repeats = _repeated_header(data, first)
    if repeats:
        more = f" (and {len(repeats) - 1} more line(s))" if len(repeats) > 1 else ""
        return (
            repeats[0] - 1,
            "header only once",
            f"line {repeats[0]} repeats the header{more}: files were concatenated with their headers; keep only "
            "the first header",
        )
    if not data.endswith(b"\n") and end >= 0:
        # Cut off: no line end, and fewer fields than the header or an empty last one (cut right after a comma).
        # A cut inside the last value cannot be told from a file that merely lacks its final line end.
        last = _fields(data[data.rfind(b"\n") + 1 :].decode("utf-8", errors="replace").rstrip("\r"))
        filled = len(last) - (last[-1:] == [""])
        if filled < len(fields):
            line = data.count(b"\n") + 1
            return (
                line - 1,
                "complete last line",
                f"the last line (line {line}) stops after {filled} of {len(fields)} fields, with no line end: the file "
                "looks truncated (cut off while it was written or copied)",
            )
    return None


def _utf16(data: bytes) -> bool:
    """A byte-order mark of UTF-16, or a NUL byte in every other byte or so (UTF-16 text of mostly ASCII)."""
    return data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4096].count(b"\0") > len(data[:4096]) // 4


def not_utf8(name: str, data: bytes) -> dict:
    """The failure of a file that is not UTF-8: where its first byte that is not is, and what it likely is instead."""
    try:
        data.decode("utf-8")
        at, row = "", None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        text = " of the uncompressed text" if name.lower().endswith(".gz") else ""
        at, row = f"byte {error.start:,}{text} (line {line}) is not UTF-8: ", (line - 1 if line > 1 else None)
    likely = ""
    if _utf16(data):
        likely = "; it looks like UTF-16"
    else:
        try:
            data.decode("cp1252")  # the usual export of a spreadsheet on Windows
            likely = "; it looks like Windows-1252 or Latin-1"
        except UnicodeDecodeError:
            pass
    return _failure(name, "UTF-8 text", f"{at}{name} must be UTF-8 text{likely}: save it as UTF-8", row)


def parse_file(name: str, data: bytes, contract: str) -> tuple[pd.DataFrame | None, dict | None]:
    """The rows of one CSV (`.csv.gz`: gzip-compressed) or Parquet file, or None and the failure that says why it
    cannot be read.

    `contract` (`module:Class`) names the columns a header must have."""
    kind = "parquet" if name.lower().endswith(".parquet") else "csv"
    if name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            if not data.startswith(GZIP_MAGIC):
                return None, _failure(name, "gzip-compressed", f"{name} is not gzip-compressed: name it {name[:-3]}")
            return None, _failure(name, "gzip-compressed", "the compressed data is cut off or damaged")
    elif kind == "csv" and data.startswith(GZIP_MAGIC):
        return None, _failure(name, "not compressed", f"{name} is gzip-compressed: name it {name}.gz")
    if kind == "csv" and _utf16(data):  # NUL bytes are UTF-8 too: the structure checks would see a wrong header
        return None, not_utf8(name, data)
    if kind == "csv":
        if not data or data.isspace():
            return None, _failure(name, "not empty", "the file is empty")
        problem = csv_structure_problem(data, contract_columns(contract))
        if problem is not None:
            row, check, message = problem
            return None, _failure(name, check, message, row)
    try:
        if kind == "parquet":
            return pd.read_parquet(io.BytesIO(data)), None
        return pd.read_csv(io.BytesIO(data), encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, not_utf8(name, data)
    except pd.errors.EmptyDataError as error:
        return None, _failure(name, "not empty", str(error)[:200])
    except (pd.errors.ParserError, OSError, ValueError) as error:
        return None, _failure(name, f"readable {kind}", str(error)[:200])
