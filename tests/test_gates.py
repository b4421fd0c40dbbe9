"""The promotion gates (stages/gates.py): each gate's verdict and text on hand-made metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.settings import GateSettings
from mlops_assets.stages import gates
from mlops_assets.stages.metrics import slice_metrics

GATES = GateSettings(max_rmse=150.0, min_r2=0.5, min_roc_auc=0.7, champion_margin=0.05, slice_margin=0.25)


EMPTY_SLICES = pd.DataFrame(columns=["slice_column", "slice_value", "rows", "model", "rmse", "roc_auc"])


def _gate(results: list[gates.GateResult], name: str) -> gates.GateResult:
    return next(result for result in results if result.name == name)


def _plain(metadata: dict) -> bool:
    return all(type(value) in (float, int, str, bool) for value in metadata.values())


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_all_four_gates_are_always_present_in_order_with_plain_metadata(task):
    metric = gates.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: 1.0, "r2": 0.9}, "baseline": {metric: 2.0}}
    results = gates.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES)
    assert [r.name for r in results] == list(gates.GATES)
    assert all(_plain(r.metadata) and r.description for r in results)
    with pytest.raises(AttributeError):
        results[0].passed = False  # frozen


@pytest.mark.parametrize(
    ("candidate", "passed"),
    [
        ({"rmse": 100.0, "r2": 0.8}, True),
        ({"rmse": 150.0, "r2": 0.5}, True),  # thresholds are inclusive
        ({"rmse": 160.0, "r2": 0.8}, False),
        ({"rmse": 100.0, "r2": 0.4}, False),
    ],
)
def test_absolute_thresholds_gate_for_regression(candidate, passed):
    gate = gates.evaluate_gates("regression", {"candidate": candidate}, None, EMPTY_SLICES, GATES)[0]
    assert gate.name == "absolute_thresholds" and gate.passed is passed
    assert gate.metadata == {
        "candidate_rmse": candidate["rmse"],
        "max_rmse": 150.0,
        "candidate_r2": candidate["r2"],
        "min_r2": 0.5,
    }


@pytest.mark.parametrize(("auc", "passed"), [(0.8, True), (0.7, True), (0.65, False), (math.nan, False)])
def test_absolute_thresholds_gate_for_classification(auc, passed):
    gate = gates.evaluate_gates("classification", {"candidate": {"roc_auc": auc}}, None, EMPTY_SLICES, GATES)[0]
    assert gate.passed is passed
    assert gate.metadata["min_roc_auc"] == 0.7


@pytest.mark.parametrize(
    ("task", "candidate", "baseline", "passed"),
    [
        ("regression", 40.0, 60.0, True),
        ("regression", 60.0, 60.0, False),  # strictly better is required
        ("regression", 70.0, 60.0, False),
        ("classification", 0.8, 0.5, True),
        ("classification", 0.5, 0.5, False),
    ],
)
def test_beats_baseline_gate(task, candidate, baseline, passed):
    metric = gates.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: candidate, "r2": 0.9}, "baseline": {metric: baseline}}
    gate = _gate(gates.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES), "beats_baseline")
    assert gate.passed is passed
    assert gate.metadata[f"candidate_{metric}"] == candidate and gate.metadata[f"baseline_{metric}"] == baseline


def _bootstrap(metric: str, low: float, high: float) -> dict:
    return {"metric": metric, "difference": (low + high) / 2, "low": low, "high": high, "n_samples": 500}


@pytest.mark.parametrize(
    ("task", "champion", "low", "high", "passed"),
    [
        # Regression, champion RMSE 40: the candidate may be worse by 5% of it, i.e. 2.
        ("regression", 40.0, 1.5, 6.0, True),  # possibly worse, but not surely beyond the margin
        ("regression", 40.0, -3.0, -1.0, True),  # surely better
        ("regression", 40.0, 2.5, 6.0, False),  # surely worse by more than 2
        # Classification, champion AUC 0.8: allowed 0.04 lower.
        ("classification", 0.8, -0.08, -0.03, True),
        ("classification", 0.8, -0.09, -0.05, False),
    ],
)
def test_not_worse_than_champion_gate_uses_the_bootstrap_interval(task, champion, low, high, passed):
    metric = gates.PRIMARY_METRIC[task][0]
    metrics = {
        "candidate": {metric: champion + (low + high) / 2, "r2": 0.9},
        "champion": {metric: champion},
        "baseline": {metric: champion},
    }
    results = gates.evaluate_gates(task, metrics, _bootstrap(metric, low, high), EMPTY_SLICES, GATES)
    gate = _gate(results, "not_worse_than_champion")
    assert gate.passed is passed
    assert gate.metadata["allowed_difference"] == pytest.approx(0.05 * champion)
    assert (gate.metadata["low"], gate.metadata["high"]) == (low, high)
    assert gate.metadata["compared"] is True and _plain(gate.metadata)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_champion_gates_pass_when_there_is_no_champion(task):
    metric = gates.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: 1.0, "r2": 0.9}, "baseline": {metric: 2.0}}
    results = gates.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES)
    for name in ("not_worse_than_champion", "no_slice_worse_than_champion"):
        gate = _gate(results, name)
        assert gate.passed and gate.metadata["compared"] is False
        assert "No champion" in gate.description


def test_champion_gates_say_why_a_champion_was_not_compared():
    metrics = {"candidate": {"rmse": 40.0, "r2": 0.9}, "baseline": {"rmse": 60.0}}
    why = "Champion version 4 trained on every holdout row: not compared; deployment will not replace it."
    results = gates.evaluate_gates("regression", metrics, None, EMPTY_SLICES, GATES, not_compared=why)
    for name in ("not_worse_than_champion", "no_slice_worse_than_champion"):
        assert _gate(results, name).description == why
        assert "No champion" not in _gate(results, name).description


@pytest.mark.parametrize(("pr_auc", "passed"), [(0.5, True), (0.3, False)])
def test_a_pr_auc_threshold_is_gated_when_configured(pr_auc, passed):
    settings = GateSettings(min_roc_auc=0.7, min_pr_auc=0.4)
    metrics = {"candidate": {"roc_auc": 0.9, "pr_auc": pr_auc}, "baseline": {"roc_auc": 0.5}}
    gate = _gate(gates.evaluate_gates("classification", metrics, None, EMPTY_SLICES, settings), "absolute_thresholds")
    assert gate.passed is passed
    assert "PR AUC" in gate.description and gate.metadata["min_pr_auc"] == 0.4


def test_champion_gate_without_a_bootstrap_judges_the_point_difference():
    metrics = {"candidate": {"rmse": 43.0, "r2": 0.9}, "champion": {"rmse": 40.0}, "baseline": {"rmse": 60.0}}
    gate = _gate(gates.evaluate_gates("regression", metrics, None, EMPTY_SLICES, GATES), "not_worse_than_champion")
    assert not gate.passed  # 3 worse, 2 allowed
    assert gate.metadata["judged_on"] == "point_difference"


def test_champion_gate_rejects_a_bootstrap_of_another_metric():
    metrics = {"candidate": {"rmse": 40.0, "r2": 0.9}, "champion": {"rmse": 40.0}, "baseline": {"rmse": 60.0}}
    with pytest.raises(ValueError, match="mae"):
        gates.evaluate_gates("regression", metrics, _bootstrap("mae", 0, 1), EMPTY_SLICES, GATES)


def _sliced_holdout(task: str, worse_slice: str | None) -> pd.DataFrame:
    """Slices of a holdout where the candidate matches the champion except, badly, on `worse_slice`."""
    rng = np.random.default_rng(11)
    rows = pd.DataFrame({"weather": ["clear"] * 200 + ["rain"] * 60 + ["snow"] * 10})
    n = len(rows)
    if task == "regression":
        y = rng.normal(200.0, 80.0, n)
        champion = y + rng.normal(0.0, 10.0, n)
        ruined = y + rng.normal(0.0, 60.0, n)
    else:
        y = np.tile([0, 1], n // 2)
        champion = np.clip(0.25 + 0.5 * y + rng.normal(0.0, 0.2, n), 0, 1)
        ruined = rng.uniform(size=n)
    # Snow (10 rows) is always ruined, but it is below min_slice_rows: never gated.
    bad = rows["weather"].isin(["snow", worse_slice]).to_numpy()
    candidate = np.where(bad, ruined, champion + rng.normal(0.0, 0.01, n))
    return slice_metrics(rows, y, {"candidate": candidate, "champion": champion}, ["weather"], task)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_slice_gate_passes_when_only_a_small_slice_is_worse(task):
    metric = gates.PRIMARY_METRIC[task][0]
    slices = _sliced_holdout(task, worse_slice=None)
    metrics = {"candidate": {metric: 0.9, "r2": 0.9}, "champion": {metric: 0.9}, "baseline": {metric: 0.5}}
    gate = _gate(gates.evaluate_gates(task, metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert gate.passed, gate.description
    assert gate.metadata["slices_gated"] == 2 and gate.metadata["slices_too_small"] == 1
    assert gate.metadata["worst_slice_relative_worsening"] <= 0.25


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_slice_gate_fails_and_names_the_worst_slice(task):
    metric = gates.PRIMARY_METRIC[task][0]
    slices = _sliced_holdout(task, worse_slice="rain")
    metrics = {"candidate": {metric: 0.9, "r2": 0.9}, "champion": {metric: 0.9}, "baseline": {metric: 0.5}}
    gate = _gate(gates.evaluate_gates(task, metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert not gate.passed
    assert gate.metadata["worst_slice"] == "weather=rain"
    assert gate.metadata["worst_slice_rows"] == 60 and gate.metadata["slices_failing"] == 1
    rain = slices[slices["slice_value"] == "rain"].set_index("model")[metric]
    assert gate.metadata[f"worst_slice_candidate_{metric}"] == pytest.approx(rain["candidate"])
    assert gate.metadata[f"worst_slice_champion_{metric}"] == pytest.approx(rain["champion"])
    assert gate.metadata["worst_slice_relative_worsening"] > 0.25
    assert "weather=rain" in gate.description and _plain(gate.metadata)


def test_slice_gate_skips_slices_where_the_metric_is_undefined():
    rows = pd.DataFrame({"segment": ["a"] * 40})
    y = np.ones(40, dtype=int)  # one class: ROC AUC undefined in the only slice
    slices = slice_metrics(
        rows, y, {"candidate": np.full(40, 0.2), "champion": np.full(40, 0.9)}, ["segment"], "classification"
    )
    metrics = {"candidate": {"roc_auc": 0.8}, "champion": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.5}}
    gate = _gate(gates.evaluate_gates("classification", metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert gate.passed and gate.metadata["slices_undefined"] == 1 and gate.metadata["slices_gated"] == 0
