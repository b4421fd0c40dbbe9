"""The pipeline's software-defined assets: thin wrappers around the stage functions, one asset per stage step.

Each asset is partitioned by dataset version, carries a description, a group, kinds and a code_version, and
reports what a user needs to see in the UI as metadata. The logic lives in the stage modules.

Dagster imports this module whenever it loads the code location (the UI, the daemon, every run), so the stage
modules, and with them pandas, Pandera, scikit-learn and MLflow, are imported inside the assets that use them; the
contracts' columns come from column_schemas.py. Loading the definitions then costs about what an empty project
costs (docs/benchmarks.md, section 2).
"""

import base64
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from mlops_assets.alerts import Notifier
from mlops_assets.column_schemas import column_schema
from mlops_assets.config import ProjectSettings
from mlops_assets.faults import fault_point
from mlops_assets.partitions import dataset_version_partitions
from mlops_assets.resources import MLflowTracking

if TYPE_CHECKING:
    from mlops_assets.ingestion import ContractViolation

# Bump a code_version when the logic behind an asset changes; Dagster then shows its outputs as stale.
INGESTION_CODE_VERSION = "1"
FEATURES_CODE_VERSION = "1"
SPLIT_CODE_VERSION = "1"
TRAINING_CODE_VERSION = "1"
EVALUATION_CODE_VERSION = "1"
DEPLOYMENT_CODE_VERSION = "1"
BATCH_CODE_VERSION = "1"
MONITORING_CODE_VERSION = "1"

# Partitioned check specs are a Dagster 1.13 preview; the project relies on them deliberately (a gate result belongs
# to one dataset version), so that one known warning is silenced.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

# The promotion gates (evaluation.evaluate_gates), run as blocking checks of model_evaluation.
GATE_DESCRIPTIONS = {
    "absolute_thresholds": "The candidate meets the absolute metric thresholds of config.GateSettings.",
    "beats_baseline": "The candidate beats the naive baseline on the primary metric.",
    "not_worse_than_champion": "A paired bootstrap interval shows the candidate no worse than the champion "
    "beyond the margin.",
    "no_slice_worse_than_champion": "No slice (e.g. weather situation, working day) is worse than the champion "
    "beyond the slice margin.",
}


def failure_report(violation: "ContractViolation", limit: int = 50) -> dg.Failure:
    table = violation.failures.head(limit)
    return dg.Failure(
        description=str(violation),
        metadata={
            "failure_cases": len(violation.failures),
            "failed_checks": dg.MetadataValue.json(violation.failed_checks),
            "failure_table": dg.MetadataValue.md(table.to_markdown(index=False)),
        },
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="ingestion",
    kinds={"pandas", "pandera"},
    code_version=INGESTION_CODE_VERSION,
    metadata={"dagster/column_schema": column_schema("RawRentals")},
    description="The rows of one dataset version (every CSV and Parquet file in `data/versions/<key>/`), "
    "validated against the RawRentals contract. Its data_version is the SHA-256 of the files.",
)
def raw_dataset(context: dg.AssetExecutionContext, settings: ProjectSettings) -> dg.MaterializeResult:
    from mlops_assets.ingestion import ContractViolation, read_version

    version_dir = Path(settings.versions_dir) / context.partition_key
    try:
        version = read_version(version_dir)
    except ContractViolation as violation:
        raise failure_report(violation) from None
    return dg.MaterializeResult(
        value=version.frame,
        data_version=dg.DataVersion(version.content_hash),
        metadata={
            "dagster/row_count": len(version.frame),
            "dagster/column_schema": column_schema("RawRentals"),
            "files": dg.MetadataValue.json(version.files),
            "content_hash": version.content_hash,
            "path": dg.MetadataValue.path(str(version_dir)),
        },
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="features",
    kinds={"pandas", "pandera"},
    code_version=FEATURES_CODE_VERSION,
    metadata={"dagster/column_schema": column_schema("RentalFeatures")},
    description="Engineered features of every row (features.make_features, the same code the logged model runs "
    "at serving time), validated against the RentalFeatures contract. The target's parts are never features.",
)
def feature_table(raw_dataset) -> dg.MaterializeResult:
    from mlops_assets.contracts import RentalFeatures
    from mlops_assets.features import make_features

    features = RentalFeatures.validate(make_features(raw_dataset), lazy=True)
    return dg.MaterializeResult(
        value=features,
        metadata={
            "dagster/row_count": len(features),
            "dagster/column_schema": column_schema("RentalFeatures"),
            "preview": dg.MetadataValue.md(features.head(5).round(3).to_markdown()),
        },
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="features",
    kinds={"pandas"},
    code_version=SPLIT_CODE_VERSION,
    description="Deterministic train/holdout split of the version's rows. Time split: the newest rows, and never "
    "rows the current champion trained on; hash split: a stable hash of the row key.",
)
def dataset_split(raw_dataset, settings: ProjectSettings, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    from mlops_assets import deployment
    from mlops_assets.features import row_time
    from mlops_assets.splitting import split_rows

    champion = deployment.current_champion(mlflow_tracking, settings.model_name)
    trained_until = champion.train_until_time if champion else None
    if trained_until is not None and trained_until >= row_time(raw_dataset).max():
        # A champion trained on newer data than this whole version (versions run out of order, or concurrently):
        # it cannot be compared on these rows, and deployment never replaces it with a model of older data.
        trained_until = None
    split = split_rows(
        raw_dataset, settings.split.method, settings.split.holdout_fraction, settings.row_key, trained_until
    )
    metadata = {k: v for k, v in split.metadata.items() if v is not None}
    if champion:
        metadata["champion_version"] = champion.version
    return dg.MaterializeResult(value=split, metadata=metadata)


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="training",
    kinds={"scikit-learn", "mlflow"},
    code_version=TRAINING_CODE_VERSION,
    description="The tuned candidate model: a seeded random search with cross-validation inside the training rows, "
    "refit on all of them, logged to MLflow (skops format, signature, input example, manifest) as a pipeline "
    "that takes raw contract rows.",
)
def candidate_model(
    context: dg.AssetExecutionContext,
    dataset_split,
    feature_table,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
) -> dg.MaterializeResult:
    from mlops_assets import training
    from mlops_assets.contracts import RawRentals, contract_hash
    from mlops_assets.features import MODEL_INPUT_COLUMNS
    from mlops_assets.monitoring import build_reference_profile

    train = dataset_split.train
    features = feature_table.loc[train.index]
    raw_version = _upstream_data_version(context, "raw_dataset")
    with mlflow_tracking.asset_run(context, tags={"data_version": raw_version or ""}) as run:
        trained = training.tune_and_train(
            features,
            train[settings.target],
            settings.task,
            settings.search,
            settings.seed,
            settings.split.method,
        )
        pipeline = training.serving_pipeline(trained.estimator, train)
        manifest = training.manifest(
            code_version=TRAINING_CODE_VERSION,
            data_hash=raw_version,
            contract_hash=contract_hash(RawRentals),
            settings=settings,
            dagster_run_id=context.run.run_id,
            mlflow_run_id=run.info.run_id,
            train_until_time=dataset_split.metadata.get("train_until_time"),
        )
        profile = build_reference_profile(
            train[MODEL_INPUT_COLUMNS],
            training.predict(pipeline, train[MODEL_INPUT_COLUMNS], settings.task),
            categorical=settings.categorical_columns,
            bins=settings.drift.psi_bins,
        )
        model_uri = training.log_candidate(
            pipeline, trained, train[MODEL_INPUT_COLUMNS], settings.task, manifest, profile
        )
        fault_point("training.after_log_model")
    candidate = training.Candidate(
        model_uri=model_uri, run_id=run.info.run_id, manifest=manifest, cv_score=trained.cv_score
    )
    return dg.MaterializeResult(
        value=candidate,
        metadata={
            "mlflow_run_id": run.info.run_id,
            "mlflow_run": mlflow_tracking.run_link(run),
            "model_uri": model_uri,
            f"cv_{trained.scoring}": trained.cv_score,
            "best_params": dg.MetadataValue.json(trained.best_params),
            "manifest": dg.MetadataValue.json(manifest),
            "cv_results": dg.MetadataValue.md(trained.cv_results.round(4).to_markdown(index=False)),
        },
    )


def _upstream_data_version(context: dg.AssetExecutionContext, asset: str) -> str | None:
    """The data_version (content hash) recorded by this partition's latest materialization of `asset`."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records:
        return None
    return records[0].asset_materialization.tags.get("dagster/data_version")


def _image_markdown(plots: dict[str, bytes]) -> dg.MetadataValue:
    """PNG plots inline in the asset's metadata (the Dagster UI renders Markdown images from data URIs)."""
    parts = [
        f"**{name.removesuffix('.png').replace('_', ' ')}**\n\n![{name}](data:image/png;base64,"
        f"{base64.b64encode(png).decode()})"
        for name, png in plots.items()
    ]
    return dg.MetadataValue.md("\n\n".join(parts))


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="evaluation",
    kinds={"scikit-learn", "mlflow"},
    code_version=EVALUATION_CODE_VERSION,
    check_specs=[
        dg.AssetCheckSpec(
            name,
            asset="model_evaluation",
            blocking=True,
            description=description,
            partitions_def=dataset_version_partitions,  # each version's gates are recorded against that version
        )
        for name, description in GATE_DESCRIPTIONS.items()
    ],
    description="The candidate, the current champion and a naive baseline scored on the same holdout rows: "
    "metrics, a paired bootstrap interval of candidate minus champion, metrics per slice and plots. Its four "
    "blocking checks are the promotion gates: a failed gate stops deployment.",
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    dataset_split,
    candidate_model,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
    notifier: Notifier,
):  # no return annotation: with check specs Dagster would read it as several outputs
    import mlflow
    import pandas as pd

    from mlops_assets import deployment, training
    from mlops_assets.evaluation import PRIMARY_METRIC, evaluate_candidate
    from mlops_assets.features import MODEL_INPUT_COLUMNS, row_time

    champion = deployment.current_champion(mlflow_tracking, settings.model_name)
    if champion and champion.run_id == candidate_model.run_id:
        champion = None  # a rerun after this candidate was promoted: there is no other model to compare with
    holdout = dataset_split.holdout
    if champion and champion.train_until_time is not None:
        # Score the champion only on rows it never saw. If it trained on all of them (it was promoted from newer
        # data after this split was made), it cannot be compared here, and deployment will not replace it.
        unseen = holdout[row_time(holdout) > champion.train_until_time]
        if unseen.empty:
            context.log.warning(f"champion version {champion.version} trained on every holdout row: not compared")
            champion = None
        else:
            holdout = unseen
    rows = holdout[MODEL_INPUT_COLUMNS]
    mlflow_tracking.activate()
    candidate = mlflow.sklearn.load_model(candidate_model.model_uri)
    champion_predictions = None
    if champion:
        champion_predictions = training.predict(mlflow.sklearn.load_model(champion.model_uri), rows, settings.task)
    report = evaluate_candidate(
        task=settings.task,
        target=settings.target,
        train=dataset_split.train,
        holdout=holdout,
        candidate_predictions=training.predict(candidate, rows, settings.task),
        champion_predictions=champion_predictions,
        baseline_group_columns=settings.baseline_group_columns,
        slice_columns=settings.slice_columns,
        hour_column=settings.hour_column,
        gates=settings.gates,
        seed=settings.seed,
    )
    with mlflow_tracking.asset_run(context, tags={"candidate_run_id": candidate_model.run_id}) as run:
        for model, values in report.metrics.items():
            mlflow.log_metrics({f"{model}_{k}": v for k, v in values.items() if v == v})
        mlflow.log_table(report.slices, artifact_file="slice_metrics.json")
        mlflow.log_dict({g.name: {"passed": g.passed, **g.metadata} for g in report.gates}, "gates.json")
        _log_pngs(report.plots, "plots")
        mlflow.set_tag("gates_passed", str(report.passed))
        fault_point("evaluation.after_logging")
    if not report.passed:
        notifier.notify(
            f"Gates failed for {context.partition_key}",
            f"candidate {candidate_model.run_id} failed {', '.join(report.failed_gates)}; the champion stays.",
        )
    metric, _ = PRIMARY_METRIC[settings.task]
    evaluation = {
        "passed": report.passed,
        "failed_gates": report.failed_gates,
        "metrics": report.metrics,
        "primary_metric": metric,
        "champion_version": champion.version if champion else None,
        "candidate_run_id": candidate_model.run_id,
        "holdout_rows": report.holdout_rows,
    }
    return dg.MaterializeResult(
        value=evaluation,
        metadata={
            f"candidate_{metric}": report.metrics["candidate"][metric],
            f"baseline_{metric}": report.metrics["baseline"][metric],
            **({f"champion_{metric}": report.metrics["champion"][metric]} if "champion" in report.metrics else {}),
            "champion_version": champion.version if champion else "none",
            "holdout_rows": report.holdout_rows,
            "metrics": dg.MetadataValue.md(pd.DataFrame(report.metrics).T.round(4).to_markdown()),
            "slice_metrics": dg.MetadataValue.md(report.slices.round(3).to_markdown(index=False)),
            "plots": _image_markdown(report.plots),
            "mlflow_run": mlflow_tracking.run_link(run),
            "gates_passed": report.passed,
            "failed_gates": ", ".join(report.failed_gates) or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=gate.name,
                passed=gate.passed,
                description=gate.description,
                metadata=gate.metadata,
                severity=dg.AssetCheckSeverity.ERROR,
            )
            for gate in report.gates
        ],
    )


def _log_pngs(plots: dict[str, bytes], artifact_dir: str) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        for name, png in plots.items():
            Path(folder, name).write_bytes(png)
        mlflow.log_artifacts(folder, artifact_path=artifact_dir)


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="deployment",
    kinds={"mlflow"},
    code_version=DEPLOYMENT_CODE_VERSION,
    description="Registers the candidate in the MLflow model registry and moves alias `champion` to it, keeping "
    "the former champion under `previous_champion` for rollback. Runs only after every gate passed: the gates "
    "are checked again here, so a deployment-only run cannot promote a candidate that failed them.",
)
def deployed_model(
    model_evaluation: dict,
    candidate_model,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
) -> dg.MaterializeResult[dict]:
    from mlops_assets import deployment

    if not model_evaluation["passed"]:
        raise dg.Failure(
            f"not deploying: the candidate failed the gate(s) {', '.join(model_evaluation['failed_gates'])}",
            metadata={"failed_gates": dg.MetadataValue.json(model_evaluation["failed_gates"])},
        )
    promotion = deployment.promote(
        mlflow_tracking,
        settings.model_name,
        candidate_model,
        tags={f"holdout_{k}": str(v) for k, v in model_evaluation["metrics"]["candidate"].items()},
    )
    return dg.MaterializeResult(
        value=promotion,
        metadata={
            "model_name": settings.model_name,
            "candidate_version": promotion["version"],
            "champion_version": promotion["champion_version"],
            "previous_champion_version": promotion["previous_version"] or "none",
            "outcome": promotion.get("reason") or ("promoted" if promotion["changed"] else "already champion"),
            "model_uri": f"models:/{settings.model_name}@{deployment.CHAMPION}",
            "changed": promotion["changed"],
        },
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="deployment",
    kinds={"pandas", "parquet"},
    code_version=BATCH_CODE_VERSION,
    deps=[deployed_model],
    metadata={"dagster/column_schema": column_schema("Predictions")},
    description="The champion scores every row of the version (inputs checked against the contract it was trained "
    "with); rows, prediction, model name and version are written to `data/predictions/<version>.parquet`.",
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    raw_dataset,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
) -> dg.MaterializeResult:
    from mlops_assets import deployment

    path = settings.predictions_dir / f"{context.partition_key}.parquet"
    mlflow_tracking.activate()
    scored = deployment.score_batch(mlflow_tracking, settings, raw_dataset, path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": scored.rows,
            "dagster/column_schema": column_schema("Predictions"),
            "path": dg.MetadataValue.path(str(path)),
            "model_version": scored.model_version,
            "mean_prediction": scored.mean_prediction,
        }
    )


@dg.asset(
    partitions_def=dataset_version_partitions,
    group_name="monitoring",
    kinds={"mlflow", "pandas"},
    code_version=MONITORING_CODE_VERSION,
    description="The current champion on the rows of this version it never trained on: realized metrics against "
    "its own evaluation, drift of every input feature and of the predictions against its training data (PSI, "
    "normalised Wasserstein, Jensen-Shannon), and plots. The retraining sensor reads these results.",
)
def model_monitoring(
    context: dg.AssetExecutionContext,
    raw_dataset,
    settings: ProjectSettings,
    mlflow_tracking: MLflowTracking,
    notifier: Notifier,
) -> dg.MaterializeResult:
    import mlflow

    from mlops_assets import deployment, training
    from mlops_assets.features import MODEL_INPUT_COLUMNS
    from mlops_assets.monitoring import monitor_champion

    champion = deployment.current_champion(mlflow_tracking, settings.model_name)
    if champion is None:
        raise dg.Failure(f"no {settings.model_name}@champion to monitor yet; train and deploy a first model")
    new_rows = deployment.rows_not_trained_on(raw_dataset, champion, settings)
    if new_rows.empty:
        raise dg.Failure(f"every row of {context.partition_key} was in champion version {champion.version}'s training")
    mlflow_tracking.activate()
    model = mlflow.sklearn.load_model(champion.model_uri)
    predictions = training.predict(model, new_rows[MODEL_INPUT_COLUMNS], settings.task)
    profile = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/reference_profile.json")
    report = monitor_champion(
        version=context.partition_key,
        task=settings.task,
        target=settings.target,
        new_rows=new_rows,
        predictions=predictions,
        profile=profile,
        evaluated=champion.evaluated_metric(settings.task),
        drift_settings=settings.drift,
        degradation_margin=settings.retrain.degradation_margin,
        metric_history=_monitoring_history(context),
    )
    with mlflow_tracking.asset_run(context, tags={"champion_version": champion.version}) as run:
        mlflow.log_metrics({f"realized_{k}": v for k, v in report.realized.items() if v == v})
        mlflow.log_metrics(
            {"drifted_share": report.summary["drifted_share"], "relative_change": report.relative_change}
        )
        mlflow.log_table(report.drift, artifact_file="feature_drift.json")
        _log_pngs(report.plots, "plots")
    if report.summary["dataset_drift"]:
        notifier.notify(
            f"Dataset drift in {context.partition_key}",
            f"{report.summary['drifted_share']:.0%} of the features drifted: "
            f"{', '.join(report.summary['drifted_features'])} (champion version {champion.version})",
        )
    metric = report.metric
    return dg.MaterializeResult(
        metadata={
            "champion_version": champion.version,
            "rows_monitored": report.rows,
            f"realized_{metric}": report.realized[metric],
            f"evaluated_{metric}": report.evaluated if report.evaluated is not None else float("nan"),
            "metric": metric,
            "realized_metric": report.realized[metric],
            "evaluated_metric": report.evaluated if report.evaluated is not None else float("nan"),
            "relative_change": report.relative_change,
            "degraded": report.degraded,
            "drifted_share": report.summary["drifted_share"],
            "dataset_drift": report.summary["dataset_drift"],
            "drifted_features": dg.MetadataValue.json(report.summary["drifted_features"]),
            "prediction_psi": report.summary["prediction_psi"],
            "feature_drift": dg.MetadataValue.md(report.drift.round(3).to_markdown(index=False)),
            "plots": _image_markdown(report.plots),
            "mlflow_run": mlflow_tracking.run_link(run),
        }
    )


def _monitoring_history(context: dg.AssetExecutionContext):
    """The champion's realized metric per version from earlier model_monitoring materializations (a DataFrame)."""
    import pandas as pd

    records = context.instance.fetch_materializations(dg.AssetKey("model_monitoring"), limit=1000).records
    latest: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        event = record.asset_materialization
        meta = event.metadata
        if event.partition and event.partition != context.partition_key and "realized_metric" in meta:
            latest[event.partition] = {
                "version": event.partition,
                "metric": meta["realized_metric"].value,
                "metric_name": meta["metric"].value,
                "evaluated": meta["evaluated_metric"].value if "evaluated_metric" in meta else None,
            }
    return pd.DataFrame(
        sorted(latest.values(), key=lambda row: row["version"]),
        columns=["version", "metric", "metric_name", "evaluated"],
    )


retraining_decision = dg.AssetSpec(
    "retraining_decision",
    deps=[model_monitoring],
    partitions_def=dataset_version_partitions,
    group_name="monitoring",
    kinds={"dagster"},
    description="Recorded by the retraining sensor for each model_monitoring result: retrain or not, and why "
    "(degradation, drift, hysteresis, cooldown, cap). When it says retrain, the sensor requests training, "
    "evaluation and deployment for that version.",
)
