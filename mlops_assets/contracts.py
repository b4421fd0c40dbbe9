"""Data contracts (Pandera `DataFrameModel`s): the raw rows as delivered, the engineered features, the predictions.

A forker replaces `RawRentals` with a model of their own source columns and keeps the rest. Validation is
always lazy (every failure is collected) and the failures are turned into a readable report by
`contract_failures`.

The contracts derive from `Contract`, a Pandera `DataFrameModel` whose `validate` first tries a vectorised check of
rows that already have the contract's dtypes (`validate_vectorised`): at a million rows Pandera spends most of its
time checking, value by value in Python, that text columns hold text. Rows that pass are returned as Pandera would
return them; anything else (another dtype to coerce, any failed rule, a rule the fast path does not know) goes to
Pandera itself, so every failure report is Pandera's.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import numpy_engine, pandas_engine
from pandera.typing import Series


def validate_vectorised(schema: pa.DataFrameSchema, frame: pd.DataFrame, inplace: bool = False) -> pd.DataFrame | None:
    """`frame` validated against `schema` by vectorised code, or None when Pandera must decide.

    Returns a frame only when every rule of the schema is known here and holds, and every column already has the
    schema's dtype (so coercion would change nothing): then Pandera would return the same values. Returns None
    (never raises a validation error) for everything else: a dtype to coerce, a missing value, any failed rule,
    options or checks this function does not implement. The caller then runs Pandera, which reports.
    """
    if (
        not isinstance(frame, pd.DataFrame)
        or schema.index is not None
        or schema.dtype is not None
        or schema.drop_invalid_rows
        or schema.add_missing_columns
        or schema.strict == "filter"
        or not frame.columns.is_unique
    ):
        return None
    columns = schema.columns
    if any(c.regex or c.parsers or c.default is not None or c.drop_invalid_rows for c in columns.values()):
        return None
    if not inplace:
        frame = frame.copy()
    for parser in schema.parsers:  # as Pandera's parser backend calls a table parser
        function = getattr(parser, "_parser_fn", None)
        if parser.element_wise or function is None:
            return None
        frame = function(frame, **getattr(parser, "_parser_kwargs", {}))
    names = list(frame.columns)
    if not set(columns) <= set(names) or (schema.strict and len(names) != len(columns)):
        return None
    if schema.ordered and [n for n in names if n in columns] != list(columns):
        return None
    for name, column in columns.items():
        series = frame[name]
        if not _has_dtype(series, column.dtype):
            return None
        if column.unique and series.duplicated().any():
            return None
        if not all(_column_check_holds(check, series) for check in column.checks):
            return None
    if schema.unique and frame.duplicated(subset=list(schema.unique)).any():
        return None
    if not all(_frame_check_holds(check, frame) for check in schema.checks):
        return None
    if hasattr(frame, "pandera"):
        frame.pandera.add_schema(schema)
    return frame


def _has_dtype(series: pd.Series, dtype) -> bool:
    """The column's values already are of the schema's dtype, with no missing value."""
    if isinstance(dtype, pandas_engine.NpString):  # Series[str]: Python strings in an object column
        return series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string"
    if type(dtype) in (numpy_engine.Int64, numpy_engine.Float64, numpy_engine.Bool) and series.dtype == dtype.type:
        return not (series.dtype.kind == "f" and np.isnan(series.to_numpy()).any())
    return False


_BOUNDS = {
    "greater_than": lambda lo, hi, s: lo > s["min_value"],
    "greater_than_or_equal_to": lambda lo, hi, s: lo >= s["min_value"],
    "less_than": lambda lo, hi, s: hi < s["max_value"],
    "less_than_or_equal_to": lambda lo, hi, s: hi <= s["max_value"],
    "in_range": lambda lo, hi, s: (
        (lo >= s["min_value"] if s.get("include_min", True) else lo > s["min_value"])
        and (hi <= s["max_value"] if s.get("include_max", True) else hi < s["max_value"])
    ),
    "equal_to": lambda lo, hi, s: lo == s["value"] and hi == s["value"],
}


def _column_check_holds(check: pa.Check, series: pd.Series) -> bool:
    if check.element_wise or check.groupby is not None:
        return False
    stats = check.statistics or {}
    if check.name in _BOUNDS and series.dtype.kind in "iuf":  # no missing values here (see _has_dtype)
        if len(series) == 0:
            return True
        values = series.to_numpy()
        return bool(_BOUNDS[check.name](values.min(), values.max(), stats))
    if check.name == "isin":
        allowed = list(stats["allowed_values"])
        if series.dtype.kind in "iufb" and len(allowed) <= 16:  # a few comparisons beat hashing every value
            values = series.to_numpy()
            return bool(np.logical_or.reduce([values == value for value in allowed]).all()) if allowed else False
        return bool(series.isin(allowed).all())
    if check.name == "notin":
        return not series.isin(stats["forbidden_values"]).any()
    return _pandera_verdict(check, series)  # any other check: Pandera's own, on this column


def _frame_check_holds(check: pa.Check, frame: pd.DataFrame) -> bool:
    """A table-wide check (`@pa.dataframe_check`): its function's verdict, all True when it returns booleans."""
    if check.element_wise or check.groupby is not None:
        return False
    function = getattr(check, "_check_fn", None)
    if function is None:
        return _pandera_verdict(check, frame)
    out = function(frame, **getattr(check, "_check_kwargs", {}))  # as Pandera's check backend calls it
    if isinstance(out, bool | np.bool_):
        return bool(out)
    if isinstance(out, pd.Series | pd.DataFrame):
        dtypes = [out.dtype] if isinstance(out, pd.Series) else list(out.dtypes)
        if all(pd.api.types.is_bool_dtype(dtype) for dtype in dtypes):
            return bool(out.to_numpy().all())
    return _pandera_verdict(check, frame)


def _pandera_verdict(check: pa.Check, data) -> bool:
    """Pandera's own verdict on one check; False (so that Pandera validates) when it cannot be asked here."""
    try:
        return bool(check(data).check_passed)
    except Exception:
        return False


class Contract(pa.DataFrameModel):
    """A Pandera model whose `validate` takes the vectorised path first (see `validate_vectorised`).

    Subclass it like `pa.DataFrameModel`. `head`, `tail` and `sample` always go to Pandera.
    """

    @classmethod
    def validate(
        cls,
        check_obj: pd.DataFrame,
        head: int | None = None,
        tail: int | None = None,
        sample: int | None = None,
        random_state: int | None = None,
        lazy: bool = False,
        inplace: bool = False,
    ):
        if head is None and tail is None and sample is None:
            validated = validate_vectorised(cls.to_schema(), check_obj, inplace=inplace)
            if validated is not None:
                return validated
        return super().validate(check_obj, head, tail, sample, random_state, lazy, inplace)


MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]
# "heavy rain/snow" occurs once in the year: a contract that only listed what it saw in January would reject it.
MAX_HOURLY_RENTALS = 10_000
WEATHER_SITUATIONS = ["clear", "cloudy/misty", "light rain/snow", "heavy rain/snow"]


class RawRentals(Contract):
    """Hourly bike rentals as delivered: one row per (day, hr), calendar, weather and counts."""

    season: Series[int] = pa.Field(isin=[1, 2, 3, 4], description="1 winter … 4 autumn")
    mnth: Series[str] = pa.Field(isin=MONTHS, description="month name, abbreviated as the source does")
    day: Series[int] = pa.Field(ge=1, le=366, description="day of the year")
    hr: Series[int] = pa.Field(ge=0, le=23, description="hour of the day")
    holiday: Series[int] = pa.Field(isin=[0, 1])
    weekday: Series[int] = pa.Field(ge=0, le=6, description="0 = Sunday")
    workingday: Series[int] = pa.Field(isin=[0, 1])
    weathersit: Series[str] = pa.Field(isin=WEATHER_SITUATIONS)
    temp: Series[float] = pa.Field(ge=0, le=1, description="normalised temperature")
    atemp: Series[float] = pa.Field(ge=0, le=1, description="normalised felt temperature")
    hum: Series[float] = pa.Field(ge=0, le=1, description="normalised humidity (zeros are sensor faults)")
    windspeed: Series[float] = pa.Field(ge=0, le=1, description="normalised wind speed")
    # Counts are bounded as a sanity check: the busiest hour of 2011 had 651 rentals; 10,000 catches corrupted values.
    casual: Series[int] = pa.Field(
        ge=0, le=MAX_HOURLY_RENTALS, description="rentals by casual users (part of the target: never a feature)"
    )
    registered: Series[int] = pa.Field(
        ge=0, le=MAX_HOURLY_RENTALS, description="rentals by registered users (part of the target)"
    )
    bikers: Series[int] = pa.Field(ge=0, le=MAX_HOURLY_RENTALS, description="all rentals in the hour: the target")

    @pa.dataframe_parser
    def fractions_are_not_integers(cls, df: pd.DataFrame) -> pd.DataFrame:
        return keep_fractions_uncoercible(df, cls)

    @pa.dataframe_check(name="bikers == casual + registered")
    def counts_add_up(cls, df: pd.DataFrame) -> Series[bool]:
        return df["bikers"] == df["casual"] + df["registered"]

    @pa.dataframe_check(name="at least one row")
    def not_empty(cls, df: pd.DataFrame) -> bool:
        return len(df) > 0

    class Config:
        strict = True  # a missing, extra or renamed column is a contract failure
        coerce = True  # CSV files quote some integers ("0"); unparseable values are reported, not guessed
        unique = ["day", "hr"]  # one row per hour
        name = "RawRentals"


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


class RentalFeatures(Contract):
    """Engineered features: what the estimator sees (made by `features.make_features`)."""

    hour_sin: Series[float] = pa.Field(ge=-1, le=1)
    hour_cos: Series[float] = pa.Field(ge=-1, le=1)
    weekday_sin: Series[float] = pa.Field(ge=-1, le=1)
    weekday_cos: Series[float] = pa.Field(ge=-1, le=1)
    temp: Series[float] = pa.Field(ge=0, le=1)
    atemp: Series[float] = pa.Field(ge=0, le=1)
    hum: Series[float] = pa.Field(ge=0, le=1)
    windspeed: Series[float] = pa.Field(ge=0, le=1)
    holiday: Series[int] = pa.Field(isin=[0, 1])
    workingday: Series[int] = pa.Field(isin=[0, 1])
    # One-hot weather situation; a category the contract does not know gives all zeros.
    weather_clear: Series[float] = pa.Field(isin=[0.0, 1.0])
    weather_cloudy_misty: Series[float] = pa.Field(isin=[0.0, 1.0])
    weather_light_rain_snow: Series[float] = pa.Field(isin=[0.0, 1.0])
    weather_heavy_rain_snow: Series[float] = pa.Field(isin=[0.0, 1.0])

    class Config:
        strict = True
        name = "RentalFeatures"


class Predictions(Contract):
    """Batch predictions: the row key, the prediction and the model that made it."""

    day: Series[int] = pa.Field(ge=1, le=366)
    hr: Series[int] = pa.Field(ge=0, le=23)
    prediction: Series[float] = pa.Field(nullable=False)
    model_name: Series[str]
    model_version: Series[str]

    class Config:
        strict = True
        name = "Predictions"


@cache
def contract_hash(model: type[pa.DataFrameModel]) -> str:
    """A stable fingerprint of a contract's source code, recorded with every model trained under it."""
    return hashlib.sha256(inspect.getsource(model).encode()).hexdigest()[:16]


def contract_failures(error: pa.errors.SchemaErrors) -> pd.DataFrame:
    """Pandera's failure cases as one row per failure: column, check, row index and failing value.

    Pandera names the schema, not the column, when a column is missing or unexpected: the column is put back in
    `column`. A row-wise dataframe check (such as `bikers == casual + registered`) fails once per row, but
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
