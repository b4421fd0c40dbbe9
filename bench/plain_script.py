"""The pipeline of one dataset version as a plain Python script: the same stage functions, in the same order, with
the same MLflow logging, and no orchestration (no Dagster run, events, IO manager or compute-log capture).

    DAGSTER_HOME=<state> MLOPS_DATA_DIR=<data> .venv/bin/python bench/plain_script.py 2011-12
    .venv/bin/python bench/plain_script.py big --replicated          # the scale benchmark's contract and budget

It is the reference that `bench/run.py` times the pipeline against. Each block below is the body of one asset of
mlops_assets/assets.py without its Dagster parts (metadata for the UI, the IO manager), in the order the in-process
executor runs the steps of `--select '*'`: raw_dataset, dataset_split, feature_table, model_monitoring,
candidate_model, model_evaluation, deployed_model, batch_predictions. Like the pipeline, it reads its folders from
the environment (ProjectSettings(): MLOPS_DATA_DIR, and MLOPS_STATE_DIR or DAGSTER_HOME) and logs one MLflow run
per asset that logs (candidate_model, model_evaluation, model_monitoring), named and tagged the same way.

It imports dagster too, but only because the project's settings classes (config.py) are Dagster `Config` classes:
every stage module imports them. bench/run.py reports that import separately.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the dataset version (partition key) to run")
    parser.add_argument("--replicated", action="store_true", help="bench/scale.py: replicated contract and budget")
    parser.add_argument("--timings", type=Path, help="write the time of each stage here (JSON)")
    args = parser.parse_args(argv)

    if args.replicated:
        sys.path.insert(0, str(BENCH))
        import scale

        scale.install()
    stages: dict[str, float] = {}
    mark = [STARTED]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = now - mark[0]
        mark[0] = now

    # What assets.py imports when it is imported; MLflow, evaluation and monitoring are imported below where the
    # assets import them, so that each stage's time compares with the pipeline's step.
    import pandas as pd

    from mlops_assets import deployment, training
    from mlops_assets.alerts import notifier_from_env
    from mlops_assets.config import ProjectSettings
    from mlops_assets.contracts import RawRentals, RentalFeatures, contract_hash
    from mlops_assets.features import MODEL_INPUT_COLUMNS, make_features, row_time
    from mlops_assets.ingestion import read_version
    from mlops_assets.resources import MLflowTracking, git_commit
    from mlops_assets.splitting import split_rows

    settings = scale.scale_settings() if args.replicated else ProjectSettings()
    tracking = MLflowTracking()
    notifier = notifier_from_env()
    key = args.version
    run_id = f"plain-script-{key}"
    stages["imports"] = time.perf_counter() - STARTED  # from interpreter start: imports and settings
    mark[0] = time.perf_counter()

    def mlflow_run(asset: str, tags: dict[str, str]):
        """One MLflow run per asset, named and tagged as MLflowTracking.asset_run names and tags it."""
        import mlflow

        experiment_id = tracking.ensure_experiment()
        mlflow.set_tracking_uri(tracking.uri)
        run_tags = {
            "dagster.run_id": run_id,
            "dagster.asset": asset,
            "dagster.partition": key,
            "dagster.code_version": "1",
            **({"git_commit": git_commit()} if git_commit() else {}),
            **tags,
        }
        return mlflow.start_run(experiment_id=experiment_id, run_name=f"{asset}[{key}]", tags=run_tags)

    def log_pngs(plots: dict[str, bytes], artifact_dir: str) -> None:
        import mlflow

        with tempfile.TemporaryDirectory() as folder:
            for name, png in plots.items():
                Path(folder, name).write_bytes(png)
            mlflow.log_artifacts(folder, artifact_path=artifact_dir)

    # raw_dataset
    version = read_version(Path(settings.versions_dir) / key)
    raw = version.frame
    lap("raw_dataset")

    # dataset_split
    champion = deployment.current_champion(tracking, settings.model_name)
    split = split_rows(
        raw,
        settings.split.method,
        settings.split.holdout_fraction,
        settings.row_key,
        champion.train_until_time if champion else None,
    )
    lap("dataset_split")

    # feature_table
    feature_table = RentalFeatures.validate(make_features(raw), lazy=True)
    lap("feature_table")

    # model_monitoring (the champion in force before this version's candidate, as in the pipeline's step order)
    import mlflow

    from mlops_assets.monitoring import build_reference_profile, monitor_champion

    champion = deployment.current_champion(tracking, settings.model_name)
    if champion is None:
        raise SystemExit(f"no {settings.model_name}@champion to monitor yet")
    new_rows = deployment.rows_not_trained_on(raw, champion, settings)
    mlflow.set_tracking_uri(tracking.uri)
    model = mlflow.sklearn.load_model(champion.model_uri)
    predictions = training.predict(model, new_rows[MODEL_INPUT_COLUMNS], settings.task)
    profile = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/reference_profile.json")
    report = monitor_champion(
        version=key,
        task=settings.task,
        target=settings.target,
        new_rows=new_rows,
        predictions=predictions,
        profile=profile,
        evaluated=champion.evaluated_metric(settings.task),
        drift_settings=settings.drift,
        degradation_margin=settings.retrain.degradation_margin,
        metric_history=pd.DataFrame(columns=["version", "metric", "metric_name", "evaluated"]),
    )
    with mlflow_run("model_monitoring", {"champion_version": champion.version}):
        mlflow.log_metrics({f"realized_{k}": v for k, v in report.realized.items() if v == v})
        mlflow.log_metrics(
            {"drifted_share": report.summary["drifted_share"], "relative_change": report.relative_change}
        )
        mlflow.log_table(report.drift, artifact_file="feature_drift.json")
        log_pngs(report.plots, "plots")
    if report.summary["dataset_drift"]:
        notifier.notify(f"Dataset drift in {key}", f"{report.summary['drifted_share']:.0%} of the features drifted")
    lap("model_monitoring")

    # candidate_model
    train = split.train
    features = feature_table.loc[train.index]
    with mlflow_run("candidate_model", {"data_version": version.content_hash}) as run:
        trained = training.tune_and_train(
            features, train[settings.target], settings.task, settings.search, settings.seed, settings.split.method
        )
        pipeline = training.serving_pipeline(trained.estimator, train)
        manifest = training.manifest(
            code_version="1",
            data_hash=version.content_hash,
            contract_hash=contract_hash(RawRentals),
            settings=settings,
            dagster_run_id=run_id,
            mlflow_run_id=run.info.run_id,
            train_until_time=split.metadata.get("train_until_time"),
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
    candidate = training.Candidate(
        model_uri=model_uri, run_id=run.info.run_id, manifest=manifest, cv_score=trained.cv_score
    )
    lap("candidate_model")

    # model_evaluation
    from mlops_assets.evaluation import evaluate_candidate

    champion = deployment.current_champion(tracking, settings.model_name)
    holdout = split.holdout
    if champion and champion.train_until_time is not None and champion.run_id != candidate.run_id:
        holdout = holdout[row_time(holdout) > champion.train_until_time]
    rows = holdout[MODEL_INPUT_COLUMNS]
    candidate_model = mlflow.sklearn.load_model(candidate.model_uri)
    champion_predictions = None
    if champion and champion.run_id != candidate.run_id:
        champion_predictions = training.predict(mlflow.sklearn.load_model(champion.model_uri), rows, settings.task)
    evaluation = evaluate_candidate(
        task=settings.task,
        target=settings.target,
        train=split.train,
        holdout=holdout,
        candidate_predictions=training.predict(candidate_model, rows, settings.task),
        champion_predictions=champion_predictions,
        baseline_group_columns=settings.baseline_group_columns,
        slice_columns=settings.slice_columns,
        hour_column="hr" if "hr" in holdout else None,
        gates=settings.gates,
        seed=settings.seed,
    )
    with mlflow_run("model_evaluation", {"candidate_run_id": candidate.run_id}):
        for name, values in evaluation.metrics.items():
            mlflow.log_metrics({f"{name}_{k}": v for k, v in values.items() if v == v})
        mlflow.log_table(evaluation.slices, artifact_file="slice_metrics.json")
        mlflow.log_dict({g.name: {"passed": g.passed, **g.metadata} for g in evaluation.gates}, "gates.json")
        log_pngs(evaluation.plots, "plots")
        mlflow.set_tag("gates_passed", str(evaluation.passed))
    if not evaluation.passed:
        notifier.notify(f"Gates failed for {key}", f"candidate {candidate.run_id} failed {evaluation.failed_gates}")
    lap("model_evaluation")

    # deployed_model (the pipeline's run fails here when a gate failed; so does this script)
    if not evaluation.passed:
        raise SystemExit(f"not deploying: the candidate failed the gate(s) {', '.join(evaluation.failed_gates)}")
    deployment.promote(
        tracking,
        settings.model_name,
        candidate,
        tags={f"holdout_{k}": str(v) for k, v in evaluation.metrics["candidate"].items()},
    )
    lap("deployed_model")

    # batch_predictions
    mlflow.set_tracking_uri(tracking.uri)
    deployment.score_batch(tracking, settings, raw, settings.predictions_dir / f"{key}.parquet")
    lap("batch_predictions")

    stages["total"] = time.perf_counter() - STARTED
    if args.timings:
        args.timings.write_text(json.dumps(stages, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
