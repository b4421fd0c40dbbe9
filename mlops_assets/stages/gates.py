"""The promotion gates: their names and descriptions, and how each judges a candidate.

One home for the gates: the evaluation asset declares one blocking check per entry of GATES (so the UI shows these
descriptions), and `evaluate_gates` returns one GateResult per entry, in the same order. A gate with nothing to
compare against passes and its text says exactly why. The code location imports this module when it loads, so
numpy is imported inside the one function that needs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.settings import GateSettings

# The metric each task is gated on: (name, higher_is_better).
PRIMARY_METRIC: dict[str, tuple[str, bool]] = {
    "regression": ("rmse", False),
    "classification": ("roc_auc", True),
}

GATES: dict[str, str] = {
    "absolute_thresholds": "The candidate meets the absolute metric thresholds of the model's gates (its defs.yaml).",
    "beats_baseline": "The candidate beats the naive baseline on the primary metric.",
    "not_worse_than_champion": "A paired bootstrap interval shows the candidate no worse than the champion "
    "beyond the margin.",
    "no_slice_worse_than_champion": "No slice (the model's slice_columns) is worse than the champion beyond the slice "
    "margin.",
}

NO_CHAMPION = "No champion yet: nothing to compare against."


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
        description = f"Candidate ROC AUC {_fmt(auc)} (min {_fmt(gates.min_roc_auc)})"
        metadata = {"candidate_roc_auc": auc, "min_roc_auc": gates.min_roc_auc}
        if gates.min_pr_auc is not None:
            pr_auc = float(candidate["pr_auc"])
            passed = passed and pr_auc >= gates.min_pr_auc
            description += f" and PR AUC {_fmt(pr_auc)} (min {_fmt(gates.min_pr_auc)})"
            metadata |= {"candidate_pr_auc": pr_auc, "min_pr_auc": gates.min_pr_auc}
        description += f": {'within' if passed else 'outside'} the thresholds."
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
    task: str,
    metrics: Mapping[str, Mapping[str, float]],
    bootstrap: Mapping[str, Any] | None,
    margin: float,
    not_compared: str,
) -> GateResult:
    name = "not_worse_than_champion"
    metric, higher = PRIMARY_METRIC[task]
    candidate = float(metrics["candidate"][metric])
    if "champion" not in metrics:
        return GateResult(
            name, True, not_compared, {"metric": metric, f"candidate_{metric}": candidate, "compared": False}
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
    not_compared: str,
) -> GateResult:
    import numpy as np

    name = "no_slice_worse_than_champion"
    metric, higher = PRIMARY_METRIC[task]
    base = {"metric": metric, "higher_is_better": higher, "slice_margin": margin, "min_slice_rows": min_rows}
    if "champion" not in metrics:
        return GateResult(name, True, not_compared, base | {"compared": False})
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
    not_compared: str = NO_CHAMPION,
) -> list[GateResult]:
    """The gates of GATES, always all of them and in that order.

    `metrics` maps "candidate", "baseline" and (when the champion was compared) "champion" to their metric dicts;
    `bootstrap` is `paired_bootstrap_difference` of candidate vs champion; `slices` is `slice_metrics`.
    `not_compared` says why there is no champion in `metrics` (the champion gates pass with that text).
    """
    return [
        _absolute_gate(task, metrics["candidate"], gates),
        _baseline_gate(task, metrics),
        _champion_gate(task, metrics, bootstrap, gates.champion_margin, not_compared),
        _slice_gate(task, metrics, slices, gates.slice_margin, gates.min_slice_rows, not_compared),
    ]
