"""A first contract and feature code for a data set that has none yet, inferred from the data.

    python -m mlops_assets.commands.scaffold data/my.csv --dataset my_data --model my_model --target label \
        [--row-key id] [--time-column ts]

Pandera infers a schema from the file (`pandera.infer_schema`: types, nulls, the ranges seen); this renders it as a
readable `RawData` DataFrameModel (and `row_time`) in defs/<dataset>/contract.py, and defs/<model>/features.py with
its `Features` model (numeric inputs as floats, text columns with few values one-hot over the values seen). Both
are a start, not the rules of your data (the ranges and categories one file showed): tighten them before the
pipeline trusts them. `copier copy` runs this for a data set without a contract.
"""

from __future__ import annotations

import keyword
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MAX_CATEGORIES = 20  # a text column with at most this many distinct values is a category (isin, one-hot)
GENERATED_ROW_KEY = "row_id"  # landing.GENERATED_ROW_KEY: the row's position in the source file


@dataclass
class Column:
    name: str  # as in the data
    field: str  # a Python identifier for the DataFrameModel
    annotation: str  # int, float, str, bool
    nullable: bool
    checks: dict[str, object]  # pa.Field keyword arguments: ge, le, isin


def identifier(name: str, taken: set[str]) -> str:
    """A Python identifier for a column name: lower case, other characters as `_`, unique among `taken`."""
    base = re.sub(r"\W+", "_", name.strip()).strip("_").lower() or "column"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = f"c_{base}"
    field, n = base, 2
    while field in taken:
        field, n = f"{base}_{n}", n + 1
    taken.add(field)
    return field


def _number(value) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def infer_columns(frame: pd.DataFrame) -> list[Column]:
    """Each column's type, nullability and the ranges or categories the data shows (via pandera.infer_schema)."""
    import pandera.pandas as pa

    schema = pa.infer_schema(frame)
    taken: set[str] = set()
    columns = []
    for name, inferred in schema.columns.items():
        series = frame[name]
        kind = inferred.dtype.type
        stats = {check.name: check.statistics for check in inferred.checks}
        if pd.api.types.is_bool_dtype(kind):
            annotation, checks = "bool", {}
        elif pd.api.types.is_numeric_dtype(kind):
            annotation = "int" if pd.api.types.is_integer_dtype(kind) else "float"
            values = set(series.dropna().unique())
            if annotation == "int" and values and values <= {0, 1}:
                checks = {"isin": [0, 1]}
            else:
                checks = {
                    "ge": _number(stats["greater_than_or_equal_to"]["min_value"]),
                    "le": _number(stats["less_than_or_equal_to"]["max_value"]),
                }
        else:
            annotation = "str"
            values = sorted(series.dropna().astype(str).unique())
            checks = {"isin": values} if len(values) <= MAX_CATEGORIES else {}
        columns.append(Column(name, identifier(name, taken), annotation, bool(series.isna().any()), checks))
    return columns


def _field(column: Column, description: str | None) -> str:
    arguments = [f"{key}={value!r}" for key, value in column.checks.items()]
    if column.nullable:
        arguments.append("nullable=True")
    if column.field != column.name:
        arguments.append(f"alias={column.name!r}")
    if description:
        arguments.append(f"description={description!r}")
    return f"    {column.field}: Series[{column.annotation}] = pa.Field({', '.join(arguments)})"


@dataclass
class Plan:
    """What the generated files say: the raw columns, the model's inputs and how they become features."""

    columns: list[Column]
    numeric: dict[str, str]  # raw column -> feature column
    categories: dict[str, dict[str, str]]  # raw text column -> {category: one-hot feature column}
    ignored: list[str]  # text columns with too many values to one-hot: not model inputs
    time_column: str | None
    row_key: list[str]


def plan(frame: pd.DataFrame, target: str, row_key: list[str], time_column: str | None) -> Plan:
    columns = infer_columns(frame)
    not_inputs = {target, *row_key, *([time_column] if time_column else [])}
    numeric, categories, ignored = {}, {}, []
    for column in columns:
        if column.name in not_inputs:
            continue
        if column.annotation in ("int", "float", "bool"):
            numeric[column.name] = column.field
        elif "isin" in column.checks:
            taken = {*numeric.values(), *(n for names in categories.values() for n in names.values())}
            categories[column.name] = {
                str(value): identifier(f"{column.field}_{value}", taken) for value in column.checks["isin"]
            }
        else:
            ignored.append(column.name)
    return Plan(columns, numeric, categories, ignored, time_column, row_key)


def feature_columns(p: Plan) -> list[str]:
    return [*p.numeric.values(), *(name for names in p.categories.values() for name in names.values())]


def row_time_source(p: Plan) -> str:
    if p.time_column is None:
        return ""
    if p.time_column in p.numeric or any(c.name == p.time_column and c.annotation != "str" for c in p.columns):
        body = f'''    """A row's position in time: the value of {p.time_column!r}."""
    return raw[{p.time_column!r}].astype(float)'''
    else:
        body = f'''    """A row's position in time: {p.time_column!r} parsed as a date and time, in nanoseconds."""
    return pd.to_datetime(raw[{p.time_column!r}]).astype("int64")'''
    return f"""

def row_time(raw: pd.DataFrame) -> pd.Series:
{body}
"""


def contract_source(p: Plan, source_name: str, package: str) -> str:
    """contract.py: `RawData` as inferred, and `row_time` from the time column if any."""
    roles = {name: "the row key" for name in p.row_key}
    if p.time_column:
        roles[p.time_column] = "the time column (row_time below)"
    for c in p.columns:
        if c.name == GENERATED_ROW_KEY and p.row_key == [GENERATED_ROW_KEY]:
            roles[c.name] = "the row's position in the source file (landing.read_source adds it)"
            c.checks = {"ge": 0}
    raw_fields = [_field(c, roles.get(c.name)) for c in p.columns]
    unique = f"\n        unique = {p.row_key!r}  # one row per key: the dataset's row key" if p.row_key else ""
    return f'''"""The dataset's contract (a Pandera `DataFrameModel`, `RawData`) and its time order (`row_time`).

Generated by `python -m {package}.commands.scaffold` from {source_name}:
the types, nulls, ranges and categories that file shows. Tighten them now: a range seen in one file is not
a rule of the data (a later version may hold a larger value), and a rule the data must keep (a unit, a known
category list, a relation between columns) is a `pa.Field` argument or a `@pa.dataframe_check`.
After editing, run `python -m {package}.commands.column_schemas`.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from {package}.stages.validation import keep_fractions_uncoercible


class RawData(pa.DataFrameModel):
    """The rows as delivered (inferred from {source_name})."""

{chr(10).join(raw_fields)}

    @pa.dataframe_parser
    def fractions_are_not_integers(cls, df: pd.DataFrame) -> pd.DataFrame:
        return keep_fractions_uncoercible(df, cls)

    @pa.dataframe_check(name="at least one row")
    def not_empty(cls, df: pd.DataFrame) -> bool:
        return len(df) > 0

    class Config:
        strict = True  # a missing, extra or renamed column is a contract failure
        coerce = True  # CSV files quote some numbers; unparseable values are reported, not guessed{unique}
        name = "RawData"
{row_time_source(p)}'''


def features_source(p: Plan, source_name: str) -> str:
    """features.py: numeric inputs as floats, categories one-hot, and the `Features` contract of what it makes."""
    numeric = {c.field: c for c in p.columns if c.name in p.numeric}
    feature_fields = []
    for name in feature_columns(p):
        nullable = numeric[name].nullable if name in numeric else False
        checks = "nullable=True" if nullable else ("" if name in numeric else "isin=[0.0, 1.0]")
        feature_fields.append(f"    {name}: Series[float] = pa.Field({checks})")
    ignored = f"\n# Text columns with too many values to one-hot, not model inputs: {p.ignored!r}" if p.ignored else ""
    return f'''"""Feature engineering: one implementation, for the feature_table asset and inside every logged model.

Generated by the scaffold from {source_name}: numeric columns as floats, text columns with few values one-hot over
the values seen (an unknown value gives all zeros). Rewrite it with what you know about the data; keep it stateless
(no fitted statistics) so that training, batch and online scoring compute the same columns.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

NUMERIC = {p.numeric!r}  # raw column -> feature column
CATEGORIES = {p.categories!r}  # raw text column -> {{category: its one-hot column}}{ignored}
# Raw columns the features read: the model's input (never the target, the row key or the time column).
MODEL_INPUT_COLUMNS = [*NUMERIC, *CATEGORIES]
FEATURE_COLUMNS = {feature_columns(p)!r}


def make_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw contract rows -> the estimator's features (columns FEATURE_COLUMNS, same index)."""
    features = pd.DataFrame(index=raw.index)
    for column, name in NUMERIC.items():
        features[name] = raw[column].astype(float)
    for column, categories in CATEGORIES.items():
        values = raw[column].astype(str)
        for category, name in categories.items():
            features[name] = (values == category).astype(float)
    return features[FEATURE_COLUMNS]


class Features(pa.DataFrameModel):
    """Engineered features: what the estimator sees (made by `make_features`)."""

{chr(10).join(feature_fields)}

    class Config:
        strict = True
        name = "Features"
'''


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


def write(
    source: Path,
    package_dir: Path,
    dataset: str,
    model: str,
    target: str,
    row_key: list[str],
    time_column: str | None = None,
) -> list[Path]:
    """Write defs/<dataset>/contract.py and defs/<model>/features.py for `source` under `package_dir`."""
    frame = read(source)
    if row_key == [GENERATED_ROW_KEY] and GENERATED_ROW_KEY not in frame.columns:
        frame.insert(0, GENERATED_ROW_KEY, range(len(frame)))  # as landing.read_source adds it
    for column in [target, *row_key, *([time_column] if time_column else [])]:
        if column not in frame.columns:
            raise ValueError(f"{source.name} has no column {column!r} (columns: {', '.join(frame.columns)})")
    p = plan(frame, target, row_key, time_column)
    contracts, features = package_dir / "defs" / dataset / "contract.py", package_dir / "defs" / model / "features.py"
    for folder in (contracts.parent, features.parent):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    contracts.write_text(contract_source(p, source.name, package_dir.name))
    features.write_text(features_source(p, source.name))
    # The project's formatter, where it is installed (a missing ruff leaves the files as rendered).
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", "--no-cache", contracts, features], check=False)
    return [contracts, features]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.commands.scaffold", description=__doc__.splitlines()[0]
    )
    parser.add_argument("source", type=Path, help="the data file (CSV or Parquet)")
    parser.add_argument("--dataset", required=True, help="the dataset's name (defs/<dataset>/contract.py)")
    parser.add_argument("--model", required=True, help="the model's name (defs/<model>/features.py)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--row-key", nargs="*", default=[], help=f"none: a generated {GENERATED_ROW_KEY}")
    parser.add_argument("--time-column")
    parser.add_argument("--to", type=Path, default=Path(__file__).parents[1], help="the package folder")
    args = parser.parse_args(argv)
    row_key = args.row_key or [GENERATED_ROW_KEY]
    for path in write(args.source, args.to, args.dataset, args.model, args.target, row_key, args.time_column):
        print(f"wrote {path}: read it and tighten it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
