"""Every plot of the project, drawn the same way: a matplotlib Figure on the Agg canvas, returned as PNG bytes.

Figures are made without pyplot (no global backend switch in the caller's process, no figure registry to leak into,
safe in threads). The evaluation plots are scikit-learn's displays (PredictionErrorDisplay, RocCurveDisplay,
PrecisionRecallDisplay, ConfusionMatrixDisplay) drawn onto those figures. matplotlib and scikit-learn are imported
inside the functions.
"""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STATUS_COLOURS = {"ok": "#4c9a2a", "warn": "#e0a000", "alert": "#c0392b"}


def _figure(width: float, height: float) -> tuple[Any, Any]:
    """A Figure with one Axes, on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Any, dpi: int = 100) -> bytes:
    """The figure as a PNG of at most 64 colours: plots are flat colours, and a palette makes them about 3x smaller
    (they are MLflow artifacts, and inline in Dagster's metadata when no MLflow link is given)."""
    from PIL import Image

    drawn = io.BytesIO()
    fig.savefig(drawn, format="png", dpi=dpi, bbox_inches="tight")
    palette = Image.open(drawn).convert("RGB").quantize(colors=64)
    compact = io.BytesIO()
    palette.save(compact, format="PNG", optimize=True)
    return compact.getvalue()


def as_markdown(plots: dict[str, bytes], links: dict[str, str] | None = None) -> str:
    """Plots as Markdown images with data URIs, which the Dagster UI renders inline in an asset's metadata.

    With `links` (file name -> the plot in MLflow's artifact view) each image links to its MLflow artifact. The
    image itself stays inline at full size: as a 64-colour palette PNG it is 5-9 KB, and a thumbnail small enough
    to matter (160 px) could not be read in the UI.
    """
    shown = []
    for name, png in plots.items():
        title = f"**{name.removesuffix('.png').replace('_', ' ')}**"
        link = (links or {}).get(name)
        image = f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"
        shown.append(f"{title}\n\n[{image}]({link})" if link else f"{title}\n\n{image}")
    return "\n\n".join(shown)


def plot_metadata(plots: dict[str, bytes], artifact_link=None, folder: str = "plots") -> dict[str, Any]:
    """Dagster metadata of the plots logged under `folder` of the run: the plots, each linking to its artifact, and a
    link to the folder when `artifact_link(path)` gives MLflow UI links; the full PNGs inline when it does not."""
    import dagster as dg

    if artifact_link is None:
        return {"plots": dg.MetadataValue.md(as_markdown(plots))}
    links = {name: artifact_link(f"{folder}/{name}") for name in plots}
    return {
        "plots": dg.MetadataValue.md(as_markdown(plots, links)),
        "plots_in_mlflow": dg.MetadataValue.url(artifact_link(folder)),
    }


def log_to_mlflow(plots: dict[str, bytes], artifact_dir: str) -> None:
    """The PNGs as artifacts of the active MLflow run, under `artifact_dir`."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        for name, png in plots.items():
            Path(folder, name).write_bytes(png)
        mlflow.log_artifacts(folder, artifact_path=artifact_dir)


# --- evaluation ----------------------------------------------------------------------------------------------------


def plot_predicted_vs_actual(y_true: Any, y_pred: Any) -> bytes:
    """Predicted against actual, with the diagonal a perfect model would sit on."""
    from sklearn.metrics import PredictionErrorDisplay

    fig, ax = _figure(5.0, 4.0)
    PredictionErrorDisplay.from_predictions(
        np.asarray(y_true, dtype=float),
        np.asarray(y_pred, dtype=float),
        kind="actual_vs_predicted",
        subsample=None,
        ax=ax,
        scatter_kwargs={"s": 6, "alpha": 0.4, "rasterized": True},
    )
    ax.set_title("Predicted vs actual (holdout)")
    return _png(fig)


def plot_error_by_column(values: Any, y_true: Any, y_pred: Any, column: str) -> bytes:
    """Mean absolute error per value of `column` (an hour of day, a weekday, a category), in the values' order."""
    error = pd.Series(np.abs(np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)))
    mae = error.groupby(np.asarray(values).ravel()).mean().sort_index()
    fig, ax = _figure(6.0, 3.5)
    ax.bar([str(v) for v in mae.index], mae.to_numpy(), color="tab:blue")
    if len(mae) > 12:
        ax.tick_params(axis="x", labelrotation=90, labelsize="small")
    ax.set_xlabel(column)
    ax.set_ylabel("mean absolute error")
    ax.set_title(f"Error by {column} (holdout)")
    return _png(fig)


def plot_roc_curve(y_true: Any, proba: Any) -> bytes:
    """ROC curve with its AUC, against the chance diagonal."""
    from sklearn.metrics import RocCurveDisplay

    return _curve(RocCurveDisplay, y_true, proba, "ROC curve (holdout)")


def plot_precision_recall(y_true: Any, proba: Any) -> bytes:
    """Precision-recall curve with its average precision, against the positive rate (a random model)."""
    from sklearn.metrics import PrecisionRecallDisplay

    return _curve(PrecisionRecallDisplay, y_true, proba, "Precision-recall (holdout)")


def _curve(display, y_true: Any, proba: Any, title: str) -> bytes:
    """A scikit-learn curve display of the candidate with its chance level; a note when the holdout has one class."""
    fig, ax = _figure(5.0, 4.0)
    if len(np.unique(y_true)) < 2:
        ax.text(0.5, 0.5, "undefined: the holdout has a single class", ha="center", va="center", transform=ax.transAxes)
    else:
        display.from_predictions(y_true, proba, ax=ax, plot_chance_level=True, name="candidate")
    ax.set_title(title)
    return _png(fig)


def plot_confusion_matrix(y_true: Any, proba: Any, threshold: float, labels: tuple[str, str]) -> bytes:
    """Counts of actual against predicted class at the decision threshold; `labels` names (negative, positive)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    predicted = (np.asarray(proba, dtype=float) >= threshold).astype(int)
    fig, ax = _figure(4.5, 3.5)
    ConfusionMatrixDisplay.from_predictions(
        y_true, predicted, labels=[0, 1], display_labels=list(labels), ax=ax, colorbar=False, cmap="Blues"
    )
    ax.set_title(f"Confusion matrix (threshold {threshold:g})")
    return _png(fig)


# --- monitoring ----------------------------------------------------------------------------------------------------


def plot_feature_drift(drift: pd.DataFrame, psi_warn: float, psi_alert: float) -> bytes:
    """PNG: PSI per feature and for the prediction, bars coloured by status, the thresholds as lines."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = _figure(6.5, max(2.5, 0.3 * len(drift) + 1.2))
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
    fig, ax = _figure(6.5, 3.5)
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
