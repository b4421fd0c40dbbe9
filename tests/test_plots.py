"""Plots (stages/plots.py): every plot is a PNG, drawn without pyplot, also when a curve is undefined."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.config import ProjectSettings
from mlops_assets.stages import plots
from mlops_assets.stages.evaluation import evaluation_plots
from tests.test_metrics import _classification_data, _regression_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_regression_plots_are_pngs_and_leave_no_pyplot_figure():
    import matplotlib.pyplot as plt

    y, pred = _regression_data(n=240)
    rows = pd.DataFrame({"hour": np.arange(240) % 24})
    drawn = evaluation_plots(rows, y, pred, ProjectSettings(task="regression", error_plot_column="hour"))
    assert set(drawn) == {"predicted_vs_actual.png", "error_by_hour.png"}
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 1000 for png in drawn.values())
    assert set(evaluation_plots(rows, y, pred, ProjectSettings(task="regression", error_plot_column=None))) == {
        "predicted_vs_actual.png"
    }
    assert plt.get_fignums() == []


def test_classification_plots_are_pngs_even_for_a_single_class_holdout():
    import matplotlib.pyplot as plt

    y, proba = _classification_data(n=200)
    rows = pd.DataFrame({"x": np.arange(200)})
    settings = ProjectSettings(task="classification", positive_label="yes")
    drawn = evaluation_plots(rows, y, proba, settings)
    assert set(drawn) == {"roc_curve.png", "precision_recall.png", "confusion_matrix.png"}
    assert all(png.startswith(PNG_SIGNATURE) for png in drawn.values())
    single = evaluation_plots(rows, np.zeros(200, dtype=int), proba, settings)
    assert all(png.startswith(PNG_SIGNATURE) for png in single.values())
    assert plt.get_fignums() == []


def test_plots_render_as_inline_markdown_images():
    drawn = {"feature_drift.png": plots.plot_error_by_column([1, 2, 2], [1.0, 2.0, 3.0], [1.5, 2.0, 2.0], "x")}
    markdown = plots.as_markdown(drawn)
    assert markdown.startswith("**feature drift**\n\n![feature_drift.png](data:image/png;base64,iVBORw0KGgo")
