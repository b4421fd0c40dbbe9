"""The deterministic train/holdout split (stages/splitting.py), on the test model's dataset's versions.

The time split's tests need a time order (the dataset's row_time); a dataset without one splits by hash and skips
them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.settings import SplitSettings
from mlops_assets.stages.registry import Champion
from mlops_assets.stages.splitting import hash_buckets, in_hash_holdout, split_rows, split_version, unseen_rows
from mlops_assets.stages.targets import target_values
from tests.conftest import DATASET, MODEL, model_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = MODEL
KEY = SETTINGS.row_key
timed = pytest.mark.skipif(
    SETTINGS.split.method != "time", reason="the dataset has no time order (no row_time: the model splits by hash)"
)


def row_time(frame: pd.DataFrame) -> pd.Series:
    return DATASET.row_time_of(frame)


@pytest.fixture(scope="module")
def middle(versions, keys) -> pd.DataFrame:
    """A version from the middle of the cut, as raw_dataset validates it."""
    return DATASET.raw_contract().validate(versions[keys[len(keys) // 2]].copy(), lazy=True)


@timed
def test_time_split_holds_out_the_newest_rows(middle):
    split = split_rows(middle.sample(frac=1.0, random_state=1), "time", 0.2, KEY, row_time=row_time)

    assert row_time(split.holdout).min() > row_time(split.train).max()
    assert len(split.train) + len(split.holdout) == len(middle)
    assert split.train.index.intersection(split.holdout.index).empty
    assert set(split.train.index) | set(split.holdout.index) == set(middle.index)
    assert len(split.holdout) / len(middle) == pytest.approx(0.2, abs=0.02)
    # training rows come in time order: TimeSeriesSplit's folds depend on it
    assert row_time(split.train).is_monotonic_increasing
    assert split.metadata["method"] == "time"
    assert split.metadata["holdout_from_time"] == row_time(split.holdout).min()
    assert split.metadata["train_until_time"] == row_time(split.train).max()
    assert (split.metadata["train_rows"], split.metadata["holdout_rows"]) == (len(split.train), len(split.holdout))


@timed
def test_time_split_never_holds_out_rows_the_champion_trained_on(middle):
    natural = split_rows(middle, "time", 0.2, KEY, row_time=row_time)
    times = np.sort(row_time(middle).unique())
    champion_until = float(times[np.searchsorted(times, natural.metadata["holdout_from_time"]) + 3])

    split = split_rows(middle, "time", 0.2, KEY, champion_trained_until=champion_until, row_time=row_time)

    assert row_time(split.holdout).min() > champion_until
    assert len(split.holdout) < len(natural.holdout)
    assert len(split.train) + len(split.holdout) == len(middle)
    # a champion that trained on older rows than the natural cutoff changes nothing
    older = split_rows(middle, "time", 0.2, KEY, champion_trained_until=float(times[0]), row_time=row_time)
    pd.testing.assert_frame_equal(older.holdout, natural.holdout)


@timed
def test_time_split_is_deterministic(middle):
    first = split_rows(middle, "time", 0.2, KEY, row_time=row_time)
    again = split_rows(middle.sample(frac=1.0, random_state=9), "time", 0.2, KEY, row_time=row_time)

    pd.testing.assert_frame_equal(first.train, again.train)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert first.metadata == again.metadata


def test_hash_split_holds_out_a_row_in_every_cumulative_version_or_in_none(versions):
    def row_keys(frame: pd.DataFrame) -> set[tuple]:
        return set(frame[KEY].itertuples(index=False, name=None))

    holdout_keys, train_keys, version_keys = {}, {}, {}
    for key, version in versions.items():
        split = split_rows(version.sample(frac=1.0, random_state=len(key)), "hash", 0.2, KEY)
        holdout_keys[key], train_keys[key] = row_keys(split.holdout), row_keys(split.train)
        version_keys[key] = row_keys(version)
        assert len(split.train) + len(split.holdout) == len(version)
        assert len(split.holdout) / len(version) == pytest.approx(0.2, abs=0.06)

    every_holdout = set().union(*holdout_keys.values())
    assert not every_holdout & set().union(*train_keys.values())  # no version trains on a row another holds out
    last = list(versions)[-1]
    for key in versions:
        assert holdout_keys[key] == holdout_keys[last] & version_keys[key], key


def test_hash_buckets_are_the_same_in_another_process(source):
    sample = source[KEY].head(50)
    here = hash_buckets(sample, KEY).tolist()
    code = (
        "import json, sys\nimport pandas as pd\nfrom mlops_assets.stages.splitting import hash_buckets\n"
        "frame = pd.DataFrame(json.loads(sys.stdin.read()))\n"
        f"print(json.dumps(hash_buckets(frame, {KEY!r}).tolist()))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(sample.to_dict(orient="list"), default=str),
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(other.stdout.strip().splitlines()[-1]) == here
    assert len(set(here)) > 40  # the buckets really vary with the key


def test_impossible_splits_raise_a_clear_error(middle):
    one_train_row = middle[~in_hash_holdout(middle, KEY, 0.2)].head(1)
    with pytest.raises(ValueError, match=r"hash split left 1 training and 0 holdout rows"):
        split_rows(one_train_row, "hash", 0.2, KEY)
    with pytest.raises(ValueError, match=r"unknown split method 'random'"):
        split_rows(middle, "random", 0.2, KEY)


@timed
def test_impossible_time_splits_raise_a_clear_error(middle):
    last_time = float(row_time(middle).max())
    with pytest.raises(ValueError, match=r"0 holdout rows.*both must be non-empty.*champion trained on rows up to"):
        split_rows(middle, "time", 0.2, KEY, champion_trained_until=last_time, row_time=row_time)
    with pytest.raises(ValueError, match=r"time split left 0 training and 1 holdout rows"):
        split_rows(middle.head(1), "time", 0.2, KEY, row_time=row_time)
    with pytest.raises(ValueError, match=r"a time split needs the rows' times: the dataset's row_time"):
        split_rows(middle, "time", 0.2, KEY)


def test_rows_unseen_by_the_champion_are_hash_holdout_rows_or_newer_rows(middle):
    hashed = SETTINGS.model_copy(update={"split": SplitSettings(method="hash")})
    champion = Champion("3", "models:/m/3", "run", train_until_time=None, tags={})
    by_hash = unseen_rows(middle, champion, hashed)
    assert by_hash.index.equals(middle[in_hash_holdout(middle, KEY, 0.2)].index)
    if SETTINGS.split.method == "time":
        until = float(row_time(middle).median())
        by_time = unseen_rows(middle, Champion("3", "models:/m/3", "run", until, tags={}), SETTINGS)
        assert len(by_time) and (row_time(by_time) > until).all()
        assert len(by_time) == (row_time(middle) > until).sum()


def test_a_classification_split_holds_both_classes_or_says_why():
    """A rare positive class: the holdout must still hold positives, or the split refuses with the counts."""
    frame = pd.DataFrame({"id": range(400), "label": ["no"] * 398 + ["yes"] * 2})
    frame["t"] = frame["id"]
    hashed = model_settings(
        task="classification",
        target="label",
        positive_label="yes",
        positive_at_least=None,
        row_key=["id"],  # the dataset's
        split=SplitSettings(method="hash", holdout_fraction=0.2),
    )
    assert hashed.row_key == ["id"] and hashed.split.method == "hash"
    both = frame.copy()
    both.loc[in_hash_holdout(both, ["id"], 0.2).nonzero()[0][:1], "label"] = "yes"  # one positive held out ...
    both.loc[(~in_hash_holdout(both, ["id"], 0.2)).nonzero()[0][:1], "label"] = "yes"  # ... one trained on
    both.loc[[398, 399], "label"] = "no"
    split = split_version(both, hashed, None)
    assert set(target_values(split.holdout, "classification", "label", "yes")) == {0, 1}
    only_trained = frame.copy()
    only_trained["label"] = "no"
    only_trained.loc[(~in_hash_holdout(frame, ["id"], 0.2)).nonzero()[0][:2], "label"] = "yes"
    with pytest.raises(ValueError, match=r"both classes in its training rows and in its holdout.*'yes': 0"):
        split_version(only_trained, hashed, None)
