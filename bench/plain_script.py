"""The pipeline of one dataset version as a plain Python script: the same stage functions, in the same order, with
the same MLflow logging, and no orchestration (no Dagster run, events, IO manager or compute-log capture).

    DAGSTER_HOME=<state> MLOPS_DATA_DIR=<data> .venv/bin/python bench/plain_script.py 2011-12
    .venv/bin/python bench/plain_script.py big --replicated          # the scale benchmark's contract and budget

It is the reference that `bench/run.py` times the pipeline against. It runs the measured model (bike_rentals on the
bikeshare dataset, bench/bench_model.py; `--replicated`: bench/scale.py's variant of it), the model that
bench/model_definitions.py and bench/scale_definitions.py hold alone. Each block below makes the calls of one asset
of mlops_assets/wiring/assets/ (the functions of mlops_assets/stages/, nothing copied from them) without its Dagster
parts (metadata for the UI, the IO manager, the Dagster instance), in the order the in-process executor runs the
steps of `--select '*'`: raw_dataset, feature_table, model_monitoring, dataset_split, candidate_model,
model_evaluation, deployed_model, batch_predictions. Like the pipeline, it reads its folders from the environment
(the settings' defaults: MLOPS_DATA_DIR, and MLOPS_STATE_DIR or DAGSTER_HOME), reads the version through the
dataset's data source and opens one MLflow run per asset that logs (model_monitoring, candidate_model,
model_evaluation), named and tagged as `MLflowTracking.asset_run` does. What the assets read from the Dagster
instance comes from the script instead: the data version is the content hash the data source computed, and the
monitoring history is empty (the benchmark's starting state has none either).

Imports: up front, what the pipeline's first steps need (pandas, Pandera, the contract and the stage modules of
ingestion, features, splitting, training, deployment and scoring) and the training asset's code version (it goes
into the model's manifest); the monitoring and evaluation stage modules (and MLflow, through them) where their
stages start. It imports dagster too, but only because the project's settings (mlops_assets/settings/) are
Pydantic models that Dagster components resolve (`dg.Resolvable`), and the stage functions take them. bench/run.py
reports that import separately.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the dataset version (partition key) to run")
    parser.add_argument("--replicated", action="store_true", help="bench/scale.py: replicated contract and budget")
    parser.add_argument("--timings", type=Path, help="write the time of each stage here (JSON)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(BENCH))
    if args.replicated:
        import scale
    stages: dict[str, float] = {}
    mark = [STARTED]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = now - mark[0]
        mark[0] = now

    from bench_model import bench_model

    from mlops_assets.infra.alerts import notifier_from_env
    from mlops_assets.infra.sources import data_source
    from mlops_assets.stages.deployment import deploy
    from mlops_assets.stages.featurize import feature_table as build_feature_table
    from mlops_assets.stages.ingestion import validate_version
    from mlops_assets.stages.manifest import git_commit
    from mlops_assets.stages.registry import DeploymentRefused, current_champion
    from mlops_assets.stages.scoring import score_batch
    from mlops_assets.stages.splitting import split_version
    from mlops_assets.stages.training import train_candidate
    from mlops_assets.wiring.assets.training import TRAINING_CODE_VERSION
    from mlops_assets.wiring.resources import MLflowTracking

    settings = scale.scale_model() if args.replicated else bench_model()
    dataset = settings.dataset
    contract = dataset.raw_contract()
    tracking = MLflowTracking()
    notifier = notifier_from_env()
    key = args.version
    run_id = f"plain-script-{key}"
    stages["imports"] = time.perf_counter() - STARTED  # from interpreter start: imports and settings
    mark[0] = time.perf_counter()

    @contextlib.contextmanager
    def mlflow_run(asset: str, code_version: str, tags: dict[str, str]):
        """One MLflow run per asset, named and tagged as MLflowTracking.asset_run names and tags it."""
        import mlflow

        experiment_id = tracking.ensure_experiment()
        tracking.activate()
        asset = settings.key(asset).to_user_string()
        run_tags = {
            "dagster.run_id": run_id,
            "dagster.asset": asset,
            "dagster.partition": key,
            "dagster.code_version": code_version,
            **({"git_commit": git_commit()} if git_commit() else {}),
            **tags,
            "model": settings.name,
        }
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"{asset}[{key}]", tags=run_tags) as run:
            yield run

    # raw_dataset
    with data_source(dataset) as source:
        version = validate_version(source.read(key), contract)
    raw = version.frame
    lap("raw_dataset")

    # feature_table
    feature_table = build_feature_table(raw, settings)
    lap("feature_table")

    # model_monitoring (the champion in force before this version's candidate: dataset_split waits for it)
    from mlops_assets.stages.monitoring import monitor

    champion = current_champion(tracking, settings.model_name)
    with mlflow_run("model_monitoring", "1", {"champion_version": champion.version if champion else ""}):
        monitoring = monitor(key, raw, champion, settings, [], tracking)
        monitoring.log_to_mlflow()
    alert = monitoring.result.drift_alert(f"{settings.name}[{key}]")
    if alert:
        notifier.notify(*alert)
    lap("model_monitoring")

    # dataset_split
    split = split_version(raw, settings, current_champion(tracking, settings.model_name))
    lap("dataset_split")

    # candidate_model
    with mlflow_run("candidate_model", TRAINING_CODE_VERSION, {"data_version": version.content_hash}) as run:
        candidate = train_candidate(
            split,
            feature_table,
            settings,
            code_version=TRAINING_CODE_VERSION,
            data_hash=version.content_hash,
            dataset_version=key,
            dagster_run_id=run_id,
            mlflow_run_id=run.info.run_id,
        )
    lap("candidate_model")

    # model_evaluation
    from mlops_assets.stages.evaluation import evaluate

    champion = current_champion(tracking, settings.model_name)
    with mlflow_run("model_evaluation", "1", {}):
        evaluation = evaluate(split, candidate, champion, settings, tracking, run_id)
        evaluation.log_to_mlflow()
    if not evaluation.passed:
        notifier.notify(
            f"Gates failed for {settings.name}[{key}]",
            f"candidate {candidate.run_id} failed {', '.join(evaluation.failed_gates)}; the champion stays.",
        )
    lap("model_evaluation")

    # deployed_model (the pipeline's run fails here when a gate failed; so does this script)
    try:
        deploy(tracking, settings, candidate, evaluation, run_id)
    except DeploymentRefused as refusal:
        raise SystemExit(str(refusal)) from None
    lap("deployed_model")

    # batch_predictions
    score_batch(tracking, settings, raw, settings.predictions_dir / f"{key}.parquet")
    lap("batch_predictions")

    stages["total"] = time.perf_counter() - STARTED
    if args.timings:
        args.timings.write_text(json.dumps(stages, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
