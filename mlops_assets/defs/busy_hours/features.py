"""The busy-hour model's features: the raw calendar and weather columns as they are.

A linear model needs its categories one-hot and its numbers on one scale; the model's estimator settings
(`preprocessing: auto`) put that step between these features and the logistic regression, inside the logged model.
So the features stay readable: hour, weekday and weather as categories, the measurements as numbers.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from mlops_assets.defs.bikeshare.contract import WEATHER_SITUATIONS

MEASUREMENTS = ["temp", "atemp", "hum", "windspeed"]
# Raw columns the features read: the model's input. The rentals (the target's source) are not among them.
MODEL_INPUT_COLUMNS = ["hr", "weekday", "weathersit", "holiday", "workingday", *MEASUREMENTS]


def make_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw contract rows -> the estimator's features: categories as text (one-hot downstream), numbers as floats."""
    features = pd.DataFrame(
        {
            "hr": raw["hr"].astype("int64").astype(str),
            "weekday": raw["weekday"].astype("int64").astype(str),
            "weathersit": raw["weathersit"].astype(str),
        },
        index=raw.index,
    )
    for column in ["holiday", "workingday", *MEASUREMENTS]:
        features[column] = raw[column].astype(float)
    return features


class Features(pa.DataFrameModel):
    """What the logistic regression sees, before its one-hot encoding and scaling."""

    hr: Series[str] = pa.Field(isin=[str(h) for h in range(24)], description="hour of the day, a category")
    weekday: Series[str] = pa.Field(isin=[str(d) for d in range(7)], description="0 = Sunday, a category")
    weathersit: Series[str] = pa.Field(isin=WEATHER_SITUATIONS, description="weather situation, a category")
    holiday: Series[float] = pa.Field(isin=[0.0, 1.0])
    workingday: Series[float] = pa.Field(isin=[0.0, 1.0])
    temp: Series[float] = pa.Field(ge=0, le=1)
    atemp: Series[float] = pa.Field(ge=0, le=1)
    hum: Series[float] = pa.Field(ge=0, le=1)
    windspeed: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        name = "Features"
