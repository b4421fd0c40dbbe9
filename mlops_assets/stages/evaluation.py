"""Evaluation: the candidate, the champion and a naive baseline scored on the same holdout rows, and the gates.

`evaluate` decides what is compared with what: the champion is scored only on holdout rows it never trained on
(`splitting.unseen_rows`), and when there are none, or there is no champion, the champion gates say exactly why
they did not compare. The result (`Evaluation`) is the `model_evaluation` asset's value: deployment reads the gates'
verdict and the champion version the candidate was compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_assets.stages import plots
from mlops_assets.stages.gates import NO_CHAMPION, PRIMARY_METRIC, GateResult, evaluate_gates
from mlops_assets.stages.metrics import baseline_predictions, paired_bootstrap_difference, slice_metrics, task_metrics
from mlops_assets.stages.splitting import Split, unseen_rows

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings
    from mlops_assets.stages.registry import Champion
    from mlops_assets.stages.training import Candidate


@dataclass
class Evaluation:
    """Candidate, champion and baseline scored on one holdout, with the gates' verdicts and the plots."""

    task: str
    holdout_rows: int
    metrics: dict[str, dict[str, float]]
    bootstrap: dict[str, Any] | None
    slices: pd.DataFrame
    gates: list[GateResult]
    candidate_run_id: str = ""
    dagster_run_id: str = ""  # the run that evaluated
    champion_version: str | None = None  # the champion when the candidate was evaluated, compared or not
    comparison: str = ""  # how the champion was compared, or why it was not
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def failed_gates(self) -> list[str]:
        return [gate.name for gate in self.gates if not gate.passed]

    @property
    def primary_metric(self) -> str:
        return PRIMARY_METRIC[self.task][0]

    def to_metadata(self, run_link, artifact_link=None) -> dict:
        """`artifact_link(path)`: an artifact of the run in the MLflow UI; the plots then link to it."""
        import dagster as dg

        metric = self.primary_metric
        scores = {f"{model}_{metric}": round(values[metric], 4) for model, values in self.metrics.items()}
        return {
            **scores,
            "champion_version": self.champion_version or "none",
            "champion_comparison": self.comparison,
            "holdout_rows": self.holdout_rows,
            "metrics": dg.MetadataValue.md(pd.DataFrame(self.metrics).T.round(4).to_markdown()),
            "slice_metrics": dg.MetadataValue.md(self.slices.round(3).to_markdown(index=False)),
            **plots.plot_metadata(self.plots, artifact_link),
            "mlflow_run": run_link,
            "gates_passed": self.passed,
            "failed_gates": ", ".join(self.failed_gates) or "none",
        }

    def log_to_mlflow(self) -> None:
        """Metrics per model, the slice table, the gates and the plots, into the active MLflow run."""
        import mlflow

        for model, values in self.metrics.items():
            mlflow.log_metrics({f"{model}_{k}": v for k, v in values.items() if v == v})  # NaN is not logged
        mlflow.log_table(self.slices, artifact_file="slice_metrics.json")
        mlflow.log_dict({g.name: {"passed": g.passed, **g.metadata} for g in self.gates}, "gates.json")
        plots.log_to_mlflow(self.plots, "plots")
        mlflow.set_tags({"gates_passed": str(self.passed), "candidate_run_id": self.candidate_run_id})


def champion_comparison(
    holdout: pd.DataFrame, champion: Champion | None, candidate: Candidate, settings: ModelSettings
) -> tuple[pd.DataFrame, Champion | None, str]:
    """(rows to score everything on, the champion to compare or None, a sentence saying how or why not)."""
    if champion is None:
        return holdout, None, NO_CHAMPION
    if champion.run_id == candidate.run_id:
        return holdout, None, f"The candidate is already champion version {champion.version}: nothing else to compare."
    unseen = unseen_rows(holdout, champion, settings)
    if unseen.empty:
        return (
            holdout,
            None,
            f"Champion version {champion.version} trained on every holdout row: not compared; deployment will not "
            "replace it with a model trained on older data.",
        )
    return unseen, champion, f"Compared with champion version {champion.version} on {len(unseen)} rows it never saw."


def evaluate(
    split: Split, candidate: Candidate, champion: Champion | None, settings: ModelSettings, tracking, run_id: str
) -> Evaluation:
    """Load the candidate (and the champion when it can be compared) from MLflow and score them on the holdout.

    `run_id` is the Dagster run that evaluates: deployment tells a race between runs from a stale evaluation by it.
    """
    import mlflow

    from mlops_assets.stages.training import predict

    holdout, compared, comparison = champion_comparison(split.holdout, champion, candidate, settings)
    rows = holdout[settings.input_columns]
    tracking.activate()  # models:/ URIs resolve through the process-wide tracking URI
    candidate_predictions = predict(mlflow.sklearn.load_model(candidate.model_uri), rows, settings.task)
    champion_predictions = None
    if compared is not None:
        champion_predictions = predict(mlflow.sklearn.load_model(compared.model_uri), rows, settings.task)
    evaluation = compare(split.train, holdout, candidate_predictions, champion_predictions, settings, comparison)
    evaluation.candidate_run_id = candidate.run_id
    evaluation.dagster_run_id = run_id
    evaluation.champion_version = champion.version if champion else None
    return evaluation


def compare(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    candidate_predictions: Any,
    champion_predictions: Any | None,
    settings: ModelSettings,
    comparison: str = NO_CHAMPION,
) -> Evaluation:
    """Score candidate, champion (when given) and the naive baseline on the same holdout rows, and gate."""
    task, gates = settings.task, settings.gates
    y = settings.target_of(holdout)
    y_train = settings.target_of(train)
    predictions = {
        "candidate": np.asarray(candidate_predictions, dtype=float),
        "baseline": baseline_predictions(train, y_train, holdout, settings.baseline_group_columns, task),
    }
    bootstrap = None
    if champion_predictions is not None:
        predictions["champion"] = np.asarray(champion_predictions, dtype=float)
        bootstrap = paired_bootstrap_difference(
            task, y, predictions["candidate"], predictions["champion"], gates.bootstrap_samples, settings.seed
        )
    threshold = gates.decision_threshold
    metrics = {name: task_metrics(task, y, pred, threshold) for name, pred in predictions.items()}
    slices = slice_metrics(holdout, y, predictions, settings.slice_columns, task, threshold)
    return Evaluation(
        task=task,
        holdout_rows=len(holdout),
        metrics=metrics,
        bootstrap=bootstrap,
        slices=slices,
        gates=evaluate_gates(task, metrics, bootstrap, slices, gates, comparison),
        comparison=comparison,
        plots=evaluation_plots(holdout, y, predictions["candidate"], settings),
    )


def evaluation_plots(holdout: pd.DataFrame, y: np.ndarray, prediction: np.ndarray, settings: ModelSettings) -> dict:
    """The candidate's plots on the holdout, keyed by file name."""
    if settings.task == "regression":
        drawn = {"predicted_vs_actual.png": plots.plot_predicted_vs_actual(y, prediction)}
        column = settings.error_plot_column
        if column is not None:
            drawn[f"error_by_{column}.png"] = plots.plot_error_by_column(holdout[column], y, prediction, column)
        return drawn
    labels = settings.label_names()
    return {
        "roc_curve.png": plots.plot_roc_curve(y, prediction),
        "precision_recall.png": plots.plot_precision_recall(y, prediction),
        "confusion_matrix.png": plots.plot_confusion_matrix(y, prediction, settings.gates.decision_threshold, labels),
    }
