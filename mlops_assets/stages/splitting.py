"""The deterministic train/holdout split that keeps evaluation honest.

Time-based (the default for data with a time order): the newest rows are the holdout, and never rows an earlier
champion trained on. Hash-based: a stable hash of the row key decides, so a row is in the holdout of every
version or of none, and no model ever trains on a row another version holds out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings
    from mlops_assets.stages.registry import Champion

_HASH_BUCKETS = 10_000


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    metadata: dict  # how the split was made: method, cut-off, row counts

    def to_metadata(self) -> dict:
        return {key: value for key, value in self.metadata.items() if value is not None}


def hash_buckets(frame: pd.DataFrame, key_columns: list[str]) -> np.ndarray:
    """A bucket in [0, 10000) per row from its key columns; stable across versions, processes and machines."""
    keys = frame[key_columns].astype(str).agg("|".join, axis=1) if len(key_columns) > 1 else frame[key_columns[0]]
    return (pd.util.hash_pandas_object(keys.astype(str), index=False).to_numpy() % _HASH_BUCKETS).astype(int)


def in_hash_holdout(frame: pd.DataFrame, key_columns: list[str], holdout_fraction: float) -> np.ndarray:
    """True for the rows whose key hashes into the holdout: the same rows in every version."""
    return hash_buckets(frame, key_columns) < holdout_fraction * _HASH_BUCKETS


def split_rows(
    frame: pd.DataFrame,
    method: str,
    holdout_fraction: float,
    row_key: list[str],
    champion_trained_until: float | None = None,
    latest_cutoff: float | None = None,
    row_time: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> Split:
    """Split a version's rows into train and holdout.

    champion_trained_until: the newest row time the current champion trained on (time split only). Holdout rows
    must be newer, so that champion and candidate are both scored on rows neither has seen.
    latest_cutoff: the holdout starts at this row time at the latest (time split only; to make it hold a class).
    """
    if method == "hash":
        in_holdout = in_hash_holdout(frame, row_key, holdout_fraction)
        train, holdout = frame[~in_holdout], frame[in_holdout]
        metadata = {"method": "hash", "row_key": ", ".join(row_key), "holdout_fraction": holdout_fraction}
    elif method == "time":
        if row_time is None:
            raise ValueError("a time split needs the rows' times: the dataset's row_time")
        times = row_time(frame)
        cutoff = float(times.quantile(1 - holdout_fraction, interpolation="higher"))
        if latest_cutoff is not None:
            cutoff = min(cutoff, float(latest_cutoff))
        if champion_trained_until is not None:
            cutoff = max(cutoff, float(champion_trained_until) + 1)
        in_holdout = (times >= cutoff).to_numpy()
        order = np.argsort(times.to_numpy(), kind="stable")
        frame = frame.iloc[order]
        in_holdout = in_holdout[order]
        train, holdout = frame[~in_holdout], frame[in_holdout]
        metadata = {
            "method": "time",
            "holdout_from_time": cutoff,
            "train_until_time": float(row_time(train).max()) if len(train) else None,
        }
    else:
        raise ValueError(f"unknown split method {method!r}: use 'time' or 'hash'")
    if len(train) == 0 or len(holdout) == 0:
        raise ValueError(
            f"the {method} split left {len(train)} training and {len(holdout)} holdout rows; both must be non-empty"
            + (
                f" (the champion trained on rows up to time {champion_trained_until})"
                if champion_trained_until is not None
                else ""
            )
        )
    metadata.update({"train_rows": len(train), "holdout_rows": len(holdout)})
    return Split(train=train, holdout=holdout, metadata=metadata)


def split_version(frame: pd.DataFrame, settings: ModelSettings, champion: Champion | None) -> Split:
    """The split of one version: `split_rows` with the settings, holding out only rows the champion never saw.

    A champion trained on newer data than this whole version (versions run out of order, or concurrently) cannot
    be compared on these rows anyway, and deployment never replaces it with a model of older data: its training
    window is then ignored here.
    """
    trained_until = champion.train_until_time if champion else None
    if (
        settings.split.method == "time"
        and trained_until is not None
        and trained_until >= settings.row_time(frame).max()
    ):
        trained_until = None
    split = split_rows(
        frame,
        settings.split.method,
        settings.split.holdout_fraction,
        settings.row_key,
        trained_until,
        row_time=settings.row_time,
    )
    if settings.task == "classification":
        split = _with_both_classes(frame, split, settings, trained_until)
    if champion:
        split.metadata["champion_version"] = champion.version
    return split


def _with_both_classes(frame: pd.DataFrame, split: Split, settings: ModelSettings, trained_until) -> Split:
    """A classification split whose training rows and holdout both hold each class, or a clear error.

    With rare positives the newest rows may hold none: a time split then starts its holdout early enough to hold the
    newest positive and the newest negative row. A hash split cannot move a row (each row is in the holdout of every
    version or of none), so it can only refuse.
    """

    def classes(rows: pd.DataFrame) -> set[int]:
        return set(np.unique(settings.target_of(rows)).tolist())

    if classes(split.holdout) == {0, 1} and classes(split.train) == {0, 1}:
        return split
    if settings.split.method == "time" and classes(split.train) == {0, 1}:
        times, y = settings.row_time(frame), settings.target_of(frame)
        newest_of_each = min(float(times[y == label].max()) for label in (0, 1))
        if trained_until is None or newest_of_each > trained_until:
            wider = split_rows(
                frame,
                "time",
                settings.split.holdout_fraction,
                settings.row_key,
                trained_until,
                newest_of_each,
                row_time=settings.row_time,
            )
            if classes(wider.holdout) == {0, 1} and classes(wider.train) == {0, 1}:
                return wider
    negative, positive = settings.label_names()
    counts = {
        part: {negative: int((values == 0).sum()), positive: int((values == 1).sum())}
        for part, rows in (("training rows", split.train), ("holdout", split.holdout))
        for values in [settings.target_of(rows)]
    }
    raise ValueError(
        f"a classifier needs both classes in its training rows and in its holdout, but the {settings.split.method} "
        f"split gives {counts}: land a version with more rows of the rare class, or raise split.holdout_fraction"
    )


def unseen_rows(frame: pd.DataFrame, champion: Champion, settings: ModelSettings) -> pd.DataFrame:
    """The rows of `frame` the champion never trained on: newer than its training rows, or (hash split) held out.

    The one definition of "unseen" for evaluation (scoring the champion honestly) and monitoring (realized metrics).
    """
    if settings.split.method == "hash":
        return frame[in_hash_holdout(frame, settings.row_key, settings.split.holdout_fraction)]
    if champion.train_until_time is None:
        raise RuntimeError(f"champion version {champion.version} does not record until when it trained")
    return frame[settings.row_time(frame) > champion.train_until_time]
