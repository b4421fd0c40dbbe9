"""Feature engineering: the one implementation, used by the `feature_table` asset and inside every logged model.

`make_features` is stateless (no fitted statistics), so the features asset, training, batch scoring and the
HTTP server compute exactly the same columns from raw contract rows: train/serve parity by construction.
A forker rewrites `make_features` (and `RentalFeatures` in contracts.py) for their data.
"""

from __future__ import annotations

import functools

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
    without time, return None here and set `split.method = "hash"` in config.py.
    """
    return (raw["day"].astype("int64") - 1) * 24 + raw["hr"].astype("int64")


def validate_model_input(rows: pd.DataFrame) -> pd.DataFrame:
    """The first step of every logged model: the raw contract, restricted to the model's input columns.

    The model signature checks column names and types at the HTTP server; this checks what the signature cannot:
    ranges (hr 0-23), categories, nulls. A violation raises MLflow's invalid-parameter error, which the model
    server answers with 400 and this message.
    """
    import pandera.pandas as pa

    try:
        return _model_input_schema().validate(rows, lazy=True)
    except pa.errors.SchemaErrors as error:
        from mlflow.exceptions import MlflowException

        cases = error.failure_cases.head(10)
        found = "; ".join(f"{c.column}: {c.check} (value {c.failure_case!r})" for c in cases.itertuples())
        raise MlflowException.invalid_parameter_value(f"input rows break the model's contract: {found}") from None


@functools.cache
def _model_input_schema():
    import pandera.pandas as pa

    from mlops_assets.contracts import RawRentals

    columns = RawRentals.to_schema().columns
    return pa.DataFrameSchema({name: columns[name] for name in MODEL_INPUT_COLUMNS}, coerce=True, strict=False)
