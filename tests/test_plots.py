"""Plots (stages/plots.py): every plot is a PNG, drawn without pyplot, also when a curve is undefined; in Dagster's
metadata each plot links to its copy, an artifact of the step's MLflow run."""

from __future__ import annotations

import base64
import re

import dagster as dg
import numpy as np
import pandas as pd

from mlops_assets.stages import plots
from mlops_assets.stages.evaluation import evaluation_plots
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from tests.conftest import land, make_project, model_settings, run_assets
from tests.test_metrics import _classification_data, _regression_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_regression_plots_are_pngs_and_leave_no_pyplot_figure():
    import matplotlib.pyplot as plt

    y, pred = _regression_data(n=240)
    rows = pd.DataFrame({"hour": np.arange(240) % 24})
    drawn = evaluation_plots(rows, y, pred, model_settings(task="regression", error_plot_column="hour"))
    assert set(drawn) == {"predicted_vs_actual.png", "error_by_hour.png"}
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 1000 for png in drawn.values())
    assert set(evaluation_plots(rows, y, pred, model_settings(task="regression", error_plot_column=None))) == {
        "predicted_vs_actual.png"
    }
    assert plt.get_fignums() == []


def test_classification_plots_are_pngs_even_for_a_single_class_holdout():
    import matplotlib.pyplot as plt

    y, proba = _classification_data(n=200)
    rows = pd.DataFrame({"x": np.arange(200)})
    settings = model_settings(task="classification", positive_label="yes", positive_at_least=None)
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


def test_with_mlflow_links_each_plot_links_to_its_artifact():
    drawn = {"error_by_x.png": plots.plot_error_by_column(np.arange(240) % 24, np.arange(240.0), np.zeros(240), "x")}
    link = "http://mlflow.example/#/experiments/1/runs/abc/artifacts/plots/error_by_x.png"
    markdown = plots.as_markdown(drawn, {"error_by_x.png": link})
    inline = markdown.split("](data:image/png;base64,")[1].split(")")[0]
    assert markdown.startswith("**error by x**\n\n[![error_by_x.png](data:image/png;base64,iVBORw0KGgo")
    assert markdown.endswith(f")]({link})")
    assert base64.b64decode(inline) == drawn["error_by_x.png"]  # full size: readable in the UI

    metadata = plots.plot_metadata(drawn, lambda path: f"http://mlflow.example/artifacts/{path}")
    assert metadata["plots_in_mlflow"] == dg.MetadataValue.url("http://mlflow.example/artifacts/plots")
    assert "(http://mlflow.example/artifacts/plots/error_by_x.png)" in metadata["plots"].value
    assert set(plots.plot_metadata(drawn)) == {"plots"}  # without MLflow links: the full PNGs inline


def test_evaluation_and_monitoring_events_link_to_plots_the_mlflow_run_holds(tmp_path, instance, versions):
    project = make_project(tmp_path)
    first, second = list(versions)[:2]
    land(project.settings, versions, first, second)
    settings = project.settings
    instance.add_dynamic_partitions(settings.dataset.partitions_name, [first, second])
    assert run_assets(project, instance, first, ingestion_selection(settings) + training_selection(settings)).success
    # The first version's model is champion: the second is monitored against it.
    assert run_assets(project, instance, second, [*ingestion_selection(settings), "model_monitoring"]).success

    for asset in ("model_evaluation", "model_monitoring"):
        [record] = instance.fetch_materializations(settings.key(asset), limit=1).records
        metadata = record.asset_materialization.metadata
        run_id = metadata["mlflow_run"].value.split("/runs/")[1].split("?")[0]
        folder = metadata["plots_in_mlflow"].value
        assert folder.startswith(project.tracking.ui_url) and f"/runs/{run_id}/artifacts/plots?" in folder
        logged = {artifact.path for artifact in project.client.list_artifacts(run_id, "plots")}
        linked = set(re.findall(r"/artifacts/(plots/[a-z_]+\.png)", metadata["plots"].value))
        assert linked == logged and len(logged) >= 2, (linked, logged)
        # The event row stays tens of KB, not hundreds: 64-colour PNGs (the demo: 23-31 KB; 30 features drawn in the
        # drift plot of a generated breast-cancer project: 58 KB).
        assert len(dg.serialize_value(record.event_log_entry)) < 100_000
