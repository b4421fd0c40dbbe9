"""What a user sees in the Dagster UI for the demo, written down by hand (not read from the code under test).

Renaming a gate, moving an asset to another group or dropping a plot changes what users see (and what the README
and the screenshots in docs/ say): these tests then fail until this file is updated with them.
"""

# The asset graph: each group and the assets drawn inside it (README, "The asset graph").
GROUPS = {
    "ingestion": ["raw_dataset"],
    "features": ["feature_table", "dataset_split"],
    "training": ["candidate_model"],
    "evaluation": ["model_evaluation"],
    "deployment": ["deployed_model", "batch_predictions"],
    "monitoring": ["model_monitoring", "retraining_decision"],
}

# The promotion gates: model_evaluation's four blocking checks.
GATES = ["absolute_thresholds", "beats_baseline", "not_worse_than_champion", "no_slice_worse_than_champion"]

# The images of the `plots` metadata (regression task; the demo plots the error per hour, config.error_plot_column).
EVALUATION_PLOTS = ["predicted_vs_actual.png", "error_by_hr.png"]
MONITORING_PLOTS = ["feature_drift.png", "champion_metric_over_versions.png"]
