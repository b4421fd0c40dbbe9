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
    whole failing row.
    """
    cases = error.failure_cases.reset_index(drop=True)
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
    row_wise = (
        cases["schema_context"].eq("DataFrameSchema")
        & cases["check_number"].notna()
        & cases["index"].notna()
        & ~schema_level
    )
    if not row_wise.any():
        return frame
    folded = (
        frame[row_wise]
        .assign(value=frame["column"] + "=" + frame["value"])
        .groupby(["check", "index"], sort=False)["value"]
        .agg(", ".join)
        .reset_index()
        .assign(column="(table)")
    )
    return pd.concat([frame[~row_wise], folded[frame.columns]], ignore_index=True)


def validate_model_input(rows: pd.DataFrame) -> pd.DataFrame:
    """The first step of every logged model: the raw contract, restricted to the model's input columns.

    The model signature checks column names and types at the HTTP server; this checks what the signature cannot:
    ranges, categories, nulls. A violation raises MLflow's invalid-parameter error, which the model server answers
    with 400 and this message.
    """
    try:
        return _model_input_schema().validate(rows, lazy=True)
    except pa.errors.SchemaErrors as error:
        from mlflow.exceptions import MlflowException

        cases = error.failure_cases.head(10)
        found = "; ".join(f"{c.column}: {c.check} (value {c.failure_case!r})" for c in cases.itertuples())
        raise MlflowException.invalid_parameter_value(f"input rows break the model's contract: {found}") from None


@cache
def _model_input_schema() -> pa.DataFrameSchema:
    from ..contracts import RawData
    from ..features import MODEL_INPUT_COLUMNS

    columns = RawData.to_schema().columns
    return pa.DataFrameSchema({name: columns[name] for name in MODEL_INPUT_COLUMNS}, coerce=True, strict=False)
