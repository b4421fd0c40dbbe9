"""Monitoring: reference profile, drift measures, the retraining policy and the plots, on real computations.

The measures are checked on synthetic columns whose drift is known, and once on the test model's own inputs
(tests/conftest.py); the demo's seasonal drift is in tests/demo/test_demo_drift.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.settings import DriftSettings, RetrainSettings
from mlops_assets.stages.drift import (
    build_reference_profile,
    drift_summary,
    feature_drift,
    js_distance,
    population_stability_index,
)
from mlops_assets.stages.monitoring import TOO_FEW_ROWS, MonitoringResult, is_degraded
from mlops_assets.stages.plots import plot_feature_drift, plot_metric_over_versions
from mlops_assets.stages.retraining import (
    FAILED_GATES,
    PROMOTED,
    MonitoringSignal,
    RetrainDecision,
    decide_retraining,
)
from tests.conftest import MODEL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WARN, ALERT = DriftSettings().psi_warn, DriftSettings().psi_alert


def normal_frame(seed: int, rows: int = 4000, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(10.0 + shift * 2.0, 2.0, rows),  # std 2: shift=1 moves the mean by one std
            "colour": rng.choice(["red", "green", "blue"], size=rows, p=[0.5, 0.3, 0.2]),
        }
    )


def drift_of(reference: pd.DataFrame, current: pd.DataFrame, categorical=("colour",)) -> pd.DataFrame:
    profile = build_reference_profile(reference, np.zeros(len(reference)), list(categorical))
    return feature_drift(profile, current, np.zeros(len(current)), WARN, ALERT).set_index("feature")


# --- PSI and numerical drift ---------------------------------------------------------------------------------


def test_psi_of_identical_shares_is_zero_and_of_known_shares_matches_the_formula():
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert population_stability_index([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected)


def test_psi_clips_empty_bins_instead_of_dividing_by_zero():
    psi = population_stability_index([1.0, 0.0], [0.0, 1.0], eps=1e-4)
    assert math.isfinite(psi)
    assert psi == pytest.approx(2 * (1 - 1e-4) * math.log(1 / 1e-4))
    with pytest.raises(ValueError, match="length"):
        population_stability_index([0.5, 0.5], [1.0])


def test_psi_is_near_zero_for_the_same_distribution_and_alerts_on_a_one_std_shift():
    reference = normal_frame(seed=1)
    same = drift_of(reference, normal_frame(seed=2)).loc["x"]
    shifted = drift_of(reference, normal_frame(seed=2, shift=1.0)).loc["x"]

    assert same["psi"] < 0.02
    assert same["status"] == "ok" and not same["drifted"]
    assert same["wasserstein_norm"] < 0.1
    assert shifted["psi"] > 0.2
    assert shifted["status"] == "alert" and shifted["drifted"]
    # The normalised Wasserstein distance of a mean shift of one std is about 1.
    assert shifted["wasserstein_norm"] == pytest.approx(1.0, abs=0.1)


def test_values_outside_the_reference_range_land_in_the_end_bins():
    reference = pd.DataFrame({"x": np.linspace(0.0, 1.0, 1000)})
    profile = build_reference_profile(reference, np.zeros(1000), [], bins=4)
    far = pd.DataFrame({"x": np.full(1000, 100.0)})  # all beyond the reference maximum
    row = feature_drift(profile, far, np.zeros(1000), WARN, ALERT).iloc[0]
    # All current mass in the last of 4 bins holding a quarter each: the PSI of [.25]*4 vs [0, 0, 0, 1].
    expected = population_stability_index([0.25] * 4 + [0.0], [0.0, 0.0, 0.0, 1.0, 0.0])
    assert row["psi"] == pytest.approx(expected)


def test_a_constant_column_neither_crashes_nor_hides_a_shift_in_either_direction():
    reference = pd.DataFrame({"flag": np.full(500, 3.0)})
    profile = build_reference_profile(reference, np.zeros(500), [])
    assert profile["columns"]["flag"]["std"] == 0.0

    def row(values):
        current = pd.DataFrame({"flag": values})
        return feature_drift(profile, current, np.zeros(len(values)), WARN, ALERT).iloc[0]

    same = row(np.full(300, 3.0))
    assert same["psi"] == pytest.approx(0.0, abs=1e-12) and same["wasserstein_norm"] == 0.0
    up, down = row(np.full(300, 4.0)), row(np.full(300, 2.0))
    assert up["status"] == down["status"] == "alert"
    # With std 0 the distance is divided by 1: it is the shift in the column's own units.
    assert up["wasserstein_norm"] == pytest.approx(1.0)


def test_a_heavily_tied_column_gets_clean_edges_and_sees_the_tie_change():
    rng = np.random.default_rng(3)
    rows = 5000

    def tied(zero_share: float) -> pd.DataFrame:  # a measurement that is often exactly zero
        values = rng.exponential(0.2, rows)
        values[rng.random(rows) < zero_share] = 0.0
        return pd.DataFrame({"level": values})

    profile = build_reference_profile(tied(0.7), np.zeros(rows), [])
    column = profile["columns"]["level"]
    assert np.all(np.diff(column["edges"]) > 0), "edges must be strictly increasing (deduplicated)"
    assert len(column["shares"]) == len(column["edges"]) + 1
    assert sum(column["shares"]) == pytest.approx(1.0)
    assert max(column["shares"]) == pytest.approx(0.7, abs=0.03)  # the zeros have a bin of their own

    same = feature_drift(profile, tied(0.7), np.zeros(rows), WARN, ALERT).iloc[0]
    fewer_zeros = feature_drift(profile, tied(0.3), np.zeros(rows), WARN, ALERT).iloc[0]
    assert same["psi"] < 0.02
    assert fewer_zeros["psi"] > 0.2


def test_missing_values_count_as_their_own_bucket():
    reference = pd.DataFrame({"x": np.arange(1000, dtype=float)})
    profile = build_reference_profile(reference, np.zeros(1000), [])
    half_missing = reference.copy()
    half_missing.loc[::2, "x"] = np.nan
    row = feature_drift(profile, half_missing, np.zeros(1000), WARN, ALERT).iloc[0]
    # Ten bins of 100 values each, then the missing bucket: half of every bin moved into it.
    assert profile["columns"]["x"]["shares"] == pytest.approx([0.1] * 10)
    assert row["psi"] == pytest.approx(population_stability_index([0.1] * 10 + [0.0], [0.05] * 10 + [0.5]))
    assert row["status"] == "alert"
    assert math.isfinite(row["wasserstein_norm"])


# --- categorical drift -----------------------------------------------------------------------------------------


def test_js_distance_is_zero_for_equal_shares_and_one_for_disjoint_ones():
    assert js_distance([0.5, 0.3, 0.2], [0.5, 0.3, 0.2]) == 0.0
    assert js_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)


def test_categorical_drift_is_zero_for_the_same_shares_and_grows_with_the_shift():
    rows = 3000
    reference = pd.DataFrame({"colour": ["red"] * 1500 + ["green"] * 900 + ["blue"] * 600})

    def current(moved: int) -> pd.DataFrame:  # `moved` rows go from red to blue
        return pd.DataFrame({"colour": ["red"] * (1500 - moved) + ["green"] * 900 + ["blue"] * (600 + moved)})

    profile = build_reference_profile(reference, np.zeros(rows), ["colour"])
    rows_by_shift = [feature_drift(profile, current(m), np.zeros(rows), WARN, ALERT).iloc[0] for m in (0, 300, 900)]
    assert rows_by_shift[0]["js_distance"] == pytest.approx(0.0, abs=1e-12)
    assert rows_by_shift[0]["psi"] == pytest.approx(0.0, abs=1e-12)
    js = [row["js_distance"] for row in rows_by_shift]
    psi = [row["psi"] for row in rows_by_shift]
    assert js[0] < js[1] < js[2] <= 1.0
    assert psi[0] < psi[1] < psi[2]
    assert all(math.isnan(row["wasserstein_norm"]) for row in rows_by_shift)
    assert rows_by_shift[2]["kind"] == "categorical"


def test_an_unseen_category_counts_as_drift_in_an_extra_bucket():
    reference = pd.DataFrame({"colour": ["red", "green"] * 500})
    profile = build_reference_profile(reference, np.zeros(1000), ["colour"])
    current = pd.DataFrame({"colour": ["red", "green", "purple", "purple"] * 250})
    row = feature_drift(profile, current, np.zeros(1000), WARN, ALERT).iloc[0]
    # Reference [0.5, 0.5, 0] against current [0.25, 0.25, 0.5]: the extra bucket carries the new category.
    assert row["psi"] == pytest.approx(population_stability_index([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]))
    assert row["js_distance"] == pytest.approx(js_distance([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]))
    assert row["status"] == "alert"


def test_integer_categories_match_across_dtypes():
    reference = pd.DataFrame({"level": [1, 2, 3, 4] * 100})
    profile = build_reference_profile(reference, np.zeros(400), ["level"])
    as_float = pd.DataFrame({"level": [1.0, 2.0, 3.0, 4.0] * 100})  # e.g. read back with a NaN elsewhere
    assert feature_drift(profile, as_float, np.zeros(400), WARN, ALERT).iloc[0]["psi"] == pytest.approx(0.0)


# --- feature_drift contract ---------------------------------------------------------------------------------


def test_a_profiled_column_missing_from_the_current_features_is_named():
    reference = normal_frame(seed=1, rows=500)
    profile = build_reference_profile(reference, np.zeros(500), ["colour"])
    with pytest.raises(ValueError, match="colour"):
        feature_drift(profile, reference[["x"]], np.zeros(500), WARN, ALERT)


def test_one_row_per_feature_then_the_prediction_with_the_documented_columns():
    reference = normal_frame(seed=1, rows=2000)
    rng = np.random.default_rng(0)
    profile = build_reference_profile(reference, rng.normal(100, 10, 2000), ["colour"])
    current = normal_frame(seed=2, rows=1500).assign(extra=1.0)  # unprofiled columns are ignored
    drift = feature_drift(profile, current, rng.normal(130, 10, 1500), WARN, ALERT)

    assert list(drift.columns) == ["feature", "kind", "psi", "wasserstein_norm", "js_distance", "status", "drifted"]
    assert drift["feature"].tolist() == ["x", "colour", "prediction"]
    assert drift["kind"].tolist() == ["numerical", "categorical", "prediction"]
    prediction = drift.iloc[-1]
    assert prediction["status"] == "alert" and prediction["wasserstein_norm"] == pytest.approx(3.0, abs=0.2)
    assert drift["drifted"].dtype == bool
    assert (drift["drifted"] == (drift["status"] == "alert")).all()
    with pytest.raises(ValueError, match="predictions"):
        feature_drift(profile, current, np.zeros(10), WARN, ALERT)


def test_the_profile_is_small_json_and_works_after_a_round_trip():
    rng = np.random.default_rng(5)
    rows = 20_000
    frame = pd.DataFrame({f"num{i}": rng.normal(i, 1 + i, rows) for i in range(8)})
    frame["colour"] = rng.choice(list("abcde"), size=rows)
    frame["count"] = rng.integers(0, 24, rows)
    predictions = rng.gamma(2.0, 50.0, rows)

    profile = build_reference_profile(frame, predictions, ["colour"])
    text = json.dumps(profile, allow_nan=False)  # strict JSON: no NaN, no numpy types
    restored = json.loads(text)
    assert restored == profile
    assert len(text) < 150_000  # 10 columns and the prediction, whatever the row count
    sample = profile["columns"]["num0"]["sample"]
    assert len(sample) == 1000 and sample == sorted(sample)
    assert profile["prediction"]["kind"] == "numerical"
    assert build_reference_profile(frame, predictions, ["colour"]) == profile  # the sample is seeded

    current = frame.sample(frac=0.5, random_state=1)
    current_predictions = predictions[current.index]
    pd.testing.assert_frame_equal(
        feature_drift(profile, current, current_predictions, WARN, ALERT),
        feature_drift(restored, current, current_predictions, WARN, ALERT),
    )


def test_the_configured_model_inputs_against_themselves_drift_nowhere(versions, keys):
    """The profile of the test model's inputs (as training builds it) sees no drift in the same rows, nor in a
    shuffled half of them, and survives strict JSON."""
    settings = MODEL
    rows = versions[keys[-1]].reset_index(drop=True)
    inputs = rows[settings.input_columns]
    target = settings.target_of(rows).astype(float)
    profile = build_reference_profile(inputs, target, settings.categorical_columns, bins=settings.drift.psi_bins)
    json.dumps(profile, allow_nan=False)

    same = feature_drift(profile, inputs, target, WARN, ALERT)
    half = inputs.sample(frac=0.5, random_state=1)
    shuffled = feature_drift(profile, half, target[half.index], WARN, ALERT)

    assert same["feature"].tolist() == [*settings.input_columns, "prediction"]
    assert same["psi"].max() == pytest.approx(0.0, abs=1e-9)
    assert not same["drifted"].any()
    assert not shuffled["drifted"].any(), shuffled
    categorical = same.set_index("feature").loc[list(settings.categorical_columns), "kind"]
    assert (categorical == "categorical").all()


# --- summary ---------------------------------------------------------------------------------------------------


def drift_table(statuses: list[str], psi: list[float], prediction_psi: float = 0.05) -> pd.DataFrame:
    features = [f"f{i}" for i in range(len(statuses))]
    return pd.DataFrame(
        {
            "feature": [*features, "prediction"],
            "kind": ["numerical"] * len(statuses) + ["prediction"],
            "psi": [*psi, prediction_psi],
            "status": [*statuses, "alert" if prediction_psi >= ALERT else "ok"],
        }
    ).assign(drifted=lambda d: d["status"] == "alert")


def test_summary_counts_features_only_and_applies_the_share_threshold_inclusively():
    drift = drift_table(["alert", "ok", "warn", "alert"], [0.5, 0.01, 0.15, 0.9], prediction_psi=3.0)
    summary = drift_summary(drift, dataset_drift_share=0.5)
    assert summary["drifted_share"] == 0.5  # 2 of 4 features; the drifted prediction is not a feature
    assert summary["drifted_features"] == ["f0", "f3"]
    assert summary["dataset_drift"] is True  # 0.5 >= 0.5
    assert summary["prediction_psi"] == 3.0
    assert (summary["max_psi"], summary["max_psi_feature"]) == (0.9, "f3")
    assert drift_summary(drift, dataset_drift_share=0.51)["dataset_drift"] is False
    json.dumps(summary, allow_nan=False)


def test_summary_of_a_calm_dataset():
    summary = drift_summary(drift_table(["ok", "warn"], [0.01, 0.12]), dataset_drift_share=0.5)
    assert summary["drifted_share"] == 0.0
    assert summary["drifted_features"] == []
    assert summary["dataset_drift"] is False
    assert summary["max_psi_feature"] == "f1"


# --- retraining policy -----------------------------------------------------------------------------------------

ONE_DAY = 24 * 3600.0
NOW = 1_700_000_000.0


def signal(version: str, degraded=False, drift=False, retrained=False, at=NOW - 7 * ONE_DAY) -> MonitoringSignal:
    return MonitoringSignal(version=version, degraded=degraded, dataset_drift=drift, retrained=retrained, at=at)


def decide(history, degraded=False, drift=False, version="v06", now=NOW, ended=None, **policy) -> RetrainDecision:
    """The policy's decision; `ended` maps earlier retrained versions to how their retraining ended."""
    outcome = (ended or {}).get
    return decide_retraining(history, version, degraded, drift, now, RetrainSettings(**policy), outcome)


def test_a_stable_version_does_not_retrain():
    decision = decide([signal("v05")])
    assert decision == RetrainDecision(retrain=False, reasons=decision.reasons, triggered=False)
    assert "no degradation and no dataset drift" in decision.reasons
    hash(decision)  # frozen and hashable: reasons are a tuple


def test_a_degraded_version_retrains():
    decision = decide([signal("v05")], degraded=True)
    assert decision.retrain and decision.triggered
    assert "1 of the last 1 version degraded or drifted (policy 1 of 1)" in decision.reasons


def test_dataset_drift_retrains_only_when_the_policy_says_so():
    assert decide([], drift=True).retrain
    held = decide([], drift=True, retrain_on_dataset_drift=False)
    assert not held.retrain and not held.triggered
    assert any("does not retrain on drift alone" in reason for reason in held.reasons)


def test_k_of_n_hysteresis_needs_repeated_votes_within_the_window():
    policy = {"trigger_k": 2, "trigger_n": 3, "cooldown_versions": 0}
    first = decide([signal("v04")], degraded=True, **policy)
    assert not first.triggered and not first.retrain
    assert "1 of the last 2 versions degraded or drifted (policy 2 of 3): not triggered" in first.reasons

    second = decide([signal("v04"), signal("v05", drift=True)], degraded=True, **policy)
    assert second.triggered and second.retrain
    assert "2 of the last 3 versions degraded or drifted (policy 2 of 3)" in second.reasons

    # A yes vote that slid out of the window no longer counts.
    old = [signal("v02", degraded=True), signal("v03"), signal("v04")]
    assert not decide(old, degraded=True, **policy).triggered


def test_votes_of_earlier_versions_follow_the_drift_setting_of_the_policy():
    history = [signal("v05", drift=True)]
    policy = {"trigger_k": 2, "trigger_n": 2, "cooldown_versions": 0}
    assert decide(history, degraded=True, **policy).retrain
    assert not decide(history, degraded=True, retrain_on_dataset_drift=False, **policy).retrain


def test_cooldown_holds_back_a_second_trigger():
    history = [signal("v04"), signal("v05", degraded=True, retrained=True)]
    held = decide(history, degraded=True, cooldown_versions=1, ended={"v05": PROMOTED})
    assert held.triggered and not held.retrain
    assert "cooldown: v05 retrained 1 version ago, promoted (cooldown 1)" in held.reasons

    later = [*history, signal("v06", degraded=True)]
    assert decide(later, degraded=True, version="v07", cooldown_versions=1).retrain
    two = decide(later, degraded=True, version="v07", cooldown_versions=2)
    assert not two.retrain
    # A retraining still running (its candidate not evaluated yet) holds the next trigger back too.
    assert "cooldown: v05 retrained 2 versions ago, its candidate not evaluated yet (cooldown 2)" in two.reasons


def test_a_retraining_that_failed_its_gates_starts_a_cooldown_only_when_the_policy_counts_failed_attempts():
    history = [signal("v04", degraded=True, retrained=True), signal("v05", degraded=True, retrained=True)]
    failed = {"v05": FAILED_GATES}

    assert RetrainSettings().cooldown_counts_failed_attempts is False  # the default: the next version retries
    retried = decide(history, degraded=True, ended=failed)
    assert retried.retrain
    assert "cooldown: failed attempts do not count: v05's candidate failed its gates" in retried.reasons

    held = decide(history, degraded=True, ended=failed, cooldown_counts_failed_attempts=True)
    assert held.triggered and not held.retrain
    assert (
        "cooldown: v05 retrained 1 version ago, its candidate failed its gates, and failed attempts count (cooldown 1)"
        in held.reasons
    )

    # A promoted retraining further back within the cooldown still counts, after the failed one is passed over.
    older = decide(history, degraded=True, ended={**failed, "v04": PROMOTED}, cooldown_versions=2)
    assert not older.retrain
    assert older.reasons[-2:] == (
        "cooldown: failed attempts do not count: v05's candidate failed its gates",
        "cooldown: v04 retrained 2 versions ago, promoted (cooldown 2)",
    )
    # The daily cap counts every attempt, failed or not: failing retrainings never storm.
    capped = decide(history, degraded=True, ended=failed, max_retrains_per_day=2, now=history[-1].at + 60)
    assert not capped.retrain
    assert "cap: 2 retraining(s) in the 24 h before now (max 2 per day)" in capped.reasons


def test_the_daily_cap_holds_back_once_reached():
    recent = [signal(f"v{i}", degraded=True, retrained=True, at=NOW - 3600 * (i + 1)) for i in range(3)]
    capped = decide(recent, degraded=True, cooldown_versions=0, max_retrains_per_day=3)
    assert capped.triggered and not capped.retrain
    assert "cap: 3 retraining(s) in the 24 h before now (max 3 per day)" in capped.reasons
    assert decide(recent, degraded=True, cooldown_versions=0, max_retrains_per_day=4).retrain
    # Retrainings older than 24 hours do not count.
    old = [signal(f"v{i}", retrained=True, at=NOW - ONE_DAY - 60 * (i + 1)) for i in range(3)]
    assert decide(old, degraded=True, cooldown_versions=0, max_retrains_per_day=3).retrain


def test_a_rerun_of_a_version_that_already_retrained_does_not_retrain_again():
    history = [signal("v06", degraded=True, retrained=True)]
    rerun = decide(history, degraded=True, cooldown_versions=0)
    assert rerun.triggered and not rerun.retrain
    assert "held back: v06 already requested a retraining" in rerun.reasons


def test_is_degraded_for_an_error_metric_and_a_score():
    degraded, change = is_degraded("rmse", False, realized=120.0, evaluated=100.0, margin=0.15)
    assert degraded and change == pytest.approx(0.2)
    assert is_degraded("rmse", False, realized=110.0, evaluated=100.0, margin=0.15) == (False, pytest.approx(0.1))
    assert not is_degraded("rmse", False, realized=60.0, evaluated=100.0, margin=0.15)[0]  # better
    degraded, change = is_degraded("r2", True, realized=0.6, evaluated=0.8, margin=0.15)
    assert degraded and change == pytest.approx(-0.25)
    assert not is_degraded("r2", True, realized=0.9, evaluated=0.8, margin=0.15)[0]
    with pytest.raises(ValueError, match="roc_auc"):
        is_degraded("roc_auc", True, realized=float("nan"), evaluated=0.8, margin=0.15)


@pytest.mark.slow
def test_with_real_runs_a_retraining_that_failed_its_gates_does_not_hold_back_the_next_degraded_version(
    tmp_path, instance, versions, keys
):
    """The real sensors and runs on the test model's data: a champion trained on the first version, then every
    version degrades (a margin of -1) and every candidate fails its gates (an R² or ROC AUC above 1 cannot be
    reached)."""
    import dagster as dg

    from mlops_assets.definitions import build_definitions
    from mlops_assets.infra.alerts import Notifier
    from mlops_assets.settings import GateSettings
    from mlops_assets.wiring.records import latest_metadata
    from mlops_assets.wiring.sensor_driver import SensorDriver, run_until_quiet
    from mlops_assets.wiring.sensors.alerts import failed_only_on_gates
    from mlops_assets.wiring.sensors.retraining import recorded_decisions, retraining_decisions, retraining_outcome
    from tests.conftest import land, make_project

    sensors = [f"{MODEL.dataset.name}_version_sensor", f"{MODEL.name}_retraining_sensor"]
    cursors = tmp_path / "cursors.json"

    def run(project, key: str) -> list[tuple[str, str]]:
        land(project.settings, versions, key)
        defs = build_definitions(models=[project.settings], mlflow_tracking=project.tracking, notifier=Notifier())
        outcomes = run_until_quiet(SensorDriver(defs, instance, cursors), sensors)
        for outcome in outcomes:
            assert outcome["status"] == "success" or failed_only_on_gates(instance, outcome["run_id"]), outcome
        return [(outcome["run_key"], outcome["status"]) for outcome in outcomes]

    run(make_project(tmp_path), keys[0])
    failing = make_project(
        tmp_path,
        retrain=RetrainSettings(degradation_margin=-1.0),
        gates=GateSettings(min_r2=1.01, min_roc_auc=1.01),
    )
    model = failing.settings
    first, second = keys[1], keys[2]
    assert run(failing, first)[-1] == (f"retrain:{model.name}:{first}", "failure")
    assert retraining_outcome(instance, model, first) == FAILED_GATES

    assert run(failing, second)[-1] == (f"retrain:{model.name}:{second}", "failure"), "the default retries"
    decision = latest_metadata(instance, model.key("retraining_decision"), second)
    assert decision["retrain"] is True
    assert f"cooldown: failed attempts do not count: {first}'s candidate failed its gates" in decision["reasons"]

    # The other policy, on the same instance and monitoring result: the failed attempt starts the cooldown.
    [monitored] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=model.key("model_monitoring"), asset_partitions=[second]), limit=1
    ).records
    recorded = recorded_decisions(instance, model)["history"]
    history = [MonitoringSignal(**s) for s in recorded if s["version"] != second]
    counting = model.model_copy(
        update={"retrain": RetrainSettings(degradation_margin=-1.0, cooldown_counts_failed_attempts=True)}
    )
    [event], requests = retraining_decisions(
        counting, [monitored], history, outcome=lambda key: retraining_outcome(instance, model, key)
    )
    assert requests == [] and event.metadata["retrain"].value is False
    assert (
        f"cooldown: {first} retrained 1 version ago, its candidate failed its gates, and failed attempts count"
        in event.metadata["reasons"].value
    )


# --- plots -----------------------------------------------------------------------------------------------------


def test_plot_feature_drift_returns_a_png():
    png = plot_feature_drift(drift_table(["ok", "warn", "alert"], [0.01, 0.15, 0.7]), WARN, ALERT)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    # A new category can push PSI to ~20: the axis switches to a symmetric log scale, still a PNG.
    wide = plot_feature_drift(drift_table(["ok", "alert"], [0.01, 18.4]), WARN, ALERT)
    assert wide.startswith(PNG_SIGNATURE) and wide != png


def test_plot_metric_over_versions_returns_a_png_with_and_without_evaluated_values():
    history = pd.DataFrame({"version": ["v01", "v02", "v03"], "metric": [40.0, 55.0, 90.0], "metric_name": "rmse"})
    plain = plot_metric_over_versions(history)
    with_evaluated = plot_metric_over_versions(history.assign(evaluated=[38.0, 38.0, 52.0]))
    assert plain.startswith(PNG_SIGNATURE) and with_evaluated.startswith(PNG_SIGNATURE)
    assert plain != with_evaluated
    assert plot_metric_over_versions(history.iloc[:0]).startswith(PNG_SIGNATURE)


def test_a_too_few_rows_result_does_not_vote_alerts_nothing_and_survives_the_instance_round_trip():
    result = MonitoringResult(TOO_FEW_ROWS, "3", 1, "rmse", note="1 row(s) of x the champion never saw; ...")

    assert not result.votes
    assert result.drift_alert("x") is None
    assert result.evidence(0.15) == f"{TOO_FEW_ROWS}: {result.note}"
    assert MonitoringResult.from_metadata(result.to_metadata()) == result
