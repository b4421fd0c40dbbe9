"""Feature engineering (features.make_features), leakage and the train/holdout split (splitting.split_rows).

Real 2011 rows throughout; the one model trained here is tiny (one parameter set, two folds, 50 iterations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets import training
from mlops_assets.config import ProjectSettings
from mlops_assets.contracts import WEATHER_SITUATIONS, RawRentals, RentalFeatures
from mlops_assets.demo_data import DEMO_VERSIONS, monthly_snapshot
from mlops_assets.features import (
    FEATURE_COLUMNS,
    MEASUREMENTS,
    MODEL_INPUT_COLUMNS,
    WEATHER_COLUMNS,
    make_features,
    row_time,
)
from mlops_assets.splitting import hash_buckets, split_rows
from tests.conftest import FAST_SEARCH

REPO_ROOT = Path(__file__).resolve().parent.parent
LEAKY = {"casual", "registered", "bikers"}


@pytest.fixture(scope="module")
def year(bikeshare: pd.DataFrame) -> pd.DataFrame:
    """The whole year, validated as the raw_dataset asset validates it (same dtypes as in the pipeline)."""
    return RawRentals.validate(bikeshare.copy(), lazy=True)


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
    RentalFeatures.validate(features, lazy=True)


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
    assert list(features.columns) == FEATURE_COLUMNS == list(RentalFeatures.to_schema().columns)
    validated = RentalFeatures.validate(features, lazy=True)
    assert len(validated) == len(year)
    # the same row gives the same features wherever it sits
    pd.testing.assert_frame_equal(features.sort_index(), make_features(shuffled.sort_index()))


def test_feature_contract_rejects_what_make_features_must_never_produce(year):
    features = make_features(year.head(10))
    with pytest.raises(pa.errors.SchemaErrors):
        RentalFeatures.validate(features.assign(casual=year["casual"].head(10)), lazy=True)
    with pytest.raises(pa.errors.SchemaErrors):
        RentalFeatures.validate(features.assign(hour_sin=1.5), lazy=True)


# ----------------------------------------------------------------------------------------------------------
# Leakage
# ----------------------------------------------------------------------------------------------------------


def test_the_target_and_its_parts_are_never_features_or_model_inputs():
    settings = ProjectSettings()
    forbidden = LEAKY | set(settings.leakage_columns) | {settings.target}

    assert forbidden == LEAKY
    assert not forbidden & set(FEATURE_COLUMNS)
    assert not forbidden & set(MODEL_INPUT_COLUMNS)
    # every column the estimator sees comes from the model inputs, nothing else
    assert set(MODEL_INPUT_COLUMNS) <= set(RawRentals.to_schema().columns) - forbidden


@pytest.fixture(scope="module")
def january_model(year):
    """A tiny model of January through the training code: tune_and_train, then serving_pipeline."""
    split = split_rows(monthly_snapshot(year, "2011-01"), "time", 0.2, ["day", "hr"])
    trained = training.tune_and_train(
        make_features(split.train), split.train["bikers"], "regression", FAST_SEARCH, 42, "time"
    )
    return training.serving_pipeline(trained.estimator, split.train), split


def test_a_trained_model_reads_only_the_model_inputs(january_model):
    pipeline, _ = january_model

    assert list(pipeline.named_steps["features"].feature_names_in_) == MODEL_INPUT_COLUMNS
    assert list(pipeline.named_steps["model"].feature_names_in_) == FEATURE_COLUMNS
    assert not LEAKY & set(pipeline.named_steps["model"].feature_names_in_)


def test_changing_casual_registered_or_the_target_does_not_change_predictions(january_model):
    pipeline, split = january_model
    holdout = split.holdout
    rng = np.random.default_rng(0)
    tampered = holdout.assign(
        casual=rng.integers(0, 1000, len(holdout)),
        registered=rng.integers(0, 1000, len(holdout)),
        bikers=rng.integers(0, 2000, len(holdout)),
    )

    original = training.predict(pipeline, holdout, "regression")
    np.testing.assert_array_equal(training.predict(pipeline, tampered, "regression"), original)
    np.testing.assert_array_equal(
        training.predict(pipeline, holdout.drop(columns=sorted(LEAKY)), "regression"), original
    )
    # ...while an input the model does use does change them (so the comparison above can fail)
    warmer = holdout.assign(temp=(holdout["temp"] + 0.3).clip(upper=1.0))
    assert not np.array_equal(training.predict(pipeline, warmer, "regression"), original)


# ----------------------------------------------------------------------------------------------------------
# Split
# ----------------------------------------------------------------------------------------------------------


def test_time_split_holds_out_the_newest_rows(year):
    version = monthly_snapshot(year, "2011-03")
    split = split_rows(version.sample(frac=1.0, random_state=1), "time", 0.2, ["day", "hr"])

    assert row_time(split.holdout).min() > row_time(split.train).max()
    assert len(split.train) + len(split.holdout) == len(version)
    assert split.train.index.intersection(split.holdout.index).empty
    assert set(split.train.index) | set(split.holdout.index) == set(version.index)
    assert len(split.holdout) / len(version) == pytest.approx(0.2, abs=0.005)
    # training rows come in time order: TimeSeriesSplit's folds depend on it
    assert row_time(split.train).is_monotonic_increasing
    assert split.metadata["method"] == "time"
    assert split.metadata["holdout_from_time"] == row_time(split.holdout).min()
    assert split.metadata["train_until_time"] == row_time(split.train).max()
    assert (split.metadata["train_rows"], split.metadata["holdout_rows"]) == (len(split.train), len(split.holdout))


def test_time_split_never_holds_out_rows_the_champion_trained_on(year):
    version = monthly_snapshot(year, "2011-03")
    natural = split_rows(version, "time", 0.2, ["day", "hr"])
    champion_until = natural.metadata["holdout_from_time"] + 100

    split = split_rows(version, "time", 0.2, ["day", "hr"], champion_trained_until=champion_until)

    assert row_time(split.holdout).min() > champion_until
    assert split.metadata["holdout_from_time"] == champion_until + 1
    assert len(split.holdout) < len(natural.holdout)
    assert len(split.train) + len(split.holdout) == len(version)
    # a champion that trained on older rows than the natural cutoff changes nothing
    older = split_rows(version, "time", 0.2, ["day", "hr"], champion_trained_until=1.0)
    pd.testing.assert_frame_equal(older.holdout, natural.holdout)


def test_time_split_is_deterministic(year):
    version = monthly_snapshot(year, "2011-02")
    first = split_rows(version, "time", 0.2, ["day", "hr"])
    again = split_rows(version.sample(frac=1.0, random_state=9), "time", 0.2, ["day", "hr"])

    pd.testing.assert_frame_equal(first.train, again.train)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert first.metadata == again.metadata


def test_hash_split_holds_out_a_row_in_every_cumulative_version_or_in_none(year):
    holdout_keys, train_keys, version_keys = {}, {}, {}
    for key in DEMO_VERSIONS:
        version = monthly_snapshot(year, key)
        split = split_rows(version.sample(frac=1.0, random_state=len(key)), "hash", 0.2, ["day", "hr"])
        holdout_keys[key] = set(zip(split.holdout["day"], split.holdout["hr"], strict=True))
        train_keys[key] = set(zip(split.train["day"], split.train["hr"], strict=True))
        version_keys[key] = set(zip(version["day"], version["hr"], strict=True))
        assert len(split.train) + len(split.holdout) == len(version)
        assert len(split.holdout) / len(version) == pytest.approx(0.2, abs=0.04)

    every_holdout = set().union(*holdout_keys.values())
    every_train = set().union(*train_keys.values())
    assert not every_holdout & every_train  # no version ever trains on a row another version holds out
    year_holdout = holdout_keys["2011-12"]
    for key in DEMO_VERSIONS:
        assert holdout_keys[key] == year_holdout & version_keys[key], key
    assert len(holdout_keys["2011-01"]) > 0


def test_hash_buckets_are_the_same_in_another_process(year):
    sample = year[["day", "hr"]].head(50)
    here = hash_buckets(sample, ["day", "hr"]).tolist()
    code = (
        "import json, sys\nimport pandas as pd\nfrom mlops_assets.splitting import hash_buckets\n"
        "frame = pd.DataFrame(json.loads(sys.stdin.read()))\n"
        "print(json.dumps(hash_buckets(frame, ['day', 'hr']).tolist()))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(sample.to_dict(orient="list")),
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(other.stdout.strip().splitlines()[-1]) == here
    assert len(set(here)) > 40  # the buckets really vary with the key


def test_impossible_splits_raise_a_clear_error(year):
    january = monthly_snapshot(year, "2011-01")
    last_time = float(row_time(january).max())

    with pytest.raises(ValueError, match=r"0 holdout rows.*both must be non-empty.*champion trained on rows up to"):
        split_rows(january, "time", 0.2, ["day", "hr"], champion_trained_until=last_time)
    with pytest.raises(ValueError, match=r"time split left 0 training and 1 holdout rows"):
        split_rows(january.head(1), "time", 0.2, ["day", "hr"])
    one_train_row = january[~(hash_buckets(january, ["day", "hr"]) < 2000)].head(1)
    with pytest.raises(ValueError, match=r"hash split left 1 training and 0 holdout rows"):
        split_rows(one_train_row, "hash", 0.2, ["day", "hr"])
    with pytest.raises(ValueError, match=r"unknown split method 'random'"):
        split_rows(january, "random", 0.2, ["day", "hr"])
