"""The contracts' vectorised validation path against Pandera's own: the same verdict, Pandera's failure reports.

`Contract.validate` returns rows that already have the contract's dtypes and pass every rule without asking
Pandera; anything else goes to Pandera. These tests pin that the fast path never accepts what Pandera rejects, and
returns what Pandera would return when it accepts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets.contracts import Predictions, RawRentals, RentalFeatures, validate_vectorised
from mlops_assets.features import make_features


@pytest.fixture(scope="module")
def year(bikeshare) -> pd.DataFrame:
    return bikeshare.copy()


def test_valid_rows_take_the_fast_path_and_equal_what_pandera_returns(year):
    fast = validate_vectorised(RawRentals.to_schema(), year)
    assert fast is not None
    expected = RawRentals.to_schema().validate(year, lazy=True)
    pd.testing.assert_frame_equal(fast, expected)
    features = make_features(year)
    pd.testing.assert_frame_equal(
        validate_vectorised(RentalFeatures.to_schema(), features), RentalFeatures.to_schema().validate(features)
    )


def test_validate_copies_unless_inplace(year):
    assert RawRentals.validate(year, lazy=True) is not year
    frame = year.copy()
    assert RawRentals.validate(frame, lazy=True, inplace=True) is frame


def _broken(year: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = year.head(200).reset_index(drop=True)
    cases = {
        "hour out of range": rows.assign(hr=rows["hr"].where(rows.index != 3, 24)),
        "unknown weather": rows.assign(weathersit=rows["weathersit"].where(rows.index != 5, "fog")),
        "missing temperature": rows.assign(temp=rows["temp"].where(rows.index != 7, np.nan)),
        "duplicate hour": pd.concat([rows, rows.iloc[[10]]], ignore_index=True),
        "counts do not add up": rows.assign(bikers=rows["bikers"].where(rows.index != 9, 1)),
        "extra column": rows.assign(station=1),
        "missing column": rows.drop(columns=["hum"]),
        "fractional hour": rows.assign(hr=rows["hr"].astype(float).where(rows.index != 2, 2.5)),
        "integers as text": rows.assign(season=rows["season"].astype(str)),
        "empty": rows.iloc[:0],
        "number in a text column": rows.assign(mnth=rows["mnth"].astype(object).where(rows.index != 4, 5)),
    }
    return cases


def test_the_fast_path_never_accepts_what_pandera_rejects(year):
    schema = RawRentals.to_schema()
    for name, frame in _broken(year).items():
        try:
            schema.validate(frame.copy(), lazy=True)
            pandera_accepts = True
        except pa.errors.SchemaErrors:
            pandera_accepts = False
        fast = validate_vectorised(schema, frame.copy())
        if not pandera_accepts:
            assert fast is None, name


def test_failures_are_reported_by_pandera(year):
    schema = RawRentals.to_schema()
    for name, frame in _broken(year).items():
        try:
            schema.validate(frame.copy(), lazy=True)
        except pa.errors.SchemaErrors as expected:
            with pytest.raises(pa.errors.SchemaErrors) as raised:
                RawRentals.validate(frame.copy(), lazy=True)
            pd.testing.assert_frame_equal(raised.value.failure_cases, expected.failure_cases, obj=name)


def test_coercible_rows_go_to_pandera_and_are_coerced(year):
    rows = year.head(50).assign(season=year["season"].head(50).astype(str))  # "1" ... as CSV quotes give them
    assert validate_vectorised(RawRentals.to_schema(), rows) is None
    assert RawRentals.validate(rows, lazy=True)["season"].dtype == np.int64


def test_predictions_contract_fast_path():
    scored = pd.DataFrame(
        {"day": [1, 1], "hr": [0, 1], "prediction": [3.5, 4.0], "model_name": ["m", "m"], "model_version": ["1", "1"]}
    )
    assert validate_vectorised(Predictions.to_schema(), scored) is not None
    with pytest.raises(pa.errors.SchemaErrors):
        Predictions.validate(scored.assign(prediction=[np.nan, 1.0]), lazy=True)
