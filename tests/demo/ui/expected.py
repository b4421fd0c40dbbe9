"""What a user sees in the Dagster UI for the demo, written down by hand (not read from the code under test).

Renaming a gate, moving an asset to another group or dropping a plot changes what users see (and what the README
and the screenshots in docs/ say): these tests then fail until this file is updated with them.
"""

# The demo's dataset and its two models (defs/bikeshare, defs/bike_rentals, defs/busy_hours).
DATASET = "bikeshare"
MODELS = ["bike_rentals", "busy_hours"]

# What each model has of its own, keyed <model>/<asset>, in the pipeline's order.
MODEL_ASSETS = [
    "feature_table",
    "dataset_split",
    "candidate_model",
    "model_evaluation",
    "deployed_model",
    "batch_predictions",
    "model_monitoring",
    "retraining_decision",
]

# The asset graph: each group and the assets drawn inside it (README, "The asset graph"). The dataset's group holds
# its ingestion (bikeshare/raw_dataset), each model's group that model's assets.
GROUPS = {DATASET: ["raw_dataset"], **{model: MODEL_ASSETS for model in MODELS}}

# The sensors: one per dataset for its new versions, one per model for its retraining decisions.
VERSION_SENSOR = f"{DATASET}_version_sensor"
RETRAINING_SENSORS = {model: f"{model}_retraining_sensor" for model in MODELS}

# The promotion gates: each model_evaluation's four blocking checks.
GATES = ["absolute_thresholds", "beats_baseline", "not_worse_than_champion", "no_slice_worse_than_champion"]

# The images of each model's `plots` metadata: a regression plots its error per hour (its error_plot_column), a
# classification its ROC and precision-recall curves and its confusion matrix.
EVALUATION_PLOTS = {
    "bike_rentals": ["predicted_vs_actual.png", "error_by_hr.png"],
    "busy_hours": ["roc_curve.png", "precision_recall.png", "confusion_matrix.png"],
}
MONITORING_PLOTS = ["feature_drift.png", "champion_metric_over_versions.png"]
