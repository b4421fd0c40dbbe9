"""Data contracts (Pandera `DataFrameModel`s): the raw rows as delivered, the engineered features, the predictions.

A forker replaces `RawRentals` with a model of their own source columns and keeps the rest. Validation is
always lazy (every failure is collected) and the failures are turned into a readable report by
`contract_failures`.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import cache

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]
# "heavy rain/snow" occurs once in the year: a contract that only listed what it saw in January would reject it.
MAX_HOURLY_RENTALS = 10_000
WEATHER_SITUATIONS = ["clear", "cloudy/misty", "light rain/snow", "heavy rain/snow"]


class RawRentals(pa.DataFrameModel):
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
        numbers = pd.to_numeric(df[name], errors="coerce")
        fractional = numbers.notna() & numbers.ne(numbers.round())
        if fractional.any():
            df = df.assign(**{name: df[name].astype(object).where(~fractional, df[name].astype(str))})
    return df


class RentalFeatures(pa.DataFrameModel):
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


class Predictions(pa.DataFrameModel):
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
