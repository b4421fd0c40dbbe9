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
    casual: Series[int] = pa.Field(ge=0, description="rentals by casual users (part of the target: never a feature)")
    registered: Series[int] = pa.Field(ge=0, description="rentals by registered users (part of the target)")
    bikers: Series[int] = pa.Field(ge=0, description="all rentals in the hour: the target")

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
    """Pandera's failure cases as one row per failure: column, check, row index and failing value."""
    cases = error.failure_cases
    return pd.DataFrame(
        {
            "column": cases["column"].fillna("(table)").astype(str),
            "check": cases["check"].astype(str),
            "index": cases["index"],
            "value": cases["failure_case"].astype(str),
        }
    )
