"""The bikeshare dataset's contract (`RawData`, a Pandera `DataFrameModel`) and its time order (`row_time`).

The dataset component in defs.yaml beside this file names both. Describe your columns here, with their types,
ranges, categories and table-wide rules. Validation is always lazy (every failure is collected) and `raw_dataset`
turns the failures into a table of file, row, column, rule and value. The batch predictions' contract is derived
from the row key (stages/scoring.py), so it needs no class here.

After editing, run `python -m mlops_assets.wiring.column_schemas` to refresh the columns the Dagster UI shows.

Speed: plain Pandera checks about a million rows per 0.6 s. For bigger versions, derive the contracts from
`mlops_assets.stages.fast_validation.FastContract` instead of `pa.DataFrameModel` (a vectorised path that hands anything
unusual back to Pandera; see that module).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from mlops_assets.stages.validation import keep_fractions_uncoercible

MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]
# "heavy rain/snow" occurs once in the year: a contract that only listed what it saw in January would reject it.
WEATHER_SITUATIONS = ["clear", "cloudy/misty", "light rain/snow", "heavy rain/snow"]
MAX_HOURLY_RENTALS = 10_000


class RawData(pa.DataFrameModel):
    """Hourly bike rentals as delivered: one row per (day, hr), calendar, weather and counts."""

    season: Series[int] = pa.Field(isin=[1, 2, 3, 4], description="1 winter … 4 autumn")
    mnth: Series[str] = pa.Field(isin=MONTHS, description="month name, abbreviated as the source does")
    day: Series[int] = pa.Field(ge=1, le=366, description="day of the year")
    hr: Series[int] = pa.Field(ge=0, le=23, description="hour of the day")
    holiday: Series[int] = pa.Field(isin=[0, 1], description="1 on a public holiday")
    weekday: Series[int] = pa.Field(ge=0, le=6, description="0 = Sunday")
    workingday: Series[int] = pa.Field(isin=[0, 1], description="1 when neither weekend nor holiday")
    weathersit: Series[str] = pa.Field(isin=WEATHER_SITUATIONS, description="weather situation of the hour")
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
        unique = ["day", "hr"]  # one row per hour: the row key of defs.yaml
        name = "RawData"


def row_time(raw: pd.DataFrame) -> pd.Series:
    """A row's position in time, as one sortable number: hours since the start of the year.

    The time-based split and monitoring use it to tell rows a model trained on from rows it never saw. For data
    without a time order, leave `row_time` out of the dataset's defs.yaml: models then split by a hash of the row key.
    """
    return (raw["day"].astype("int64") - 1) * 24 + raw["hr"].astype("int64")
