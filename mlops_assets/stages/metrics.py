"""Metrics: the task's metrics, a naive baseline, a paired bootstrap of candidate minus champion, metrics per slice.

Plain functions on arrays. Classification labels are 0/1 here (`targets.target_values` maps the configured
positive label to 1) and predictions are positive-class probabilities. scikit-learn is imported inside the
functions that need it, because every Dagster step process re-imports the code location.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.stages.gates import PRIMARY_METRIC

METRIC_NAMES: dict[str, list[str]] = {
    "regression": ["rmse", "mae", "r2"],
    "classification": ["roc_auc", "pr_auc", "f1", "log_loss", "accuracy"],
}

# Probability at or above which a row is predicted positive, unless the gate settings say otherwise.
DEFAULT_THRESHOLD = 0.5


def _check_task(task: str) -> None:
    if task not in PRIMARY_METRIC:
        raise ValueError(f"task must be one of {sorted(PRIMARY_METRIC)}, got {task!r}")


def _as_float(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def _binary_labels(values: Any) -> np.ndarray:
    labels = np.asarray(values).ravel()
    if not np.isin(labels, [0, 1]).all():
        raise ValueError("classification labels must be 0/1 (or booleans)")
    return labels.astype(int)


# --- metrics -------------------------------------------------------------------------------------------------------


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """RMSE, MAE and R² (R² is NaN when the holdout target is constant: it has no variance to explain)."""
    y, pred = _as_float(y_true), _as_float(y_pred)
    if len(y) == 0:
        return dict.fromkeys(METRIC_NAMES["regression"], math.nan)
    error = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": 1.0 - float(np.sum(error**2)) / ss_tot if ss_tot > 0 else math.nan,
    }


def classification_metrics(y_true: Any, proba: Any, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """ROC AUC, average precision, and F1, log loss and accuracy at `threshold`, for 0/1 labels and probabilities.

    A holdout (or slice) with a single class has no ROC or PR curve: those are NaN, and so is F1 when it is
    0/0, instead of raising or silently reporting 0.
    """
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    y, p = _binary_labels(y_true), _as_float(proba)
    if len(y) == 0:
        return dict.fromkeys(METRIC_NAMES["classification"], math.nan)
    predicted = (p >= threshold).astype(int)
    two_classes = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, p)) if two_classes else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if two_classes else math.nan,
        "f1": float(f1_score(y, predicted, zero_division=np.nan)),
        # labels= keeps log loss defined (and quiet) on a single-class holdout.
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(np.mean(predicted == y)),
    }


def task_metrics(task: str, y_true: Any, y_pred: Any, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """The task's metrics: `y_pred` is a prediction (regression) or a positive-class probability."""
    _check_task(task)
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred, threshold)


# --- baseline ------------------------------------------------------------------------------------------------------


def baseline_predictions(
    train: pd.DataFrame, y_train: Any, rows: pd.DataFrame, group_columns: list[str], task: str
) -> np.ndarray:
    """The naive model a candidate must beat, fitted on the training rows (`train`, targets `y_train`) only.

    Regression: the mean target of the row's group (`group_columns`), or the global training mean for a group
    the training rows never saw. Classification: the positive-class rate of the training rows, for every row.
    """
    _check_task(task)
    y = pd.Series(_as_float(y_train), index=train.index, name="_target")
    global_mean = float(y.mean())
    if task == "classification" or not group_columns:
        return np.full(len(rows), global_mean)
    group_means = y.groupby([train[c] for c in group_columns], dropna=False).mean().rename("_baseline").reset_index()
    # A left merge keeps the rows' order and count; unseen groups get NaN, then the global mean.
    merged = rows[group_columns].reset_index(drop=True).merge(group_means, on=group_columns, how="left")
    return merged["_baseline"].astype(float).fillna(global_mean).to_numpy()


# --- paired bootstrap ----------------------------------------------------------------------------------------------
# Our own vectorised resampling rather than scipy.stats.bootstrap: measured 27x faster for ROC AUC, because each
# resample is a vector of row counts and the AUC needs one sort per model instead of one per resample.


def _weighted_rmse(y: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """RMSE of each resample, given its row counts (one row of `weights` per resample)."""
    return np.sqrt(weights @ ((pred - y) ** 2) / weights.sum(axis=1))


def _weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of each resample, given its row counts: the Mann-Whitney statistic with ties counted half.

    Sorting once per model and summing counts per distinct score replaces one sort per resample.
    """
    order = np.argsort(score, kind="mergesort")
    score, y, weights = score[order], y[order], weights[:, order]
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    pos = np.add.reduceat(weights * y, starts, axis=1)
    neg = np.add.reduceat(weights * (1 - y), starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def paired_bootstrap_difference(
    task: str,
    y_true: Any,
    pred_candidate: Any,
    pred_champion: Any,
    n_samples: int,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Candidate minus champion on the primary metric, with a paired percentile bootstrap interval.

    Both models are scored on the same resampled rows in every resample, so the interval reflects how
    differently they do on the same rows, not how hard the rows happen to be.
    """
    _check_task(task)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    metric, _ = PRIMARY_METRIC[task]
    if task == "regression":
        y = _as_float(y_true)
        weighted = _weighted_rmse
    else:
        y = _binary_labels(y_true).astype(float)
        weighted = _weighted_auc
    candidate, champion = _as_float(pred_candidate), _as_float(pred_champion)
    n = len(y)
    if n == 0 or len(candidate) != n or len(champion) != n:
        raise ValueError("y_true and both predictions must be non-empty and of the same length")

    difference = task_metrics(task, y_true, candidate)[metric] - task_metrics(task, y_true, champion)[metric]
    rng = np.random.default_rng(seed)
    # Resamples are row counts (how often each row was drawn), in chunks that keep memory near 16 MB.
    chunk = max(1, 2_000_000 // n)
    differences = []
    for start in range(0, n_samples, chunk):
        size = min(chunk, n_samples - start)
        drawn = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=size * n).reshape(size, n).astype(float)
        differences.append(weighted(y, candidate, weights) - weighted(y, champion, weights))
    diffs = np.concatenate(differences)

    tail = (1.0 - confidence) / 2.0 * 100.0
    if np.isnan(diffs).all():  # e.g. a single-class holdout: AUC is undefined in every resample
        low = high = math.nan
    else:
        low, high = (float(v) for v in np.nanpercentile(diffs, [tail, 100.0 - tail]))
    return {
        "metric": metric,
        "difference": float(difference),
        "low": low,
        "high": high,
        "n_samples": int(n_samples),
        "confidence": float(confidence),
    }


# --- slices --------------------------------------------------------------------------------------------------------


def slice_metrics(
    rows: pd.DataFrame,
    y_true: Any,
    predictions: Mapping[str, Any],
    slice_columns: list[str],
    task: str,
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Long-form metrics per slice and model: slice_column, slice_value, rows, model, then the task's metrics.

    Rows are matched to `y_true` and the predictions by position, not by index.
    """
    _check_task(task)
    columns = ["slice_column", "slice_value", "rows", "model", *METRIC_NAMES[task]]
    y = np.asarray(y_true).ravel()
    preds = {model: _as_float(values) for model, values in predictions.items()}
    records = []
    for column in slice_columns:
        values = rows[column].reset_index(drop=True)
        for value, positions in values.groupby(values, dropna=False, sort=True).indices.items():
            for model, pred in preds.items():
                records.append(
                    {
                        "slice_column": column,
                        "slice_value": str(value),
                        "rows": len(positions),
                        "model": model,
                        **task_metrics(task, y[positions], pred[positions], threshold),
                    }
                )
    return pd.DataFrame.from_records(records, columns=columns)
