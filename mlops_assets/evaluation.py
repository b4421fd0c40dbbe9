"""Evaluation: metrics, a naive baseline, a paired bootstrap, per-slice metrics, promotion gates and plots.

Plain functions: the evaluation asset and its blocking checks (assets.py) and the tests call them directly.
Only numpy and pandas are imported at module level; scikit-learn and matplotlib are imported inside the
functions that need them, because every Dagster step process re-imports the code location.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlops_assets.config import GateSettings

# The metric each task is gated on: (name, higher_is_better).
PRIMARY_METRIC: dict[str, tuple[str, bool]] = {
    "regression": ("rmse", False),
    "classification": ("roc_auc", True),
}

METRIC_NAMES: dict[str, list[str]] = {
    "regression": ["rmse", "mae", "r2"],
    "classification": ["roc_auc", "pr_auc", "f1", "log_loss", "accuracy"],
}

# Probability at or above which a row is predicted positive (f1, accuracy, confusion matrix).
THRESHOLD = 0.5

GATE_NAMES = (
    "absolute_thresholds",
    "beats_baseline",
    "not_worse_than_champion",
    "no_slice_worse_than_champion",
)


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


# ---------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------


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


def classification_metrics(y_true: Any, proba: Any) -> dict[str, float]:
    """ROC AUC, average precision, F1 at 0.5, log loss and accuracy for 0/1 labels and positive-class scores.

    A holdout (or slice) with a single class has no ROC or PR curve: those are NaN, and so is F1 when it is
    0/0, instead of raising or silently reporting 0.
    """
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    y, p = _binary_labels(y_true), _as_float(proba)
    if len(y) == 0:
        return dict.fromkeys(METRIC_NAMES["classification"], math.nan)
    predicted = (p >= THRESHOLD).astype(int)
    two_classes = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, p)) if two_classes else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if two_classes else math.nan,
        "f1": float(f1_score(y, predicted, zero_division=np.nan)),
        # labels= keeps log loss defined (and quiet) on a single-class holdout.
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(np.mean(predicted == y)),
    }


def task_metrics(task: str, y_true: Any, y_pred: Any) -> dict[str, float]:
    """The task's metrics: `y_pred` is a prediction (regression) or a positive-class probability."""
    _check_task(task)
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred)


# ---------------------------------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------------------------------


def baseline_predictions(
    train: pd.DataFrame, rows: pd.DataFrame, target: str, group_columns: list[str], task: str
) -> np.ndarray:
    """The naive model a candidate must beat, fitted on the training rows only.

    Regression: the mean target of the row's group (hour of week in the demo), or the global training mean
    for a group the training rows never saw. Classification: the class prior for every row.
    """
    _check_task(task)
    global_mean = float(train[target].astype(float).mean())
    if task == "classification" or not group_columns:
        return np.full(len(rows), global_mean)
    group_means = train.groupby(group_columns, dropna=False)[target].mean().rename("_baseline").reset_index()
    # A left merge keeps the rows' order and count; unseen groups get NaN, then the global mean.
    merged = rows[group_columns].reset_index(drop=True).merge(group_means, on=group_columns, how="left")
    return merged["_baseline"].astype(float).fillna(global_mean).to_numpy()


# ---------------------------------------------------------------------------------------------------------
# Paired bootstrap
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# Slices
# ---------------------------------------------------------------------------------------------------------


def slice_metrics(
    rows: pd.DataFrame,
    y_true: Any,
    predictions: Mapping[str, Any],
    slice_columns: list[str],
    task: str,
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
                        **task_metrics(task, y[positions], pred[positions]),
                    }
                )
    return pd.DataFrame.from_records(records, columns=columns)


# ---------------------------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """One promotion gate: its verdict, a sentence saying why, and the numbers behind it."""

    name: str
    passed: bool
    description: str
    metadata: dict[str, float | int | str | bool] = field(default_factory=dict)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _absolute_gate(task: str, candidate: Mapping[str, float], gates: GateSettings) -> GateResult:
    # NaN compares False, so an undefined metric fails this gate: there is nothing to promote on.
    if task == "regression":
        rmse, r2 = float(candidate["rmse"]), float(candidate["r2"])
        passed = rmse <= gates.max_rmse and r2 >= gates.min_r2
        description = (
            f"Candidate RMSE {_fmt(rmse)} (max {_fmt(gates.max_rmse)}) and R² {_fmt(r2)} "
            f"(min {_fmt(gates.min_r2)}): {'within' if passed else 'outside'} the thresholds."
        )
        metadata = {
            "candidate_rmse": rmse,
            "max_rmse": gates.max_rmse,
            "candidate_r2": r2,
            "min_r2": gates.min_r2,
        }
    else:
        auc = float(candidate["roc_auc"])
        passed = auc >= gates.min_roc_auc
        description = (
            f"Candidate ROC AUC {_fmt(auc)} (min {_fmt(gates.min_roc_auc)}): "
            f"{'meets' if passed else 'below'} the threshold."
        )
        metadata = {"candidate_roc_auc": auc, "min_roc_auc": gates.min_roc_auc}
    return GateResult("absolute_thresholds", bool(passed), description, metadata)


def _baseline_gate(task: str, metrics: Mapping[str, Mapping[str, float]]) -> GateResult:
    metric, higher = PRIMARY_METRIC[task]
    candidate = float(metrics["candidate"][metric])
    if "baseline" not in metrics:
        return GateResult(
            "beats_baseline",
            True,
            "No baseline was scored: nothing to compare against.",
            {"metric": metric, f"candidate_{metric}": candidate, "compared": False},
        )
    baseline = float(metrics["baseline"][metric])
    passed = candidate > baseline if higher else candidate < baseline
    description = (
        f"Candidate {metric} {_fmt(candidate)} vs baseline {_fmt(baseline)} "
        f"({'higher' if higher else 'lower'} is better): "
        f"{'beats' if passed else 'does not beat'} the baseline."
    )
    metadata = {
        "metric": metric,
        "higher_is_better": higher,
        f"candidate_{metric}": candidate,
        f"baseline_{metric}": baseline,
        "compared": True,
    }
    return GateResult("beats_baseline", bool(passed), description, metadata)


def _champion_gate(
    task: str, metrics: Mapping[str, Mapping[str, float]], bootstrap: Mapping[str, Any] | None, margin: float
) -> GateResult:
    name = "not_worse_than_champion"
    metric, higher = PRIMARY_METRIC[task]
    candidate = float(metrics["candidate"][metric])
    if "champion" not in metrics:
        return GateResult(
            name,
            True,
            "No champion yet: nothing to compare against.",
            {"metric": metric, f"candidate_{metric}": candidate, "compared": False},
        )
    champion = float(metrics["champion"][metric])
    allowed = margin * abs(champion)
    metadata: dict[str, Any] = {
        "metric": metric,
        "higher_is_better": higher,
        f"candidate_{metric}": candidate,
        f"champion_{metric}": champion,
        "champion_margin": margin,
        "allowed_difference": allowed,
    }
    if bootstrap is not None:
        if bootstrap["metric"] != metric:
            raise ValueError(f"bootstrap is of {bootstrap['metric']!r}, the gate needs {metric!r}")
        low, high = float(bootstrap["low"]), float(bootstrap["high"])
        metadata |= {
            "difference": float(bootstrap["difference"]),
            "low": low,
            "high": high,
            "confidence": float(bootstrap.get("confidence", 0.95)),
            "n_samples": int(bootstrap["n_samples"]),
            "judged_on": "bootstrap_interval",
        }
        interval = f"[{_fmt(low)}, {_fmt(high)}]"
    else:
        # Without an interval, judge the point difference: stricter, since it lies inside any interval.
        low = high = candidate - champion
        metadata |= {"difference": low, "judged_on": "point_difference"}
        interval = f"{_fmt(low)} (no bootstrap interval: point difference)"

    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(champion)):
        metadata["compared"] = False
        return GateResult(
            name,
            True,
            f"Candidate minus champion {metric} is undefined on this holdout ({interval}); "
            "the absolute thresholds gate judges the candidate alone.",
            metadata,
        )
    metadata["compared"] = True
    if higher:
        passed = not high < -allowed
        rule = f"fails only if the upper end is below -{_fmt(allowed)}"
    else:
        passed = not low > allowed
        rule = f"fails only if the lower end is above {_fmt(allowed)}"
    description = (
        f"Candidate minus champion {metric}: {interval} "
        f"({'higher' if higher else 'lower'} is better; margin {margin:.0%} of the champion's "
        f"{_fmt(champion)}, {rule}): "
        f"{'not worse beyond the margin' if passed else 'worse than the champion beyond the margin'}."
    )
    return GateResult(name, bool(passed), description, metadata)


def _slice_gate(
    task: str,
    metrics: Mapping[str, Mapping[str, float]],
    slices: pd.DataFrame,
    margin: float,
    min_rows: int,
) -> GateResult:
    name = "no_slice_worse_than_champion"
    metric, higher = PRIMARY_METRIC[task]
    base = {"metric": metric, "higher_is_better": higher, "slice_margin": margin, "min_slice_rows": min_rows}
    if "champion" not in metrics:
        return GateResult(name, True, "No champion yet: nothing to compare against.", base | {"compared": False})
    keys = ["slice_column", "slice_value"]
    candidate = slices.loc[slices["model"] == "candidate", [*keys, "rows", metric]]
    champion = slices.loc[slices["model"] == "champion", [*keys, metric]]
    table = candidate.merge(champion, on=keys, suffixes=("_candidate", "_champion"))
    if table.empty:
        return GateResult(
            name, True, "The slice table has no slices scored for both models.", base | {"compared": False}
        )

    cand, champ = table[f"{metric}_candidate"].to_numpy(float), table[f"{metric}_champion"].to_numpy(float)
    worse_by = champ - cand if higher else cand - champ  # positive means the candidate is worse
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(np.abs(champ) > 0, worse_by / np.abs(champ), np.where(worse_by > 0, np.inf, 0.0))
    table["relative_worsening"] = relative
    large = table["rows"].to_numpy() >= min_rows
    defined = np.isfinite(cand) & np.isfinite(champ)
    gated = table[large & defined]
    failing = gated[gated["relative_worsening"] > margin]
    metadata = base | {
        "compared": not gated.empty,
        "slices_gated": len(gated),
        "slices_too_small": int((~large).sum()),
        "slices_undefined": int((large & ~defined).sum()),
        "slices_failing": len(failing),
    }
    if gated.empty:
        return GateResult(
            name,
            True,
            f"No slice has at least {min_rows} rows and a defined {metric} for both models: nothing gated.",
            metadata,
        )

    worst = gated.loc[gated["relative_worsening"].idxmax()]
    worst_label = f"{worst['slice_column']}={worst['slice_value']}"
    metadata |= {
        "worst_slice": worst_label,
        "worst_slice_rows": int(worst["rows"]),
        f"worst_slice_candidate_{metric}": float(worst[f"{metric}_candidate"]),
        f"worst_slice_champion_{metric}": float(worst[f"{metric}_champion"]),
        "worst_slice_relative_worsening": float(worst["relative_worsening"]),
    }
    passed = failing.empty
    summary = (
        f"worst slice {worst_label} ({int(worst['rows'])} rows): candidate {metric} "
        f"{_fmt(worst[f'{metric}_candidate'])} vs champion {_fmt(worst[f'{metric}_champion'])}, "
        f"{worst['relative_worsening']:+.1%} worse (margin {margin:.0%})"
    )
    if passed:
        description = f"No slice of {len(gated)} gated is worse than the champion beyond the margin; {summary}."
    else:
        listed = ", ".join(f"{r.slice_column}={r.slice_value}" for r in failing.head(5).itertuples())
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        description = f"{len(failing)} of {len(gated)} slices worse beyond the margin ({listed}{more}); {summary}."
    return GateResult(name, bool(passed), description, metadata)


def evaluate_gates(
    task: str,
    metrics: Mapping[str, Mapping[str, float]],
    bootstrap: Mapping[str, Any] | None,
    slices: pd.DataFrame,
    gates: GateSettings,
) -> list[GateResult]:
    """The four promotion gates, always all four and in the order of GATE_NAMES.

    `metrics` maps "candidate", "baseline" and (when there is one) "champion" to their metric dicts;
    `bootstrap` is `paired_bootstrap_difference` of candidate vs champion; `slices` is `slice_metrics`.
    A gate with nothing to compare against passes and says so.
    """
    _check_task(task)
    return [
        _absolute_gate(task, metrics["candidate"], gates),
        _baseline_gate(task, metrics),
        _champion_gate(task, metrics, bootstrap, gates.champion_margin),
        _slice_gate(task, metrics, slices, gates.slice_margin, gates.min_slice_rows),
    ]


# ---------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------


@contextmanager
def _figure(figsize: tuple[float, float] = (5.0, 4.0)) -> Iterator[tuple[Figure, Any]]:
    """A small figure on the Agg backend (no display in a Dagster worker), always closed afterwards."""
    import matplotlib

    matplotlib.use("Agg")  # a no-op once Agg is the backend
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    try:
        yield fig, ax
    finally:
        plt.close(fig)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _single_class_note(ax: Any, title: str) -> None:
    ax.text(0.5, 0.5, "undefined: the holdout has a single class", ha="center", va="center")
    ax.set_title(title)


def plot_predicted_vs_actual(y_true: Any, y_pred: Any) -> bytes:
    """Scatter of predicted against actual, with the diagonal a perfect model would sit on."""
    y, pred = _as_float(y_true), _as_float(y_pred)
    with _figure() as (fig, ax):
        ax.scatter(y, pred, s=6, alpha=0.4, rasterized=True)
        if len(y):
            lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
            ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, linestyle="--", label="perfect")
            ax.legend(loc="upper left")
        ax.set_xlabel("actual")
        ax.set_ylabel("predicted")
        ax.set_title("Predicted vs actual (holdout)")
        return _png(fig)


def plot_error_by_hour(hours: Any, y_true: Any, y_pred: Any) -> bytes:
    """Mean absolute error per hour of day, 0-23 (hours without rows are left empty)."""
    error = pd.Series(np.abs(_as_float(y_pred) - _as_float(y_true)))
    mae = error.groupby(np.asarray(hours).ravel()).mean().reindex(range(24))
    with _figure((6.0, 3.5)) as (fig, ax):
        ax.bar(mae.index, mae.to_numpy(), color="tab:blue")
        ax.set_xticks(range(0, 24, 2))
        ax.set_xlabel("hour of day")
        ax.set_ylabel("mean absolute error")
        ax.set_title("Error by hour (holdout)")
        return _png(fig)


def plot_roc_curve(y_true: Any, proba: Any) -> bytes:
    """ROC curve with its AUC, against the chance diagonal."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, p = _binary_labels(y_true), _as_float(proba)
    with _figure() as (fig, ax):
        if len(np.unique(y)) < 2:
            _single_class_note(ax, "ROC curve (holdout)")
        else:
            fpr, tpr, _ = roc_curve(y, p)
            ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y, p):.3f}")
            ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--", label="chance")
            ax.legend(loc="lower right")
            ax.set_title("ROC curve (holdout)")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        return _png(fig)


def plot_precision_recall(y_true: Any, proba: Any) -> bytes:
    """Precision-recall curve with its average precision, against the positive rate (a random model)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, p = _binary_labels(y_true), _as_float(proba)
    with _figure() as (fig, ax):
        if len(np.unique(y)) < 2:
            _single_class_note(ax, "Precision-recall (holdout)")
        else:
            precision, recall, _ = precision_recall_curve(y, p)
            ax.step(recall, precision, where="post", label=f"AP {average_precision_score(y, p):.3f}")
            ax.axhline(y.mean(), color="grey", linewidth=1, linestyle="--", label="positive rate")
            ax.legend(loc="lower left")
            ax.set_title("Precision-recall (holdout)")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        return _png(fig)


def plot_confusion_matrix(y_true: Any, proba: Any) -> bytes:
    """Counts of actual against predicted class at the 0.5 threshold."""
    from sklearn.metrics import confusion_matrix

    y, p = _binary_labels(y_true), _as_float(proba)
    counts = confusion_matrix(y, (p >= THRESHOLD).astype(int), labels=[0, 1])
    with _figure((4.0, 3.5)) as (fig, ax):
        ax.imshow(counts, cmap="Blues")
        for (i, j), count in np.ndenumerate(counts):
            dark = count > counts.max() / 2
            ax.text(j, i, str(count), ha="center", va="center", color="white" if dark else "black")
        ax.set_xticks([0, 1], labels=["0", "1"])
        ax.set_yticks([0, 1], labels=["0", "1"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(f"Confusion matrix (threshold {THRESHOLD})")
        return _png(fig)


def evaluation_plots(
    task: str, rows: pd.DataFrame, y_true: Any, y_pred: Any, hour_column: str | None
) -> dict[str, bytes]:
    """The task's plots of one model on the holdout, keyed by file name.

    Regression: predicted vs actual, and error by hour when `hour_column` is given (a column of `rows`).
    Classification: ROC, precision-recall and confusion matrix.
    """
    _check_task(task)
    if task == "regression":
        plots = {"predicted_vs_actual.png": plot_predicted_vs_actual(y_true, y_pred)}
        if hour_column is not None:
            plots["error_by_hour.png"] = plot_error_by_hour(rows[hour_column].to_numpy(), y_true, y_pred)
        return plots
    return {
        "roc_curve.png": plot_roc_curve(y_true, y_pred),
        "precision_recall.png": plot_precision_recall(y_true, y_pred),
        "confusion_matrix.png": plot_confusion_matrix(y_true, y_pred),
    }


# ---------------------------------------------------------------------------------------------------------
# The whole evaluation of one candidate
# ---------------------------------------------------------------------------------------------------------


@dataclass
class EvaluationReport:
    """Candidate, champion and baseline scored on one holdout, with the gates' verdicts and the plots."""

    task: str
    holdout_rows: int
    metrics: dict[str, dict[str, float]]
    bootstrap: dict[str, Any] | None
    slices: pd.DataFrame
    gates: list[GateResult]
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def failed_gates(self) -> list[str]:
        return [gate.name for gate in self.gates if not gate.passed]


def evaluate_candidate(
    task: str,
    target: str,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    candidate_predictions: Any,
    champion_predictions: Any | None,
    baseline_group_columns: list[str],
    slice_columns: list[str],
    hour_column: str | None,
    gates: GateSettings,
    seed: int,
) -> EvaluationReport:
    """Score candidate, champion (when there is one) and the naive baseline on the same holdout rows."""
    y = holdout[target].to_numpy()
    predictions = {
        "candidate": _as_float(candidate_predictions),
        "baseline": baseline_predictions(train, holdout, target, baseline_group_columns, task),
    }
    if champion_predictions is not None:
        predictions["champion"] = _as_float(champion_predictions)
    metrics = {name: task_metrics(task, y, pred) for name, pred in predictions.items()}
    bootstrap = None
    if champion_predictions is not None:
        bootstrap = paired_bootstrap_difference(
            task, y, predictions["candidate"], predictions["champion"], gates.bootstrap_samples, seed
        )
    slices = slice_metrics(holdout, y, predictions, slice_columns, task)
    return EvaluationReport(
        task=task,
        holdout_rows=len(holdout),
        metrics=metrics,
        bootstrap=bootstrap,
        slices=slices,
        gates=evaluate_gates(task, metrics, bootstrap, slices, gates),
        plots=evaluation_plots(task, holdout, y, predictions["candidate"], hour_column),
    )
