"""The retraining policy: given what monitoring saw for each version, whether to retrain now.

A version votes to retrain when the champion degraded on it, or on dataset drift if the policy says so. Retraining
is triggered when k of the last n votes say so, and held back by a cooldown after a recent retraining or by a daily
cap, so that it never storms. A retraining whose candidate failed its gates starts the cooldown only when
`cooldown_counts_failed_attempts` says so; the decision's reasons say which applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_assets.settings import RetrainSettings

DAY_SECONDS = 24 * 60 * 60

# How an earlier retraining ended, as the cooldown sees it (None: its candidate has not been evaluated yet).
PROMOTED = "promoted"
NOT_PROMOTED = "its candidate passed its gates but was not promoted"
FAILED_GATES = "its candidate failed its gates"


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
    outcome: Callable[[str], str | None] = lambda version: None,
) -> RetrainDecision:
    """Whether monitoring of `current_version` should request a retraining.

    `history` holds the earlier decisions, oldest first. A version votes to retrain when degraded, or on
    dataset drift if the policy says so; retraining is triggered when at least trigger_k of the last
    trigger_n votes (this one included) are yes, and held back by a cooldown after a recent retraining or by
    the daily cap. Earlier decisions for `current_version` itself (a re-run) are not counted as votes, and
    if one of them already retrained, the re-run does not retrain again. `outcome(version)` says how an earlier
    retraining ended (PROMOTED, NOT_PROMOTED, FAILED_GATES or None); a failed one starts no cooldown unless
    `policy.cooldown_counts_failed_attempts`.
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
        if not signal.retrained:
            continue
        ended = outcome(signal.version)
        if ended == FAILED_GATES and not policy.cooldown_counts_failed_attempts:
            reasons.append(f"cooldown: failed attempts do not count: {signal.version}'s candidate failed its gates")
            continue
        if ended == FAILED_GATES:
            ended += ", and failed attempts count"
        reasons.append(
            f"cooldown: {signal.version} retrained {_versions(ago)} ago, {ended or 'its candidate not evaluated yet'}"
            f" (cooldown {policy.cooldown_versions})"
        )
        held = True
        break
    today = sum(1 for s in history if s.retrained and now - DAY_SECONDS < s.at <= now)
    if today >= policy.max_retrains_per_day:
        reasons.append(f"cap: {today} retraining(s) in the 24 h before now (max {policy.max_retrains_per_day} per day)")
        held = True
    return RetrainDecision(retrain=not held, reasons=tuple(reasons), triggered=True)
