"""The demo's seasonal drift: a profile of January's hours sees summer drift, and none in January itself (moved from
tests/test_monitoring.py, whose tests use synthetic columns and the configured data set)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_assets.settings import DriftSettings
from mlops_assets.stages.drift import build_reference_profile, feature_drift

DEMO_CSV = Path(__file__).resolve().parents[2] / "data" / "bikeshare_2011.csv"
WARN, ALERT = DriftSettings().psi_warn, DriftSettings().psi_alert


def test_demo_data_january_model_sees_july_drift_but_not_january():
    demo = pd.read_csv(DEMO_CSV)
    columns = ["season", "hr", "workingday", "weathersit", "temp", "hum", "windspeed"]
    january, july = demo[demo["mnth"] == "Jan"], demo[demo["mnth"] == "July"]
    profile = build_reference_profile(january[columns], january["bikers"].to_numpy(float), ["season", "weathersit"])

    same = feature_drift(profile, january[columns], january["bikers"].to_numpy(float), WARN, ALERT)
    summer = feature_drift(profile, july[columns], july["bikers"].to_numpy(float), WARN, ALERT)
    assert not same["drifted"].any()
    drifted = set(summer.loc[summer["drifted"], "feature"])
    assert {"season", "temp", "prediction"} <= drifted
    assert "hr" not in drifted  # every month has the same 24 hours
