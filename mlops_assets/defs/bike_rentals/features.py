"""The hourly-rentals model's features: the one implementation, used by its `feature_table` asset and inside every
model it logs.

`make_features` is stateless (no fitted statistics), so the features asset, training, batch scoring and the
HTTP server compute exactly the same columns from raw contract rows: train/serve parity by construction.
A model's defs.yaml names this module (`features:`); it holds `make_features`, the `Features` contract and
`MODEL_INPUT_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from mlops_assets.defs.bikeshare.contract import WEATHER_SITUATIONS


def _one_hot_name(category: str) -> str:
    return "weather_" + "".join(c if c.isalnum() else "_" for c in category)


WEATHER_COLUMNS = [_one_hot_name(category) for category in WEATHER_SITUATIONS]
MEASUREMENTS = ["temp", "atemp", "hum", "windspeed"]
FEATURE_COLUMNS = [
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
    *MEASUREMENTS,
    "holiday",
    "workingday",
    *WEATHER_COLUMNS,
]
# Raw columns the features read: the model's input. The target and its parts are not among them.
MODEL_INPUT_COLUMNS = ["hr", "weekday", "weathersit", *MEASUREMENTS, "holiday", "workingday"]


def make_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw contract rows -> the estimator's features (columns FEATURE_COLUMNS, same index).

    Hour and weekday are cyclic: 23:00 is next to 00:00 and Saturday to Sunday. Weather situation is one-hot
    over the contract's categories; an unknown category gives all zeros rather than an error at serving time.
    """
    hour_angle = 2 * np.pi * raw["hr"].astype(float) / 24
    weekday_angle = 2 * np.pi * raw["weekday"].astype(float) / 7
    features = pd.DataFrame(
        {
            "hour_sin": np.sin(hour_angle),
            "hour_cos": np.cos(hour_angle),
            "weekday_sin": np.sin(weekday_angle),
            "weekday_cos": np.cos(weekday_angle),
        },
        index=raw.index,
    )
    for column in MEASUREMENTS:
        features[column] = raw[column].astype(float)
    for column in ["holiday", "workingday"]:
        features[column] = raw[column].astype("int64")
    weather = raw["weathersit"].astype(str)
    for category, column in zip(WEATHER_SITUATIONS, WEATHER_COLUMNS, strict=True):
        features[column] = (weather == category).astype(float)
    return features[FEATURE_COLUMNS]


class Features(pa.DataFrameModel):
    """Engineered features: what the estimator sees (made by `make_features`)."""

    hour_sin: Series[float] = pa.Field(ge=-1, le=1, description="hour of day on the unit circle (sine)")
    hour_cos: Series[float] = pa.Field(ge=-1, le=1, description="hour of day on the unit circle (cosine)")
    weekday_sin: Series[float] = pa.Field(ge=-1, le=1, description="weekday on the unit circle (sine)")
    weekday_cos: Series[float] = pa.Field(ge=-1, le=1, description="weekday on the unit circle (cosine)")
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
        name = "Features"
