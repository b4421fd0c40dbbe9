"""Monitoring: the champion on rows of a new version it never trained on — its realized metric and the drift.

`monitor` returns a `Monitoring`: the typed `MonitoringResult` that the retraining sensor, the history plot and the
main job's table read back from the Dagster instance (`to_metadata` / `from_metadata`, one set of keys), plus the
drift table and plots for the UI. A version without rows the champion never saw is a recorded outcome ("nothing to
monitor"), not an error; so is one with fewer such rows than `monitoring.min_rows` ("too few rows"): a drift share
or a metric on a handful of rows is noise, and neither votes for retraining.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_assets.stages import plots
from mlops_assets.stages.drift import drift_summary, feature_drift
from mlops_assets.stages.gates import PRIMARY_METRIC
from mlops_assets.stages.metrics import task_metrics
from mlops_assets.stages.splitting import unseen_rows

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings
    from mlops_assets.stages.registry import Champion

MONITORED = "monitored"
NOTHING_TO_MONITOR = "nothing to monitor"
TOO_FEW_ROWS = "too few rows"


@dataclass(frozen=True)
class MonitoringResult:
    """What monitoring saw for one version: the numbers the retraining policy and the reports need."""

    status: str  # MONITORED, NOTHING_TO_MONITOR or TOO_FEW_ROWS
    champion_version: str
    rows: int
    metric: str
    realized: float | None = None  # the champion's primary metric on the rows it never saw
    evaluated: float | None = None  # the same metric on its own holdout, when it was promoted
    relative_change: float | None = None  # (realized - evaluated) / |evaluated|
    degraded: bool = False
    drifted_share: float | None = None
    dataset_drift: bool = False
    drifted_features: tuple[str, ...] = ()
    prediction_psi: float | None = None
    note: str = ""

    @property
    def votes(self) -> bool:
        """Whether this result takes part in the retraining policy (a version with nothing to judge does not)."""
        return self.status == MONITORED

    def evidence(self, degradation_margin: float) -> str:
        """One line for the retraining decision: what was seen."""
        if not self.votes:
            return f"{self.status}: {self.note}"
        realized = f"{self.metric} {_fmt(self.realized)} on {self.rows} new rows"
        if self.evaluated is None:
            compared = " (no evaluated value to compare with)"
        else:
            compared = (
                f" against {_fmt(self.evaluated)} evaluated ({self.relative_change:+.0%}, "
                f"margin {degradation_margin:.0%})"
            )
        return f"{realized}{compared}; {self.drifted_share:.0%} of features drifted"

    def drift_alert(self, version: str) -> tuple[str, str] | None:
        """(title, text) of the alert to send when the dataset drifted, else None."""
        if not self.dataset_drift:
            return None
        return (
            f"Dataset drift in {version}",
            f"{self.drifted_share:.0%} of the features drifted: {', '.join(self.drifted_features)} "
            f"(champion version {self.champion_version})",
        )

    def to_metadata(self) -> dict[str, Any]:
        import dagster as dg

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["drifted_features"] = dg.MetadataValue.json(list(self.drifted_features))
        for name in ("realized", "evaluated", "relative_change", "drifted_share", "prediction_psi"):
            if values[name] is not None:
                values[name] = round(float(values[name]), 4)
        if not self.note:
            del values["note"]  # only results with nothing to judge say why
        return {_KEYS.get(name, name): value for name, value in values.items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> MonitoringResult:
        """The result recorded by `to_metadata` (metadata values or plain values)."""
        plain = {key: getattr(value, "value", value) for key, value in metadata.items()}
        values = {name: plain.get(_KEYS.get(name, name)) for name in (f.name for f in fields(cls))}
        values["drifted_features"] = tuple(values["drifted_features"] or ())
        values["degraded"], values["dataset_drift"] = bool(values["degraded"]), bool(values["dataset_drift"])
        values["note"] = values["note"] or ""
        return cls(**values)


# Metadata keys that read better in the UI than the field names.
_KEYS = {
    "rows": "rows_monitored",
    "realized": "realized_metric",
    "evaluated": "evaluated_metric",
}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@dataclass
class Monitoring:
    """A `MonitoringResult` with what the UI and MLflow show besides: every metric, the drift table, the plots."""

    result: MonitoringResult
    realized_metrics: dict[str, float] = field(default_factory=dict)
    drift: pd.DataFrame | None = None
    plots: dict[str, bytes] = field(default_factory=dict)

    def to_metadata(self, run_link=None, artifact_link=None) -> dict[str, Any]:
        import dagster as dg

        metadata = self.result.to_metadata()
        if self.drift is not None:
            metadata["feature_drift"] = dg.MetadataValue.md(self.drift.round(3).to_markdown(index=False))
        if self.plots:
            metadata.update(plots.plot_metadata(self.plots, artifact_link))
        if run_link is not None:
            metadata["mlflow_run"] = run_link
        return metadata

    def log_to_mlflow(self) -> None:
        import mlflow

        mlflow.log_metrics({f"realized_{k}": v for k, v in self.realized_metrics.items() if v == v})
        if self.result.votes:
            mlflow.log_metrics(
                {"drifted_share": self.result.drifted_share, "relative_change": self.result.relative_change or 0.0}
            )
            mlflow.log_table(self.drift, artifact_file="feature_drift.json")
        plots.log_to_mlflow(self.plots, "plots")
        mlflow.set_tag("monitoring_status", self.result.status)


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


def monitor(
    version: str,
    raw: pd.DataFrame,
    champion: Champion | None,
    settings: ModelSettings,
    history: list[tuple[str, MonitoringResult]],
    tracking,
) -> Monitoring:
    """The champion on the rows of `raw` it never trained on; `history`: earlier versions' results (for a plot)."""
    import mlflow

    from mlops_assets.stages.training import predict

    metric = PRIMARY_METRIC[settings.task][0]
    if champion is None:
        note = f"no {settings.model_name}@champion yet: train and deploy a first model"
        return Monitoring(MonitoringResult(NOTHING_TO_MONITOR, "none", 0, metric, note=note))
    new_rows = unseen_rows(raw, champion, settings)
    if new_rows.empty:
        note = f"every row of {version} was in champion version {champion.version}'s training"
        return Monitoring(MonitoringResult(NOTHING_TO_MONITOR, champion.version, 0, metric, note=note))
    minimum = settings.monitoring.min_rows
    if len(new_rows) < minimum:
        note = (
            f"{len(new_rows)} row(s) of {version} the champion never saw; drift and the realized metric are judged "
            f"on at least {minimum} (monitoring.min_rows)"
        )
        return Monitoring(MonitoringResult(TOO_FEW_ROWS, champion.version, len(new_rows), metric, note=note))
    tracking.activate()  # models:/ and runs:/ URIs resolve through the process-wide tracking URI
    predictions = predict(
        mlflow.sklearn.load_model(champion.model_uri), new_rows[settings.input_columns], settings.task
    )
    profile = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/reference_profile.json")
    return judge(version, new_rows, predictions, profile, champion, settings, history)


def judge(
    version: str,
    new_rows: pd.DataFrame,
    predictions: np.ndarray,
    profile: dict,
    champion: Champion,
    settings: ModelSettings,
    history: list[tuple[str, MonitoringResult]],
) -> Monitoring:
    """Realized metric against the evaluated one, drift against the reference profile, and the plots."""
    metric, higher_is_better = PRIMARY_METRIC[settings.task]
    y = settings.target_of(new_rows)
    realized = task_metrics(settings.task, y, predictions, settings.gates.decision_threshold)
    evaluated = champion.evaluated_metric(settings.task)
    degraded, change = False, None
    if evaluated is not None:
        degraded, change = is_degraded(
            metric, higher_is_better, realized[metric], evaluated, settings.retrain.degradation_margin
        )
    drift_settings = settings.drift
    drift = feature_drift(profile, new_rows, predictions, drift_settings.psi_warn, drift_settings.psi_alert)
    summary = drift_summary(drift, drift_settings.dataset_drift_share)
    result = MonitoringResult(
        status=MONITORED,
        champion_version=champion.version,
        rows=len(new_rows),
        metric=metric,
        realized=realized[metric],
        evaluated=evaluated,
        relative_change=change,
        degraded=degraded,
        drifted_share=summary["drifted_share"],
        dataset_drift=summary["dataset_drift"],
        drifted_features=tuple(summary["drifted_features"]),
        prediction_psi=summary["prediction_psi"],
    )
    over_versions = [(key, past) for key, past in history if past.votes] + [(version, result)]
    return Monitoring(
        result=result,
        realized_metrics=realized,
        drift=drift,
        plots={
            "feature_drift.png": plots.plot_feature_drift(drift, drift_settings.psi_warn, drift_settings.psi_alert),
            "champion_metric_over_versions.png": plots.plot_metric_over_versions(
                pd.DataFrame(
                    [(key, r.realized, r.metric, r.evaluated) for key, r in over_versions],
                    columns=["version", "metric", "metric_name", "evaluated"],
                )
            ),
        },
    )
