"""Contract helpers that every contract and stage shares: failure tables, fingerprints, the model's input check.

`keep_fractions_uncoercible` is for contracts to call (see RawData); the rest is used by the stages.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import cache

import pandas as pd
import pandera.pandas as pa


def keep_fractions_uncoercible(df: pd.DataFrame, model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """Turn fractional numbers in the model's integer columns into text, so that coercion reports them.

    With `coerce = True` Pandera casts 2.5 to the integer 2 without a word (an hour of 2.5 would become 2).
    As text, "2.5" cannot be cast, and the failure names the row and the value as delivered.
    """
    for name, column in model.to_schema().columns.items():
        if name not in df or not pd.api.types.is_integer_dtype(column.dtype.type):
            continue
        if pd.api.types.is_integer_dtype(df[name].dtype):  # integers already: nothing can be fractional
            continue
        numbers = pd.to_numeric(df[name], errors="coerce")
        fractional = numbers.notna() & numbers.ne(numbers.round())
        if fractional.any():
            df = df.assign(**{name: df[name].astype(object).where(~fractional, df[name].astype(str))})
    return df


@cache
def contract_hash(model: type[pa.DataFrameModel]) -> str:
    """A stable fingerprint of a contract's source code, recorded with every model trained under it."""
    return hashlib.sha256(inspect.getsource(model).encode()).hexdigest()[:16]


def contract_failures(error: pa.errors.SchemaErrors) -> pd.DataFrame:
    """Pandera's failure cases as one row per failure: column, check, row index and failing value.

    Pandera names the schema, not the column, when a column is missing or unexpected: the column is put back in
    `column`. A row-wise dataframe check (such as `total == a + b`) fails once per row, but
    Pandera reports it once per column of that row: those are folded into one `(table)` row whose value is the
    whole failing row. A duplicate of the row key (`unique = [...]`) is reported by Pandera once per key column, as
    `multiple_fields_uniqueness`: folded into one row per duplicate, column `(day, hr)`, check `unique`, value the
    key as a tuple. A column with values that cannot be read as its type reports only those: its other checks then
    ran on text and would report every row (an `isin` of numbers fails for "3" as much as for "abc").
    """
    cases = _only_type_failures_where_a_type_failed(error.failure_cases.reset_index(drop=True))
    column = cases["column"].astype(object)
    schema_level = column.isna() | column.eq(error.schema.name)
    presence = schema_level & cases["check"].isin(["column_in_dataframe", "column_in_schema"])
    column = column.mask(schema_level, "(table)").mask(presence, cases["failure_case"])
    frame = pd.DataFrame(
        {
            "column": column.astype(str),
            "check": cases["check"].astype(str),
            "index": cases["index"],
            "value": cases["failure_case"].astype(str),
        }
    )
    duplicate = cases["check"].eq("multiple_fields_uniqueness") & cases["index"].notna()
    row_wise = (
        cases["schema_context"].eq("DataFrameSchema")
        & cases["check_number"].notna()
        & cases["index"].notna()
        & ~schema_level
        & ~duplicate
    )
    pieces = [frame[~row_wise & ~duplicate]]
    if row_wise.any():
        folded = (
            frame[row_wise]
            .assign(value=frame["column"] + "=" + frame["value"])
            .groupby(["check", "index"], sort=False)["value"]
            .agg(", ".join)
            .reset_index()
            .assign(column="(table)")
        )
        pieces.append(folded[frame.columns])
    if duplicate.any():
        pieces.append(_duplicate_keys(frame[duplicate], list(error.schema.unique or [])))
    return pd.concat(pieces, ignore_index=True)


def _only_type_failures_where_a_type_failed(cases: pd.DataFrame) -> pd.DataFrame:
    """Drop the failures that only repeat a type failure.

    A value that cannot be read as its column's type (text in a numeric column) leaves the column as text: its
    other checks then compare text with numbers and fail on valid rows (or raise a TypeError for no row), so only
    the failures at the rows whose type failed are kept for that column. A missing value in an integer column
    fails coercion, the dtype and `not_nullable`: `not_nullable` says it best; a value that is not of the column's
    type fails coercion and the dtype: coercion says it.
    """
    coercion = cases["check"].astype(str).str.startswith("coerce_dtype")
    missing = cases["failure_case"].isna()
    typed_rows = cases[coercion & ~missing]
    keep = pd.Series(True, index=cases.index)
    for column, rows in typed_rows.groupby("column")["index"]:
        keep &= ~(cases["column"].eq(column) & ~coercion & ~cases["index"].isin(rows))
    cells = pd.Series(list(zip(cases["column"], cases["index"], strict=True)), index=cases.index)
    nulls = set(cells[cases["check"].eq("not_nullable")])
    keep &= ~(coercion & missing & cells.isin(nulls))
    dtype = cases["check"].astype(str).str.startswith("dtype(")
    keep &= ~(dtype & cells.isin(nulls | set(cells[coercion])))
    return cases[keep].reset_index(drop=True)


def _duplicate_keys(cases: pd.DataFrame, key_columns: list[str]) -> pd.DataFrame:
    """One failure per duplicated row: column `(day, hr)`, check `unique`, value the key tuple `(1, 8)`."""
    order = {name: position for position, name in enumerate(key_columns)}
    rows = []
    for index, group in cases.groupby("index", sort=True):
        group = group.sort_values("column", key=lambda c: c.map(order))
        rows.append(
            {
                "column": f"({', '.join(group['column'])})",
                "check": "unique",
                "index": index,
                "value": f"({', '.join(group['value'])})",
            }
        )
    return pd.DataFrame(rows, columns=cases.columns)


def validate_model_input(rows: pd.DataFrame, contract: str, columns: list[str]) -> pd.DataFrame:
    """The first step of every logged model: the raw contract, restricted to the model's input columns.

    The model signature checks column names and types at the HTTP server; this checks what the signature cannot:
    ranges, categories, nulls. A violation raises MLflow's invalid-parameter error, which the model server answers
    with 400 and this message.
    """
    try:
        return _model_input_schema(contract, tuple(columns)).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as error:
        from mlflow.exceptions import MlflowException

        cases = error.failure_cases.head(10)
        found = "; ".join(f"{c.column}: {c.check} (value {c.failure_case!r})" for c in cases.itertuples())
        raise MlflowException.invalid_parameter_value(f"input rows break the model's contract: {found}") from None


@cache
def _model_input_schema(contract: str, inputs: tuple[str, ...]) -> pa.DataFrameSchema:
    """The dataset's contract (`module:Class`) on the model's input columns only."""
    from mlops_assets.settings.paths import load_object

    columns = load_object(contract).to_schema().columns
    return pa.DataFrameSchema({name: columns[name] for name in inputs}, coerce=True, strict=False)
