"""The deterministic train/holdout split (stages/splitting.py): time-based and hash-based, on real rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.demo.versions import DEMO_VERSIONS, monthly_snapshot
from mlops_assets.features import row_time
from mlops_assets.stages.splitting import hash_buckets, split_rows

REPO_ROOT = Path(__file__).resolve().parent.parent


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
        "import json, sys\nimport pandas as pd\nfrom mlops_assets.stages.splitting import hash_buckets\n"
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


def test_rows_unseen_by_the_champion_are_newer_rows_or_hash_holdout_rows(year):
    from mlops_assets.config import ProjectSettings, SplitSettings
    from mlops_assets.stages.registry import Champion
    from mlops_assets.stages.splitting import in_hash_holdout, unseen_rows

    march = monthly_snapshot(year, "2011-03")
    champion = Champion("3", "models:/m/3", "run", train_until_time=float(row_time(march).median()), tags={})
    by_time = unseen_rows(march, champion, ProjectSettings())
    assert len(by_time) and (row_time(by_time) > champion.train_until_time).all()
    assert len(by_time) == (row_time(march) > champion.train_until_time).sum()
    hashed = ProjectSettings(split=SplitSettings(method="hash"))
    by_hash = unseen_rows(march, champion, hashed)
    assert by_hash.index.equals(march[in_hash_holdout(march, hashed.row_key, 0.2)].index)
