"""Tests of the evaluation stage's plain functions: real computations on small seeded data, no mocks."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from mlops_assets import evaluation as ev
from mlops_assets.config import GateSettings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GATES = GateSettings(max_rmse=150.0, min_r2=0.5, min_roc_auc=0.7, champion_margin=0.05, slice_margin=0.25)


def _regression_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(200.0, 80.0, n)
    return y, y + rng.normal(0.0, 20.0, n)


def _classification_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    proba = 1.0 / (1.0 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(0.0, 1.5, n))))
    return y, proba


# ---------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------


def test_regression_metrics_match_hand_computed_values():
    # errors 0, 0, 0, 1: MSE 0.25; SS_tot of 1..4 around 2.5 is 5, so R² = 1 - 1/5.
    metrics = ev.regression_metrics([1, 2, 3, 4], [1, 2, 3, 5])
    assert metrics == pytest.approx({"rmse": 0.5, "mae": 0.25, "r2": 0.8})


def test_regression_r2_is_nan_for_a_constant_target():
    metrics = ev.regression_metrics([3, 3, 3], [2, 3, 4])
    assert math.isnan(metrics["r2"])
    assert metrics["mae"] == pytest.approx(2 / 3)


def test_classification_metrics_match_hand_computed_values():
    # Positives score 0.4, 0.9; negatives 0.1, 0.6: 3 of 4 pairs ordered right. Predicted at 0.5: 0, 1, 0, 1.
    # AP: recall 0.5 at precision 1, then recall 1 at precision 2/3.
    metrics = ev.classification_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert metrics == pytest.approx(
        {
            "roc_auc": 0.75,
            "pr_auc": 0.5 + 0.5 * 2 / 3,
            "f1": 0.5,
            "log_loss": -(math.log(0.9) + math.log(0.4)) / 2,
            "accuracy": 0.5,
        }
    )


def test_classification_metrics_with_a_single_class_return_nan_instead_of_raising():
    only_positive = ev.classification_metrics([1, 1, 1], [0.8, 0.6, 0.3])
    assert math.isnan(only_positive["roc_auc"]) and math.isnan(only_positive["pr_auc"])
    assert only_positive["f1"] == pytest.approx(0.8)  # precision 1, recall 2/3
    assert only_positive["accuracy"] == pytest.approx(2 / 3)
    assert only_positive["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6) + math.log(0.3)) / 3)

    only_negative = ev.classification_metrics([0, 0], [0.2, 0.1])
    assert math.isnan(only_negative["f1"])  # no positive labelled or predicted: 0/0
    assert only_negative["accuracy"] == 1.0


def test_task_metrics_dispatches_on_the_task():
    assert set(ev.task_metrics("regression", [1, 2], [1, 2])) == {"rmse", "mae", "r2"}
    assert set(ev.task_metrics("classification", [0, 1], [0.2, 0.7])) == {
        "roc_auc",
        "pr_auc",
        "f1",
        "log_loss",
        "accuracy",
    }
    with pytest.raises(ValueError, match="task"):
        ev.task_metrics("ranking", [1], [1])


# ---------------------------------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------------------------------


def test_regression_baseline_is_the_group_mean_with_the_global_mean_for_unseen_groups():
    train = pd.DataFrame(
        {"weekday": [0, 0, 0, 1, 1], "hr": [8, 8, 9, 8, 8], "bikers": [10.0, 20.0, 30.0, 100.0, 140.0]}
    )
    # A non-default index: predictions must follow the rows' order, not their labels.
    rows = pd.DataFrame({"weekday": [1, 0, 6, 0], "hr": [8, 8, 8, 9]}, index=[7, 3, 0, 5])
    baseline = ev.baseline_predictions(train, rows, "bikers", ["weekday", "hr"], "regression")
    np.testing.assert_allclose(baseline, [120.0, 15.0, 60.0, 30.0])  # weekday 6 unseen: global mean 60


def test_classification_baseline_is_the_class_prior_for_every_row():
    train = pd.DataFrame({"weekday": [0, 1, 2, 3], "churned": [0, 1, 1, 1]})
    rows = pd.DataFrame({"weekday": [0, 5, 1]})
    baseline = ev.baseline_predictions(train, rows, "churned", ["weekday"], "classification")
    np.testing.assert_allclose(baseline, [0.75, 0.75, 0.75])


# ---------------------------------------------------------------------------------------------------------
# Paired bootstrap
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_bootstrap_of_identical_predictions_is_a_zero_interval(task):
    y, pred = _regression_data() if task == "regression" else _classification_data()
    result = ev.paired_bootstrap_difference(task, y, pred, pred.copy(), n_samples=200, seed=1)
    assert result["metric"] == ev.PRIMARY_METRIC[task][0]
    assert (result["difference"], result["low"], result["high"]) == (0.0, 0.0, 0.0)
    assert result["n_samples"] == 200


def test_bootstrap_puts_a_clearly_worse_regression_candidate_entirely_on_the_worse_side():
    y, champion = _regression_data()
    candidate = y + np.random.default_rng(5).normal(0.0, 40.0, len(y))  # twice the champion's error
    result = ev.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=300, seed=1)
    expected = ev.regression_metrics(y, candidate)["rmse"] - ev.regression_metrics(y, champion)["rmse"]
    assert result["difference"] == pytest.approx(expected)
    assert 0.0 < result["low"] <= result["difference"] <= result["high"]


def test_bootstrap_puts_a_clearly_worse_classification_candidate_entirely_on_the_worse_side():
    y, champion = _classification_data()
    candidate = np.random.default_rng(5).uniform(size=len(y))  # no skill: AUC about 0.5
    result = ev.paired_bootstrap_difference("classification", y, candidate, champion, n_samples=300, seed=1)
    expected = ev.classification_metrics(y, candidate)["roc_auc"] - ev.classification_metrics(y, champion)["roc_auc"]
    assert result["difference"] == pytest.approx(expected)
    assert result["low"] <= result["difference"] <= result["high"] < 0.0


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_bootstrap_is_deterministic_for_a_seed(task):
    y, champion = _regression_data() if task == "regression" else _classification_data()
    candidate = champion + np.random.default_rng(9).normal(0.0, 0.05 if task == "classification" else 5.0, len(y))
    first = ev.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=7)
    again = ev.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=7)
    other = ev.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=8)
    assert first == again
    assert (first["low"], first["high"]) != (other["low"], other["high"])


def test_bootstrap_is_paired_so_near_identical_models_get_a_narrow_interval():
    # Two models that differ a little on the same rows: resampling rows independently for each model would
    # mix in how hard each resample's rows are; resampling the same rows cancels it.
    y, champion = _regression_data(n=500)
    candidate = champion + np.random.default_rng(3).normal(0.0, 2.0, len(y))
    paired = ev.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=400, seed=1)

    rng = np.random.default_rng(1)
    a, b = rng.integers(0, len(y), (400, len(y))), rng.integers(0, len(y), (400, len(y)))
    unpaired = np.sqrt(((candidate - y)[a] ** 2).mean(1)) - np.sqrt(((champion - y)[b] ** 2).mean(1))
    unpaired_width = np.percentile(unpaired, 97.5) - np.percentile(unpaired, 2.5)
    assert paired["high"] - paired["low"] < 0.2 * unpaired_width


def test_weighted_auc_equals_sklearn_on_the_resampled_rows():
    from sklearn.metrics import roc_auc_score

    y, proba = _classification_data(n=300)
    proba = np.round(proba, 1)  # many ties: they must count half, as in sklearn
    rng = np.random.default_rng(2)
    drawn = rng.integers(0, len(y), (5, len(y)))
    weights = np.stack([np.bincount(d, minlength=len(y)) for d in drawn]).astype(float)
    expected = [roc_auc_score(y[d], proba[d]) for d in drawn]
    np.testing.assert_allclose(ev._weighted_auc(y.astype(float), proba, weights), expected)


def test_bootstrap_of_a_single_class_holdout_is_undefined_not_an_error():
    y = np.ones(50, dtype=int)
    proba = np.linspace(0.1, 0.9, 50)
    result = ev.paired_bootstrap_difference("classification", y, proba, proba[::-1], n_samples=60, seed=0)
    assert math.isnan(result["difference"]) and math.isnan(result["low"]) and math.isnan(result["high"])


def test_regression_bootstrap_of_1000_samples_on_10k_rows_is_fast():
    y, champion = _regression_data(n=10_000)
    candidate = champion + 1.0
    ev.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=50, seed=0)  # warm up
    start = time.perf_counter()
    ev.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=1000, seed=0)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------------------------------------------------
# Slices
# ---------------------------------------------------------------------------------------------------------


def test_slice_metrics_is_a_long_table_per_slice_and_model():
    rows = pd.DataFrame(
        {"weathersit": ["clear", "rain", "clear", "rain", "snow"], "workingday": [1, 1, 0, 0, 1]},
        index=[40, 30, 20, 10, 0],  # matched to y by position, not by label
    )
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    predictions = {"candidate": y + np.array([0.0, 1.0, 0.0, 0.0, 2.0]), "baseline": np.full(5, 3.0)}
    table = ev.slice_metrics(rows, y, predictions, ["weathersit", "workingday"], "regression")

    assert list(table.columns) == ["slice_column", "slice_value", "rows", "model", "rmse", "mae", "r2"]
    assert len(table) == (3 + 2) * 2
    assert set(table["slice_value"]) == {"clear", "rain", "snow", "0", "1"}

    rain = table[(table["slice_value"] == "rain") & (table["model"] == "candidate")].iloc[0]
    # y 2, 4 predicted 3, 4: errors 1, 0; SS_tot 2.
    assert rain["rows"] == 2
    assert (rain["rmse"], rain["mae"], rain["r2"]) == pytest.approx((math.sqrt(0.5), 0.5, 0.5))

    working = table[(table["slice_column"] == "workingday") & (table["slice_value"] == "1")]
    baseline = working[working["model"] == "baseline"].iloc[0]
    assert baseline["rows"] == 3
    assert baseline["mae"] == pytest.approx((2 + 1 + 2) / 3)  # y 1, 2, 5 against 3

    snow = table[(table["slice_value"] == "snow") & (table["model"] == "candidate")].iloc[0]
    assert snow["rows"] == 1 and math.isnan(snow["r2"])


def test_slice_metrics_for_classification_has_the_classification_columns():
    y, proba = _classification_data(n=60)
    rows = pd.DataFrame({"segment": np.repeat(["a", "b", "c"], 20)})
    table = ev.slice_metrics(rows, y, {"candidate": proba}, ["segment"], "classification")
    assert list(table.columns)[4:] == ["roc_auc", "pr_auc", "f1", "log_loss", "accuracy"]
    assert table["rows"].tolist() == [20, 20, 20]
    first = ev.classification_metrics(y[:20], proba[:20])
    assert table.iloc[0][list(first)].to_dict() == pytest.approx(first)


# ---------------------------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------------------------

EMPTY_SLICES = pd.DataFrame(columns=["slice_column", "slice_value", "rows", "model", "rmse", "roc_auc"])


def _gate(results: list[ev.GateResult], name: str) -> ev.GateResult:
    return next(result for result in results if result.name == name)


def _plain(metadata: dict) -> bool:
    return all(type(value) in (float, int, str, bool) for value in metadata.values())


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_all_four_gates_are_always_present_in_order_with_plain_metadata(task):
    metric = ev.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: 1.0, "r2": 0.9}, "baseline": {metric: 2.0}}
    results = ev.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES)
    assert [r.name for r in results] == list(ev.GATE_NAMES)
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
    gate = ev.evaluate_gates("regression", {"candidate": candidate}, None, EMPTY_SLICES, GATES)[0]
    assert gate.name == "absolute_thresholds" and gate.passed is passed
    assert gate.metadata == {
        "candidate_rmse": candidate["rmse"],
        "max_rmse": 150.0,
        "candidate_r2": candidate["r2"],
        "min_r2": 0.5,
    }


@pytest.mark.parametrize(("auc", "passed"), [(0.8, True), (0.7, True), (0.65, False), (math.nan, False)])
def test_absolute_thresholds_gate_for_classification(auc, passed):
    gate = ev.evaluate_gates("classification", {"candidate": {"roc_auc": auc}}, None, EMPTY_SLICES, GATES)[0]
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
    metric = ev.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: candidate, "r2": 0.9}, "baseline": {metric: baseline}}
    gate = _gate(ev.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES), "beats_baseline")
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
    metric = ev.PRIMARY_METRIC[task][0]
    metrics = {
        "candidate": {metric: champion + (low + high) / 2, "r2": 0.9},
        "champion": {metric: champion},
        "baseline": {metric: champion},
    }
    results = ev.evaluate_gates(task, metrics, _bootstrap(metric, low, high), EMPTY_SLICES, GATES)
    gate = _gate(results, "not_worse_than_champion")
    assert gate.passed is passed
    assert gate.metadata["allowed_difference"] == pytest.approx(0.05 * champion)
    assert (gate.metadata["low"], gate.metadata["high"]) == (low, high)
    assert gate.metadata["compared"] is True and _plain(gate.metadata)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_champion_gates_pass_when_there_is_no_champion(task):
    metric = ev.PRIMARY_METRIC[task][0]
    metrics = {"candidate": {metric: 1.0, "r2": 0.9}, "baseline": {metric: 2.0}}
    results = ev.evaluate_gates(task, metrics, None, EMPTY_SLICES, GATES)
    for name in ("not_worse_than_champion", "no_slice_worse_than_champion"):
        gate = _gate(results, name)
        assert gate.passed and gate.metadata["compared"] is False
        assert "No champion" in gate.description


def test_champion_gate_without_a_bootstrap_judges_the_point_difference():
    metrics = {"candidate": {"rmse": 43.0, "r2": 0.9}, "champion": {"rmse": 40.0}, "baseline": {"rmse": 60.0}}
    gate = _gate(ev.evaluate_gates("regression", metrics, None, EMPTY_SLICES, GATES), "not_worse_than_champion")
    assert not gate.passed  # 3 worse, 2 allowed
    assert gate.metadata["judged_on"] == "point_difference"


def test_champion_gate_rejects_a_bootstrap_of_another_metric():
    metrics = {"candidate": {"rmse": 40.0, "r2": 0.9}, "champion": {"rmse": 40.0}, "baseline": {"rmse": 60.0}}
    with pytest.raises(ValueError, match="mae"):
        ev.evaluate_gates("regression", metrics, _bootstrap("mae", 0, 1), EMPTY_SLICES, GATES)


def _sliced_holdout(task: str, worse_slice: str | None) -> pd.DataFrame:
    """Slices of a holdout where the candidate matches the champion except, badly, on `worse_slice`."""
    rng = np.random.default_rng(11)
    rows = pd.DataFrame({"weathersit": ["clear"] * 200 + ["rain"] * 60 + ["snow"] * 10})
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
    bad = rows["weathersit"].isin(["snow", worse_slice]).to_numpy()
    candidate = np.where(bad, ruined, champion + rng.normal(0.0, 0.01, n))
    return ev.slice_metrics(rows, y, {"candidate": candidate, "champion": champion}, ["weathersit"], task)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_slice_gate_passes_when_only_a_small_slice_is_worse(task):
    metric = ev.PRIMARY_METRIC[task][0]
    slices = _sliced_holdout(task, worse_slice=None)
    metrics = {"candidate": {metric: 0.9, "r2": 0.9}, "champion": {metric: 0.9}, "baseline": {metric: 0.5}}
    gate = _gate(ev.evaluate_gates(task, metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert gate.passed, gate.description
    assert gate.metadata["slices_gated"] == 2 and gate.metadata["slices_too_small"] == 1
    assert gate.metadata["worst_slice_relative_worsening"] <= 0.25


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_slice_gate_fails_and_names_the_worst_slice(task):
    metric = ev.PRIMARY_METRIC[task][0]
    slices = _sliced_holdout(task, worse_slice="rain")
    metrics = {"candidate": {metric: 0.9, "r2": 0.9}, "champion": {metric: 0.9}, "baseline": {metric: 0.5}}
    gate = _gate(ev.evaluate_gates(task, metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert not gate.passed
    assert gate.metadata["worst_slice"] == "weathersit=rain"
    assert gate.metadata["worst_slice_rows"] == 60 and gate.metadata["slices_failing"] == 1
    rain = slices[slices["slice_value"] == "rain"].set_index("model")[metric]
    assert gate.metadata[f"worst_slice_candidate_{metric}"] == pytest.approx(rain["candidate"])
    assert gate.metadata[f"worst_slice_champion_{metric}"] == pytest.approx(rain["champion"])
    assert gate.metadata["worst_slice_relative_worsening"] > 0.25
    assert "weathersit=rain" in gate.description and _plain(gate.metadata)


def test_slice_gate_skips_slices_where_the_metric_is_undefined():
    rows = pd.DataFrame({"segment": ["a"] * 40})
    y = np.ones(40, dtype=int)  # one class: ROC AUC undefined in the only slice
    slices = ev.slice_metrics(
        rows, y, {"candidate": np.full(40, 0.2), "champion": np.full(40, 0.9)}, ["segment"], "classification"
    )
    metrics = {"candidate": {"roc_auc": 0.8}, "champion": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.5}}
    gate = _gate(ev.evaluate_gates("classification", metrics, None, slices, GATES), "no_slice_worse_than_champion")
    assert gate.passed and gate.metadata["slices_undefined"] == 1 and gate.metadata["slices_gated"] == 0


# ---------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------


def test_regression_plots_are_pngs_and_figures_are_closed():
    import matplotlib.pyplot as plt

    y, pred = _regression_data(n=240)
    rows = pd.DataFrame({"hr": np.arange(240) % 24})
    plots = ev.evaluation_plots("regression", rows, y, pred, hour_column="hr")
    assert set(plots) == {"predicted_vs_actual.png", "error_by_hour.png"}
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 1000 for png in plots.values())
    assert set(ev.evaluation_plots("regression", rows, y, pred, hour_column=None)) == {"predicted_vs_actual.png"}
    assert plt.get_fignums() == []


def test_classification_plots_are_pngs_even_for_a_single_class_holdout():
    import matplotlib.pyplot as plt

    y, proba = _classification_data(n=200)
    rows = pd.DataFrame({"x": np.arange(200)})
    plots = ev.evaluation_plots("classification", rows, y, proba, hour_column=None)
    assert set(plots) == {"roc_curve.png", "precision_recall.png", "confusion_matrix.png"}
    assert all(png.startswith(PNG_SIGNATURE) for png in plots.values())
    single = ev.evaluation_plots("classification", rows, np.zeros(200, dtype=int), proba, hour_column=None)
    assert all(png.startswith(PNG_SIGNATURE) for png in single.values())
    assert plt.get_fignums() == []


def test_importing_the_module_does_not_import_sklearn_scipy_or_matplotlib():
    code = (
        "import sys, mlops_assets.evaluation; "
        "print(sorted(m for m in ('sklearn', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
