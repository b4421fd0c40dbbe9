"""Monitoring: how the champion's inputs and predictions drift from its training data, and when to retrain.

Plain functions: the monitoring assets and the retraining sensor wrap them. The reference profile is built
from the champion's training data when it is trained and logged with the model, so monitoring compares new
data against what *that* model saw, not against whatever version happens to precede it.

Only numpy, pandas and the standard library are imported here; SciPy and matplotlib are imported by the
functions that need them, because every Dagster step process re-imports the code location.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlops_assets.config import RetrainSettings

PROFILE_FORMAT = 1
PREDICTION = "prediction"
MISSING_KEY = "<missing>"
DAY_SECONDS = 24 * 60 * 60
STATUS_COLOURS = {"ok": "#4c9a2a", "warn": "#e0a000", "alert": "#c0392b"}
DRIFT_COLUMNS = ["feature", "kind", "psi", "wasserstein_norm", "js_distance", "status", "drifted"]


# --- reference profile --------------------------------------------------------------------------------------


def build_reference_profile(
    features: pd.DataFrame,
    predictions: np.ndarray,
    categorical: list[str],
    bins: int = 10,
    *,
    sample_size: int = 1000,
    max_categories: int = 50,
    seed: int = 0,
) -> dict:
    """A small JSON-serialisable profile of the training features and the model's predictions on them.

    Columns listed in `categorical`, and any non-numeric column, get category shares; the others quantile
    bins, a sorted seeded sample (for the Wasserstein distance) and summary statistics. The predictions get
    the same treatment under the key "prediction".
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    unknown = [name for name in categorical if name not in features.columns]
    if unknown:
        raise ValueError(f"categorical columns not in the features: {unknown}")
    predictions = _as_1d(predictions, len(features))
    columns: dict[str, dict] = {}
    for name in features.columns:
        column = features[name]
        if name in categorical or not _is_numeric(column):
            columns[str(name)] = _categorical_profile(column, max_categories)
        else:
            columns[str(name)] = _numerical_profile(column, bins, sample_size, seed)
    prediction = pd.Series(predictions, name=PREDICTION)
    return {
        "format": PROFILE_FORMAT,
        "rows": len(features),
        "bins": bins,
        "columns": columns,
        PREDICTION: (
            _numerical_profile(prediction, bins, sample_size, seed)
            if _is_numeric(prediction)
            else _categorical_profile(prediction, max_categories)
        ),
    }


def _as_1d(predictions: Any, rows: int) -> np.ndarray:
    array = np.asarray(predictions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"predictions must be one-dimensional, got shape {array.shape}")
    if len(array) != rows:
        raise ValueError(f"{len(array)} predictions for {rows} feature rows: they must describe the same rows")
    return array


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _finite(column: pd.Series) -> tuple[np.ndarray, int]:
    """The finite values as floats, and how many rows there were. NaN and ±inf count as missing."""
    try:
        values = pd.to_numeric(column, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"column {column.name!r} must be numerical (as in the reference profile): {error}") from None
    return values[np.isfinite(values)], len(values)


def _cut_points(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner cut points of right-closed bins, (-inf, c0], (c0, c1], ..., (c_last, inf).

    Quantile cuts alone merge a heavily tied value (a constant column, zeros in wind speed) with whatever
    lies next to it, so a shift into or out of that value is missed. A value holding more than one bin's
    share gets a bin of its own, (nextafter(v, -inf), v], which holds exactly v. Open end bins mean values
    outside the reference range fall into the first or last bin.
    """
    if len(values) == 0:
        return np.array([])
    cuts = set(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]).tolist())
    unique, counts = np.unique(values, return_counts=True)
    for value in unique[counts > len(values) / bins]:
        cuts.update((float(value), float(np.nextafter(value, -np.inf))))
    return np.array(sorted(cuts))


def _bin_shares(values: np.ndarray, cuts: np.ndarray, rows: int) -> np.ndarray:
    """Shares of all `rows` per bin (missing rows are the rest); side='left' makes the bins right-closed."""
    counts = np.bincount(np.searchsorted(cuts, values, side="left"), minlength=len(cuts) + 1)
    return counts / rows if rows else counts.astype(float)


def _numerical_profile(column: pd.Series, bins: int, sample_size: int, seed: int) -> dict:
    values, rows = _finite(column)
    cuts = _cut_points(values, bins)
    if len(values) > sample_size:
        sample = np.random.default_rng(seed).choice(values, size=sample_size, replace=False)
    else:
        sample = values
    defined = len(values) > 0
    return {
        "kind": "numerical",
        "edges": cuts.tolist(),
        "shares": _bin_shares(values, cuts, rows).tolist(),
        "missing_share": (rows - len(values)) / rows if rows else 0.0,
        "mean": float(values.mean()) if defined else None,
        "std": float(values.std()) if defined else None,
        "min": float(values.min()) if defined else None,
        "max": float(values.max()) if defined else None,
        # Six significant digits are plenty for a distance and keep the JSON about half the size.
        "sample": [float(f"{value:.6g}") for value in np.sort(sample)],
    }


def _category_key(value: Any) -> str:
    """A category as a string (JSON keys), stable across dtypes: 1, 1.0 and "1" are one category."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _category_shares(column: pd.Series) -> pd.Series:
    """Each category's share of the rows, most frequent first, keyed by _category_key (missing: MISSING_KEY).

    Counted per distinct value, not per row: a million rows of a few categories take milliseconds.
    """
    counts = column.value_counts(dropna=False, sort=False)
    keys = [MISSING_KEY if pd.isna(value) else _category_key(value) for value in counts.index]
    shares = counts.groupby(keys, sort=False).sum() / len(column)
    return shares.sort_values(ascending=False, kind="stable")


def _categorical_profile(column: pd.Series, max_categories: int) -> dict:
    shares = _category_shares(column)
    kept = shares.iloc[:max_categories]  # the most frequent; the rest share one "other" bucket
    return {
        "kind": "categorical",
        "shares": {key: float(share) for key, share in kept.items()},
        "other_share": float(shares.iloc[max_categories:].sum()),
    }


# --- drift --------------------------------------------------------------------------------------------------


def population_stability_index(ref_shares: Any, cur_shares: Any, eps: float = 1e-4) -> float:
    """PSI = sum((cur - ref) * ln(cur / ref)) over bins; shares below eps are raised to eps (no log(0))."""
    ref = np.clip(np.asarray(ref_shares, dtype=float), eps, None)
    cur = np.clip(np.asarray(cur_shares, dtype=float), eps, None)
    if ref.shape != cur.shape:
        raise ValueError(f"share vectors differ in length: {ref.shape} vs {cur.shape}")
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(p: Any, q: Any) -> float:
    """Jensen-Shannon distance, base 2: 0 for the same distribution, 1 for disjoint ones."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    # Clipped because rounding can make the divergence of identical vectors a hair below zero.
    return float(np.sqrt(min(max((kl(p) + kl(q)) / 2, 0.0), 1.0)))


def _numerical_drift(reference: dict, column: pd.Series) -> tuple[float, float]:
    from scipy.stats import wasserstein_distance

    values, rows = _finite(column)
    cuts = np.asarray(reference["edges"], dtype=float)
    ref = [*reference["shares"], reference["missing_share"]]
    cur = [*_bin_shares(values, cuts, rows), (rows - len(values)) / rows]
    psi = population_stability_index(ref, cur)
    if len(values) == 0 or not reference["sample"]:
        return psi, math.nan
    std = reference["std"] or 1.0  # a constant reference column: the distance in the column's own units
    return psi, float(wasserstein_distance(reference["sample"], values)) / std


def _categorical_drift(reference: dict, column: pd.Series) -> tuple[float, float]:
    current = _category_shares(column)
    known = list(reference["shares"])
    # Categories the reference did not keep (unseen, or beyond max_categories) share one extra bucket.
    ref = [*reference["shares"].values(), reference["other_share"]]
    cur = [
        *(float(current.get(key, 0.0)) for key in known),
        float(current.drop(known, errors="ignore").sum()),
    ]
    return population_stability_index(ref, cur), js_distance(ref, cur)


def _status(psi: float, psi_warn: float, psi_alert: float) -> str:
    if psi >= psi_alert:
        return "alert"
    return "warn" if psi >= psi_warn else "ok"


def feature_drift(
    profile: dict, features: pd.DataFrame, predictions: np.ndarray, psi_warn: float, psi_alert: float
) -> pd.DataFrame:
    """Drift of each profiled feature and of the predictions against the reference profile, one row each.

    Columns in `features` that the profile does not know are ignored; profiled columns that are missing
    raise a ValueError.
    """
    if psi_warn > psi_alert:
        raise ValueError(f"psi_warn ({psi_warn}) must not exceed psi_alert ({psi_alert})")
    missing = [name for name in profile["columns"] if name not in features.columns]
    if missing:
        raise ValueError(f"columns of the reference profile missing from the current features: {missing}")
    if len(features) == 0:
        raise ValueError("no current rows to compare with the reference profile")
    predictions = _as_1d(predictions, len(features))

    rows = []
    targets = [(name, reference, features[name]) for name, reference in profile["columns"].items()]
    targets.append((PREDICTION, profile[PREDICTION], pd.Series(predictions, name=PREDICTION)))
    for name, reference, column in targets:
        wasserstein = js = math.nan
        if reference["kind"] == "numerical":
            psi, wasserstein = _numerical_drift(reference, column)
        else:
            psi, js = _categorical_drift(reference, column)
        status = _status(psi, psi_warn, psi_alert)
        kind = PREDICTION if name == PREDICTION else reference["kind"]
        rows.append((name, kind, psi, wasserstein, js, status, status == "alert"))
    drift = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    return drift.astype({"psi": float, "wasserstein_norm": float, "js_distance": float, "drifted": bool})


def drift_summary(drift: pd.DataFrame, dataset_drift_share: float) -> dict:
    """Dataset-level view of `feature_drift`: which share of the features (not the prediction) drifted."""
    is_feature = drift["kind"] != PREDICTION
    features = drift[is_feature]
    drifted = features.loc[features["status"] == "alert", "feature"].tolist()
    share = len(drifted) / len(features) if len(features) else 0.0
    prediction = drift[~is_feature]
    top = features.loc[features["psi"].idxmax()] if len(features) else None
    return {
        "n_features": len(features),
        "drifted_share": share,
        "drifted_features": drifted,
        "dataset_drift": bool(len(features) > 0 and share >= dataset_drift_share),
        "prediction_psi": float(prediction["psi"].iloc[0]) if len(prediction) else None,
        "prediction_status": str(prediction["status"].iloc[0]) if len(prediction) else None,
        "max_psi": float(top["psi"]) if top is not None else None,
        "max_psi_feature": str(top["feature"]) if top is not None else None,
    }


# --- retraining policy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringSignal:
    """One monitoring decision as it is remembered: what was seen for a version and whether it retrained."""

    version: str
    degraded: bool
    dataset_drift: bool
    retrained: bool
    at: float  # unix seconds


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reasons: tuple[str, ...]
    triggered: bool  # the k-of-n rule fired, whether or not the cooldown or the cap held it back


def is_degraded(
    task_metric_name: str, higher_is_better: bool, realized: float, evaluated: float, margin: float
) -> tuple[bool, float]:
    """(degraded, relative change): realized vs evaluated metric, degraded when worse by more than `margin`.

    The relative change is (realized - evaluated) / |evaluated|, so for an error metric a positive change is
    worse and for a score a negative one is.
    """
    if not (math.isfinite(realized) and math.isfinite(evaluated)):
        raise ValueError(f"{task_metric_name}: cannot judge degradation of {realized} against {evaluated}")
    if evaluated == 0:
        change = 0.0 if realized == 0 else math.copysign(math.inf, realized)
    else:
        change = (realized - evaluated) / abs(evaluated)
    worse = -change if higher_is_better else change
    return worse > margin, change


def _vote(degraded: bool, dataset_drift: bool, policy: RetrainSettings) -> bool:
    return degraded or (dataset_drift and policy.retrain_on_dataset_drift)


def _versions(count: int) -> str:
    return f"{count} version{'' if count == 1 else 's'}"


def decide_retraining(
    history: Sequence[MonitoringSignal],
    current_version: str,
    degraded: bool,
    dataset_drift: bool,
    now: float,
    policy: RetrainSettings,
) -> RetrainDecision:
    """Whether monitoring of `current_version` should request a retraining.

    `history` holds the earlier decisions, oldest first. A version votes to retrain when degraded, or on
    dataset drift if the policy says so; retraining is triggered when at least trigger_k of the last
    trigger_n votes (this one included) are yes, and held back by a cooldown after a recent retraining or by
    the daily cap. Earlier decisions for `current_version` itself (a re-run) are not counted as votes, and
    if one of them already retrained, the re-run does not retrain again.
    """
    earlier = [signal for signal in history if signal.version != current_version]
    reasons: list[str] = []
    if degraded:
        reasons.append(f"{current_version}: the realized metric degraded beyond the margin")
    if dataset_drift:
        reasons.append(
            f"{current_version}: dataset drift"
            if policy.retrain_on_dataset_drift
            else f"{current_version}: dataset drift, but the policy does not retrain on drift alone"
        )
    if not degraded and not dataset_drift:
        reasons.append("no degradation and no dataset drift")

    k, n = policy.trigger_k, policy.trigger_n
    window = [_vote(s.degraded, s.dataset_drift, policy) for s in earlier[-(n - 1) :]] if n > 1 else []
    window.append(_vote(degraded, dataset_drift, policy))
    yes = sum(window)
    triggered = yes >= k
    what = "degraded or drifted" if policy.retrain_on_dataset_drift else "degraded"
    reasons.append(
        f"{yes} of the last {_versions(len(window))} {what} (policy {k} of {n})"
        + ("" if triggered else ": not triggered")
    )
    if not triggered:
        return RetrainDecision(retrain=False, reasons=tuple(reasons), triggered=False)

    held = False
    if any(s.retrained for s in history if s.version == current_version):
        reasons.append(f"held back: {current_version} already requested a retraining")
        held = True
    recent = earlier[-policy.cooldown_versions :] if policy.cooldown_versions > 0 else []
    for ago, signal in enumerate(reversed(recent), start=1):
        if signal.retrained:
            reasons.append(
                f"cooldown: {signal.version} retrained {_versions(ago)} ago (cooldown {policy.cooldown_versions})"
            )
            held = True
            break
    today = sum(1 for s in history if s.retrained and now - DAY_SECONDS < s.at <= now)
    if today >= policy.max_retrains_per_day:
        reasons.append(f"cap: {today} retraining(s) in the 24 h before now (max {policy.max_retrains_per_day} per day)")
        held = True
    return RetrainDecision(retrain=not held, reasons=tuple(reasons), triggered=True)


# --- plots --------------------------------------------------------------------------------------------------


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _figure(width: float, height: float) -> Any:
    # A Figure on an Agg canvas, without pyplot: no global backend switch in the caller's process, no
    # figure registry to leak into (nothing to close), and safe in threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def plot_feature_drift(drift: pd.DataFrame, psi_warn: float, psi_alert: float) -> bytes:
    """PNG: PSI per feature and for the prediction, bars coloured by status, the thresholds as lines."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = _figure(6.5, max(2.5, 0.3 * len(drift) + 1.2))
    ax = fig.add_subplot()
    rows = drift.iloc[::-1]  # barh draws bottom-up: reversed, the first feature is on top
    psi = rows["psi"].fillna(0.0)
    bars = ax.barh(
        rows["feature"].astype(str), psi, color=[STATUS_COLOURS.get(status, "grey") for status in rows["status"]]
    )
    ax.bar_label(bars, labels=[f"{value:.2f}" for value in psi], padding=2, fontsize="x-small")
    top = max(float(psi.max()) if len(psi) else 0.0, psi_alert)
    scale = "PSI"
    if top > 5 * psi_alert:
        # A new category can give a PSI of 20: on a linear axis every other bar and both thresholds vanish.
        ax.set_xscale("symlog", linthresh=max(psi_warn, 1e-3))
        ax.set_xlim(0, top * 3)  # room for the value labels
        scale = "PSI, symmetric log scale"
    else:
        ax.set_xlim(0, top * 1.2)
    ax.axvline(psi_warn, color=STATUS_COLOURS["warn"], linestyle="--", linewidth=1)
    ax.axvline(psi_alert, color=STATUS_COLOURS["alert"], linestyle="--", linewidth=1)
    handles = [Patch(color=colour, label=status) for status, colour in STATUS_COLOURS.items()]
    handles += [
        Line2D([], [], color=STATUS_COLOURS["warn"], linestyle="--", label=f"warn at {psi_warn:g}"),
        Line2D([], [], color=STATUS_COLOURS["alert"], linestyle="--", label=f"alert at {psi_alert:g}"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.set_title("Drift against the champion's training data")
    ax.set_xlabel(f"population stability index ({scale})")
    ax.set_ylabel("feature")
    return _png(fig)


def plot_metric_over_versions(history: pd.DataFrame) -> bytes:
    """PNG: the champion's realized metric per dataset version, and the evaluated value dashed if given."""
    names = history["metric_name"].dropna().astype(str).unique() if "metric_name" in history else []
    name = ", ".join(names) or "metric"
    fig = _figure(6.5, 3.5)
    ax = fig.add_subplot()
    if len(history) == 0:
        ax.text(0.5, 0.5, "no monitoring results yet", ha="center", va="center", transform=ax.transAxes)
    else:
        # Positions, not the version strings, on the x axis: versions are labels, not numbers to space out.
        x = np.arange(len(history))
        ax.plot(x, history["metric"].astype(float), marker="o", label=f"realized {name}")
        if "evaluated" in history and history["evaluated"].notna().any():
            ax.plot(x, history["evaluated"].astype(float), linestyle="--", marker=".", label=f"evaluated {name}")
        ax.set_xticks(x, history["version"].astype(str), rotation=45 if len(history) > 6 else 0, ha="right")
        ax.legend(fontsize="small")
    ax.set_title(f"Champion {name} per dataset version")
    ax.set_xlabel("dataset version")
    ax.set_ylabel(name)
    return _png(fig)


# --- the whole monitoring of one version ---------------------------------------------------------------------


@dataclass
class MonitoringReport:
    """The champion on rows it never trained on: realized metrics against its evaluation, drift, plots."""

    rows: int
    metric: str
    realized: dict[str, float]
    evaluated: float | None
    degraded: bool
    relative_change: float
    drift: pd.DataFrame
    summary: dict
    plots: dict[str, bytes]


def monitor_champion(
    version: str,
    task: str,
    target: str,
    new_rows: pd.DataFrame,
    predictions: np.ndarray,
    profile: dict,
    evaluated: float | None,
    drift_settings: Any,
    degradation_margin: float,
    metric_history: pd.DataFrame,
) -> MonitoringReport:
    """Compare the champion's realized metric with its evaluated one, and the new rows with its training data.

    `metric_history` (version, metric, metric_name, evaluated) holds earlier versions; `version` is appended to it
    for the plot of the champion's metric over versions.
    """
    from mlops_assets.evaluation import PRIMARY_METRIC, task_metrics

    metric, higher_is_better = PRIMARY_METRIC[task]
    realized = task_metrics(task, new_rows[target].to_numpy(), predictions)
    degraded, change = (False, 0.0)
    if evaluated is not None:
        degraded, change = is_degraded(metric, higher_is_better, realized[metric], evaluated, degradation_margin)
    drift = feature_drift(profile, new_rows, predictions, drift_settings.psi_warn, drift_settings.psi_alert)
    summary = drift_summary(drift, drift_settings.dataset_drift_share)
    now = {"version": version, "metric": realized[metric], "metric_name": metric, "evaluated": evaluated}
    history = pd.DataFrame([*metric_history.to_dict("records"), now])
    return MonitoringReport(
        rows=len(new_rows),
        metric=metric,
        realized=realized,
        evaluated=evaluated,
        degraded=degraded,
        relative_change=change,
        drift=drift,
        summary=summary,
        plots={
            "feature_drift.png": plot_feature_drift(drift, drift_settings.psi_warn, drift_settings.psi_alert),
            "champion_metric_over_versions.png": plot_metric_over_versions(history),
        },
    )
