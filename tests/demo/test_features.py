"""Feature engineering (the bike_rentals model's make_features) and leakage: the target and its parts never reach
either model of the demo (bike_rentals and busy_hours, both on the bikeshare dataset).

Real 2011 rows throughout; the models trained here are tiny (two parameter sets at most, two folds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets.defs.bike_rentals.features import (
    FEATURE_COLUMNS,
    MEASUREMENTS,
    MODEL_INPUT_COLUMNS,
    WEATHER_COLUMNS,
    Features,
    make_features,
)
from mlops_assets.defs.bikeshare.contract import WEATHER_SITUATIONS, RawData, row_time
from mlops_assets.demo.versions import monthly_snapshot
from mlops_assets.stages import training
from mlops_assets.stages.splitting import split_rows
from tests.conftest import FAST_SEARCH, fast_estimator, model_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
LEAKY = {"casual", "registered", "bikers"}
DEMO_MODELS = ["bike_rentals", "busy_hours"]  # both read the bikeshare dataset


def rows_like(year: pd.DataFrame, **columns) -> pd.DataFrame:
    """Copies of the first real row, one per value of the given columns (all of the same length)."""
    n = len(next(iter(columns.values())))
    frame = pd.concat([year.iloc[[0]]] * n, ignore_index=True)
    for name, values in columns.items():
        frame[name] = values
    return frame


def _point(features: pd.DataFrame, prefix: str) -> np.ndarray:
    return features[[f"{prefix}_sin", f"{prefix}_cos"]].to_numpy()


# ----------------------------------------------------------------------------------------------------------
# make_features
# ----------------------------------------------------------------------------------------------------------


def test_hours_are_cyclic_and_23h_is_next_to_midnight(year):
    features = make_features(rows_like(year, hr=list(range(25))))  # 24 is a full turn: the same as 0
    points = _point(features, "hour")

    np.testing.assert_allclose(points[24], points[0], atol=1e-12)
    np.testing.assert_allclose(points[0], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(points[6], [1.0, 0.0], atol=1e-12)
    assert np.all(np.abs(points) <= 1.0)
    np.testing.assert_allclose((points**2).sum(axis=1), 1.0)
    # 24 distinct positions for the 24 hours of the contract
    assert len({tuple(p) for p in points[:24].round(9)}) == 24

    def distance(a: int, b: int) -> float:
        return float(np.linalg.norm(points[a] - points[b]))

    assert distance(23, 0) == pytest.approx(distance(0, 1))
    assert distance(23, 0) < 0.3 < distance(0, 12) == pytest.approx(2.0)


def test_weekdays_are_cyclic_and_saturday_is_next_to_sunday(year):
    features = make_features(rows_like(year, weekday=list(range(8))))
    points = _point(features, "weekday")

    np.testing.assert_allclose(points[7], points[0], atol=1e-12)
    assert np.all((points >= -1.0) & (points <= 1.0))
    np.testing.assert_allclose((points**2).sum(axis=1), 1.0)
    assert len({tuple(p) for p in points[:7].round(9)}) == 7
    saturday_sunday = np.linalg.norm(points[6] - points[0])
    assert saturday_sunday == pytest.approx(np.linalg.norm(points[0] - points[1]))
    assert saturday_sunday < np.linalg.norm(points[0] - points[3])


def test_weather_is_one_hot_over_the_contract_categories_and_unknown_is_all_zeros(year):
    categories = [*WEATHER_SITUATIONS, "tornado"]
    features = make_features(rows_like(year, weathersit=categories))
    one_hot = features[WEATHER_COLUMNS].to_numpy()

    assert len(WEATHER_COLUMNS) == len(WEATHER_SITUATIONS) == 4
    np.testing.assert_array_equal(one_hot[:4], np.eye(4))
    np.testing.assert_array_equal(one_hot[4], np.zeros(4))
    assert WEATHER_COLUMNS == [
        "weather_clear",
        "weather_cloudy_misty",
        "weather_light_rain_snow",
        "weather_heavy_rain_snow",
    ]
    # An unknown category is not an error at serving time, and the rows still pass the feature contract.
    Features.validate(features, lazy=True)


def test_measurements_and_flags_pass_through_unchanged(year):
    features = make_features(year)

    for column in MEASUREMENTS:
        np.testing.assert_array_equal(features[column].to_numpy(), year[column].to_numpy(dtype=float))
    for column in ["holiday", "workingday"]:
        np.testing.assert_array_equal(features[column].to_numpy(), year[column].to_numpy())
    assert features["holiday"].sum() == year["holiday"].sum() > 0


def test_features_of_the_whole_year_pass_the_contract_with_the_input_index(year):
    shuffled = year.sample(frac=1.0, random_state=3)
    shuffled.index = shuffled.index * 7 + 1000  # neither sorted nor a RangeIndex

    features = make_features(shuffled)

    assert features.index.equals(shuffled.index)
    assert list(features.columns) == FEATURE_COLUMNS == list(Features.to_schema().columns)
    validated = Features.validate(features, lazy=True)
    assert len(validated) == len(year)
    # the same row gives the same features wherever it sits
    pd.testing.assert_frame_equal(features.sort_index(), make_features(shuffled.sort_index()))


def test_feature_contract_rejects_what_make_features_must_never_produce(year):
    features = make_features(year.head(10))
    with pytest.raises(pa.errors.SchemaErrors):
        Features.validate(features.assign(casual=year["casual"].head(10)), lazy=True)
    with pytest.raises(pa.errors.SchemaErrors):
        Features.validate(features.assign(hour_sin=1.5), lazy=True)


# ----------------------------------------------------------------------------------------------------------
# Leakage
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEMO_MODELS)
def test_the_target_and_its_parts_are_never_features_or_model_inputs(name):
    settings = model_settings(name=name)
    code = settings.feature_code()
    forbidden = LEAKY | set(settings.leakage_columns) | {settings.target}
    feature_columns = list(code.Features.to_schema().columns)

    assert forbidden == LEAKY
    assert not forbidden & set(feature_columns)
    assert not forbidden & set(code.MODEL_INPUT_COLUMNS)
    # every column the estimator sees comes from the model inputs, nothing else
    assert set(code.MODEL_INPUT_COLUMNS) <= set(RawData.to_schema().columns) - forbidden


@pytest.fixture(scope="module", params=DEMO_MODELS)
def january_model(request, year):
    """A tiny model of January through the training code: tune_and_train, then serving_pipeline."""
    model = model_settings(name=request.param)
    settings = model_settings(name=request.param, search=FAST_SEARCH, estimator=fast_estimator(model))
    split = split_rows(monthly_snapshot(year, "2011-01"), "time", 0.2, ["day", "hr"], row_time=row_time)
    code = settings.feature_code()
    trained = training.tune_and_train(code.make_features(split.train), settings.target_of(split.train), settings)
    return training.serving_pipeline(trained.estimator, split.train, settings), split, settings


def test_a_trained_model_reads_only_the_model_inputs(january_model):
    pipeline, _, settings = january_model
    code = settings.feature_code()

    assert list(pipeline.named_steps["features"].feature_names_in_) == code.MODEL_INPUT_COLUMNS
    assert list(pipeline.named_steps["model"].feature_names_in_) == list(code.Features.to_schema().columns)
    assert not LEAKY & set(pipeline.named_steps["model"].feature_names_in_)
    if settings.name == "bike_rentals":
        assert code.MODEL_INPUT_COLUMNS == MODEL_INPUT_COLUMNS
        assert list(pipeline.named_steps["model"].feature_names_in_) == FEATURE_COLUMNS


def test_changing_casual_registered_or_the_target_does_not_change_predictions(january_model):
    pipeline, split, settings = january_model
    task = settings.task
    holdout = split.holdout
    rng = np.random.default_rng(0)
    tampered = holdout.assign(
        casual=rng.integers(0, 1000, len(holdout)),
        registered=rng.integers(0, 1000, len(holdout)),
        bikers=rng.integers(0, 2000, len(holdout)),
    )

    original = training.predict(pipeline, holdout, task)
    np.testing.assert_array_equal(training.predict(pipeline, tampered, task), original)
    np.testing.assert_array_equal(training.predict(pipeline, holdout.drop(columns=sorted(LEAKY)), task), original)
    # ...while an input the model does use does change them (so the comparison above can fail)
    warmer = holdout.assign(temp=(holdout["temp"] + 0.3).clip(upper=1.0))
    assert not np.array_equal(training.predict(pipeline, warmer, task), original)
