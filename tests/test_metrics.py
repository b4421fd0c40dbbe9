"""Metrics, the naive baseline, the paired bootstrap and slice metrics: real computations on small seeded data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.stages import metrics as m


def _regression_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(200.0, 80.0, n)
    return y, y + rng.normal(0.0, 20.0, n)


def _classification_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    proba = 1.0 / (1.0 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(0.0, 1.5, n))))
    return y, proba


def test_regression_metrics_match_hand_computed_values():
    # errors 0, 0, 0, 1: MSE 0.25; SS_tot of 1..4 around 2.5 is 5, so R² = 1 - 1/5.
    metrics = m.regression_metrics([1, 2, 3, 4], [1, 2, 3, 5])
    assert metrics == pytest.approx({"rmse": 0.5, "mae": 0.25, "r2": 0.8})


def test_regression_r2_is_nan_for_a_constant_target():
    metrics = m.regression_metrics([3, 3, 3], [2, 3, 4])
    assert math.isnan(metrics["r2"])
    assert metrics["mae"] == pytest.approx(2 / 3)


def test_classification_metrics_match_hand_computed_values():
    # Positives score 0.4, 0.9; negatives 0.1, 0.6: 3 of 4 pairs ordered right. Predicted at 0.5: 0, 1, 0, 1.
    # AP: recall 0.5 at precision 1, then recall 1 at precision 2/3.
    metrics = m.classification_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
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
    only_positive = m.classification_metrics([1, 1, 1], [0.8, 0.6, 0.3])
    assert math.isnan(only_positive["roc_auc"]) and math.isnan(only_positive["pr_auc"])
    assert only_positive["f1"] == pytest.approx(0.8)  # precision 1, recall 2/3
    assert only_positive["accuracy"] == pytest.approx(2 / 3)
    assert only_positive["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6) + math.log(0.3)) / 3)

    only_negative = m.classification_metrics([0, 0], [0.2, 0.1])
    assert math.isnan(only_negative["f1"])  # no positive labelled or predicted: 0/0
    assert only_negative["accuracy"] == 1.0


def test_task_metrics_dispatches_on_the_task():
    assert set(m.task_metrics("regression", [1, 2], [1, 2])) == {"rmse", "mae", "r2"}
    assert set(m.task_metrics("classification", [0, 1], [0.2, 0.7])) == {
        "roc_auc",
        "pr_auc",
        "f1",
        "log_loss",
        "accuracy",
    }
    with pytest.raises(ValueError, match="task"):
        m.task_metrics("ranking", [1], [1])


def test_regression_baseline_is_the_group_mean_with_the_global_mean_for_unseen_groups():
    train = pd.DataFrame(
        {"weekday": [0, 0, 0, 1, 1], "hour": [8, 8, 9, 8, 8], "target": [10.0, 20.0, 30.0, 100.0, 140.0]}
    )
    # A non-default index: predictions must follow the rows' order, not their labels.
    rows = pd.DataFrame({"weekday": [1, 0, 6, 0], "hour": [8, 8, 8, 9]}, index=[7, 3, 0, 5])
    baseline = m.baseline_predictions(train, train["target"], rows, ["weekday", "hour"], "regression")
    np.testing.assert_allclose(baseline, [120.0, 15.0, 60.0, 30.0])  # weekday 6 unseen: global mean 60


def test_classification_baseline_is_the_class_prior_for_every_row():
    train = pd.DataFrame({"weekday": [0, 1, 2, 3], "churned": [0, 1, 1, 1]})
    rows = pd.DataFrame({"weekday": [0, 5, 1]})
    baseline = m.baseline_predictions(train, train["churned"], rows, ["weekday"], "classification")
    np.testing.assert_allclose(baseline, [0.75, 0.75, 0.75])


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_bootstrap_of_identical_predictions_is_a_zero_interval(task):
    y, pred = _regression_data() if task == "regression" else _classification_data()
    result = m.paired_bootstrap_difference(task, y, pred, pred.copy(), n_samples=200, seed=1)
    assert result["metric"] == m.PRIMARY_METRIC[task][0]
    assert (result["difference"], result["low"], result["high"]) == (0.0, 0.0, 0.0)
    assert result["n_samples"] == 200


def test_bootstrap_puts_a_clearly_worse_regression_candidate_entirely_on_the_worse_side():
    y, champion = _regression_data()
    candidate = y + np.random.default_rng(5).normal(0.0, 40.0, len(y))  # twice the champion's error
    result = m.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=300, seed=1)
    expected = m.regression_metrics(y, candidate)["rmse"] - m.regression_metrics(y, champion)["rmse"]
    assert result["difference"] == pytest.approx(expected)
    assert 0.0 < result["low"] <= result["difference"] <= result["high"]


def test_bootstrap_puts_a_clearly_worse_classification_candidate_entirely_on_the_worse_side():
    y, champion = _classification_data()
    candidate = np.random.default_rng(5).uniform(size=len(y))  # no skill: AUC about 0.5
    result = m.paired_bootstrap_difference("classification", y, candidate, champion, n_samples=300, seed=1)
    expected = m.classification_metrics(y, candidate)["roc_auc"] - m.classification_metrics(y, champion)["roc_auc"]
    assert result["difference"] == pytest.approx(expected)
    assert result["low"] <= result["difference"] <= result["high"] < 0.0


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_bootstrap_is_deterministic_for_a_seed(task):
    y, champion = _regression_data() if task == "regression" else _classification_data()
    candidate = champion + np.random.default_rng(9).normal(0.0, 0.05 if task == "classification" else 5.0, len(y))
    first = m.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=7)
    again = m.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=7)
    other = m.paired_bootstrap_difference(task, y, candidate, champion, n_samples=100, seed=8)
    assert first == again
    assert (first["low"], first["high"]) != (other["low"], other["high"])


def test_bootstrap_is_paired_so_near_identical_models_get_a_narrow_interval():
    # Two models that differ a little on the same rows: resampling rows independently for each model would
    # mix in how hard each resample's rows are; resampling the same rows cancels it.
    y, champion = _regression_data(n=500)
    candidate = champion + np.random.default_rng(3).normal(0.0, 2.0, len(y))
    paired = m.paired_bootstrap_difference("regression", y, candidate, champion, n_samples=400, seed=1)

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
    np.testing.assert_allclose(m._weighted_auc(y.astype(float), proba, weights), expected)


def test_bootstrap_of_a_single_class_holdout_is_undefined_not_an_error():
    y = np.ones(50, dtype=int)
    proba = np.linspace(0.1, 0.9, 50)
    result = m.paired_bootstrap_difference("classification", y, proba, proba[::-1], n_samples=60, seed=0)
    assert math.isnan(result["difference"]) and math.isnan(result["low"]) and math.isnan(result["high"])


def test_slice_metrics_is_a_long_table_per_slice_and_model():
    rows = pd.DataFrame(
        {"weather": ["clear", "rain", "clear", "rain", "snow"], "workday": [1, 1, 0, 0, 1]},
        index=[40, 30, 20, 10, 0],  # matched to y by position, not by label
    )
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    predictions = {"candidate": y + np.array([0.0, 1.0, 0.0, 0.0, 2.0]), "baseline": np.full(5, 3.0)}
    table = m.slice_metrics(rows, y, predictions, ["weather", "workday"], "regression")

    assert list(table.columns) == ["slice_column", "slice_value", "rows", "model", "rmse", "mae", "r2"]
    assert len(table) == (3 + 2) * 2
    assert set(table["slice_value"]) == {"clear", "rain", "snow", "0", "1"}

    rain = table[(table["slice_value"] == "rain") & (table["model"] == "candidate")].iloc[0]
    # y 2, 4 predicted 3, 4: errors 1, 0; SS_tot 2.
    assert rain["rows"] == 2
    assert (rain["rmse"], rain["mae"], rain["r2"]) == pytest.approx((math.sqrt(0.5), 0.5, 0.5))

    working = table[(table["slice_column"] == "workday") & (table["slice_value"] == "1")]
    baseline = working[working["model"] == "baseline"].iloc[0]
    assert baseline["rows"] == 3
    assert baseline["mae"] == pytest.approx((2 + 1 + 2) / 3)  # y 1, 2, 5 against 3

    snow = table[(table["slice_value"] == "snow") & (table["model"] == "candidate")].iloc[0]
    assert snow["rows"] == 1 and math.isnan(snow["r2"])


def test_slice_metrics_for_classification_has_the_classification_columns():
    y, proba = _classification_data(n=60)
    rows = pd.DataFrame({"segment": np.repeat(["a", "b", "c"], 20)})
    table = m.slice_metrics(rows, y, {"candidate": proba}, ["segment"], "classification")
    assert list(table.columns)[4:] == ["roc_auc", "pr_auc", "f1", "log_loss", "accuracy"]
    assert table["rows"].tolist() == [20, 20, 20]
    first = m.classification_metrics(y[:20], proba[:20])
    assert table.iloc[0][list(first)].to_dict() == pytest.approx(first)
