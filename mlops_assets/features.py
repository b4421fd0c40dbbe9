"""Feature engineering: the one implementation, used by the `feature_table` asset and inside every logged model.

`make_features` is stateless (no fitted statistics), so the features asset, training, batch scoring and the
HTTP server compute exactly the same columns from raw contract rows: train/serve parity by construction.
This is one of the three files a forker rewrites (with config.py and contracts.py): `make_features` (and the
`Features` contract), `MODEL_INPUT_COLUMNS` and `row_time`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.contracts import WEATHER_SITUATIONS


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


def row_time(raw: pd.DataFrame) -> pd.Series:
    """A row's position in time, as one sortable number: hours since the start of the year for the demo.

    The time-based split and monitoring use it to tell rows a model trained on from rows it never saw. For data
    without a time order, set `split.method = "hash"` in config.py: this function is then never called.
    """
    return (raw["day"].astype("int64") - 1) * 24 + raw["hr"].astype("int64")
