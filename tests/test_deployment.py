"""Deployment end to end: real pipeline runs on a real Dagster instance and a real MLflow registry (SQLite).

One story per module, trained once (small search budget) on the configured data set's first versions: the first
two are good versions and are promoted in turn; the third is trained with an estimator that cannot fit (a constant
prediction) and fails the gates. The tests read what each step left behind; a test that moves an alias puts it back
before it ends, and a test that adds a version uses a version key of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.commands.landing import land_version
from mlops_assets.settings import EstimatorSettings, ModelSettings
from mlops_assets.stages import deployment, registry
from mlops_assets.stages.gates import GATES, PRIMARY_METRIC
from mlops_assets.stages.rollback import rollback
from mlops_assets.stages.scoring import predictions_schema, score_batch
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from mlops_assets.wiring.records import latest_metadata
from tests.conftest import FAST_SPACE, MODEL, aliases, make_project, run_assets, step_error, subprocess_env

REPO_ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ingestion_selection(MODEL) + training_selection(MODEL)
METRIC = PRIMARY_METRIC[MODEL.task][0]
EVALUATION = MODEL.key("model_evaluation")
needs_time_order = pytest.mark.skipif(
    MODEL.split.method != "time",
    reason=f"the older-data rule needs a time order: model {MODEL.name} splits by hash (its split.method)",
)


def hopeless_estimator(model: ModelSettings) -> EstimatorSettings:
    """An estimator that cannot fit: it predicts the training mean (or class rate) for every row, so it meets no
    threshold and does not beat the baseline, whatever the data set."""
    if model.estimator.class_path is None:  # gradient boosting: no split can have 10^9 rows in a leaf
        space = {**FAST_SPACE, "max_iter": [1], "learning_rate": [0.001], "min_samples_leaf": [10**9]}
        return model.estimator.model_copy(update={"search_space": space})
    regression = model.task == "regression"
    return EstimatorSettings(
        class_path="sklearn.dummy.DummyRegressor" if regression else "sklearn.dummy.DummyClassifier",
        params={"strategy": "mean" if regression else "prior"},
        search_space={},
    )


def output(result, asset: str):
    """The value a run's step for the model's `asset` returned."""
    return result.output_for_node(MODEL.key(asset).to_python_identifier())


@pytest.fixture(scope="module")
def good(keys) -> str:
    return keys[0]


@pytest.fixture(scope="module")
def better(keys) -> str:
    return keys[1]


@pytest.fixture(scope="module")
def worse(keys) -> str:
    return keys[2]


def land(project, instance: dg.DagsterInstance, versions, key: str, rows_of: str | None = None) -> None:
    """Land version `key` (with the rows of version `rows_of`, default its own) and add its partition."""
    land_version(project.settings.versions_dir, key, versions[rows_of or key])
    instance.add_dynamic_partitions(project.settings.dataset.partitions_name, [key])


def alias_statuses(project) -> dict[str, str]:
    name = project.settings.model_name
    return {
        alias: project.client.get_model_version(name, version).status
        for alias, version in aliases(project).items()
        if version is not None
    }


def version_count(project) -> int:
    return len(project.client.search_model_versions(f"name = '{project.settings.model_name}'"))


def materialized(result) -> set[dg.AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def module_instance(tmp_path_factory, _empty_dagster_home):
    home = tmp_path_factory.mktemp("deployment") / "dagster_home"
    shutil.copytree(_empty_dagster_home, home)
    with dg.instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def story(tmp_path_factory, module_instance, versions, good, better, worse):
    """Two good versions promoted in turn, then a hopeless candidate that fails the gates, then a deployment-only
    run for it. Records each run's result and the aliases after it."""
    project = make_project(tmp_path_factory.mktemp("deployment_project"))
    instance = module_instance
    for key in (good, better, worse):
        land(project, instance, versions, key)
    results, snapshots = {}, {}

    def step(name: str, key: str, selection: list, settings: ModelSettings | None = None) -> None:
        results[name] = run_assets(project, instance, key, selection, settings)
        snapshots[name] = {
            "aliases": aliases(project),
            "statuses": alias_statuses(project),
            "versions": version_count(project),
        }

    step("good", good, PIPELINE)
    step("better", better, PIPELINE)
    hopeless = ModelSettings(**{**project.settings.model_dump(), "estimator": hopeless_estimator(project.settings)})
    step("worse", worse, PIPELINE, hopeless)
    step("worse deploy only", worse, ["deployed_model"])
    return SimpleNamespace(
        project=project, instance=instance, results=results, snapshots=snapshots, good=good, better=better, worse=worse
    )


def test_a_good_candidate_passes_every_gate_and_becomes_champion(story):
    result = story.results["good"]
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key == EVALUATION}
    assert checks == dict.fromkeys(GATES, True)
    assert story.snapshots["good"]["aliases"] == {"champion": "1", "previous_champion": None}
    deployed = latest_metadata(story.instance, MODEL.key("deployed_model"), story.good)
    assert deployed["champion_version"] == "1" and deployed["promoted"] is True


def test_a_second_good_version_is_promoted_and_the_former_champion_kept_for_rollback(story):
    result = story.results["better"]
    assert result.success, step_error(result, "model_evaluation")
    # It was compared with version 1 on rows version 1 never trained on, and beat it within the margin.
    evaluation = latest_metadata(story.instance, MODEL.key("model_evaluation"), story.better)
    assert evaluation["champion_version"] == "1" and evaluation["gates_passed"] is True
    assert story.snapshots["better"]["aliases"] == {"champion": "2", "previous_champion": "1"}
    version = story.project.client.get_model_version(story.project.settings.model_name, "2")
    assert version.tags[registry.REPLACED_VERSION] == "1"
    assert (
        version.run_id == latest_metadata(story.instance, MODEL.key("candidate_model"), story.better)["mlflow_run_id"]
    )
    assert version.tags["dataset_version"] == story.better
    assert round(float(version.tags[f"holdout_{METRIC}"]), 4) == evaluation[f"candidate_{METRIC}"]
    # The manifest is an artifact of the run; the version carries only the few tags deployment and scoring read.
    assert set(version.tags) == {
        f"holdout_{METRIC}",
        "contract_hash",
        "dataset_version",
        "train_until_time",
        "replaced_version",
        "promoted_at",
    }


def test_a_worse_candidate_fails_a_gate_is_not_deployed_and_the_champion_stays(story):
    result = story.results["worse"]
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key == EVALUATION}
    assert checks["absolute_thresholds"] is False and checks["beats_baseline"] is False
    assert EVALUATION in materialized(result)  # the checked asset is stored, with its failed checks ...
    assert MODEL.key("deployed_model") not in materialized(result)  # ... and deployment is skipped
    assert not latest_metadata(story.instance, MODEL.key("deployed_model"), story.worse)
    assert story.snapshots["worse"]["aliases"] == {"champion": "2", "previous_champion": "1"}
    candidate_run = output(result, "candidate_model").run_id
    assert not story.project.client.search_model_versions(f"run_id = '{candidate_run}'")  # never registered


def test_a_later_deployment_only_run_for_the_failed_candidate_fails_and_moves_nothing(story):
    result = story.results["worse deploy only"]
    assert not result.success
    assert "not deploying: the candidate failed the gate(s) absolute_thresholds" in step_error(result, "deployed_model")
    assert story.snapshots["worse deploy only"]["aliases"] == {"champion": "2", "previous_champion": "1"}
    assert story.snapshots["worse deploy only"]["versions"] == 2


def test_rerunning_the_champions_deployment_is_idempotent(story):
    before = (aliases(story.project), version_count(story.project))
    result = run_assets(story.project, story.instance, story.better, ["deployed_model"])
    assert result.success, step_error(result, "deployed_model")
    deployed = latest_metadata(story.instance, MODEL.key("deployed_model"), story.better)
    assert deployed["champion_version"] == "2" and deployed["promoted"] is False
    assert deployed["previous_champion_version"] == "1"
    assert (aliases(story.project), version_count(story.project)) == before


@needs_time_order
def test_rerunning_a_superseded_candidates_deployment_changes_nothing(story):
    # Version 1 was champion and was replaced by version 2, trained on newer data: a rerun of version 1's deployment
    # succeeds and moves nothing (after a rollback, the same rerun is refused: see the rollback test).
    before = (aliases(story.project), version_count(story.project))
    result = run_assets(story.project, story.instance, story.good, ["deployed_model"])
    assert result.success, step_error(result, "deployed_model")
    promotion = output(result, "deployed_model")
    assert (promotion.version, promotion.champion_version, promotion.changed) == ("1", "2", False)
    assert (
        f"champion version 2 trained on newer data ({story.better}) than the candidate ({story.good})"
        in promotion.reason
    )
    assert (aliases(story.project), version_count(story.project)) == before


@needs_time_order
def test_a_candidate_trained_on_older_data_is_registered_but_never_replaces_the_champion(story, versions):
    # January again, under another version key (e.g. a late or re-landed version): it passes its gates (the
    # champion trained on every one of its rows, so it cannot be compared), and is registered but not promoted.
    import mlflow

    key = f"{story.good}-relanded"
    land(story.project, story.instance, versions, key, rows_of=story.good)
    before = version_count(story.project)
    trained = run_assets(story.project, story.instance, key, PIPELINE[:-2])
    assert trained.success, step_error(trained, "model_evaluation")
    # Deployment in a run of its own, as in a fresh step process: MLflow's process-wide URI points elsewhere.
    mlflow.set_tracking_uri(f"sqlite:///{story.project.root / 'elsewhere.db'}")
    try:
        result = run_assets(story.project, story.instance, key, PIPELINE[-2:])
    finally:
        mlflow.set_tracking_uri(story.project.tracking.uri)
    assert result.success, step_error(result, "deployed_model") + step_error(result, "batch_predictions")
    promotion = output(result, "deployed_model")
    assert promotion.changed is False and promotion.champion_version == "2"
    assert "trained on newer data" in promotion.reason and "registered, not promoted" in promotion.reason
    assert version_count(story.project) == before + 1
    registered = story.project.client.get_model_version(story.project.settings.model_name, promotion.version)
    assert registered.status == "READY" and not registered.aliases
    assert registry.PROMOTED_AT not in registered.tags
    assert aliases(story.project) == {"champion": "2", "previous_champion": "1"}
    scored = pd.read_parquet(story.project.settings.predictions_dir / f"{key}.parquet")
    assert set(scored["model_version"]) == {"2"}  # scored by the champion, not by the candidate


@needs_time_order
def test_the_whole_graph_on_a_version_older_than_the_champions_data_finishes_green(story, versions):
    # January again under another key: the champion (version 2) trained on all of it. Nothing to monitor, a
    # candidate that cannot be compared and is not promoted: recorded outcomes, not errors (no alert either).
    key = f"{story.good}-again"
    land(story.project, story.instance, versions, key, rows_of=story.good)
    every_asset = [*PIPELINE, MODEL.key("model_monitoring")]
    result = run_assets(story.project, story.instance, key, every_asset)
    assert result.success, step_error(result, "model_monitoring") + step_error(result, "deployed_model")
    monitoring = latest_metadata(story.instance, MODEL.key("model_monitoring"), key)
    assert monitoring["status"] == "nothing to monitor"
    assert "was in champion version 2's training" in monitoring["note"]
    evaluation = latest_metadata(story.instance, MODEL.key("model_evaluation"), key)
    assert evaluation["champion_comparison"].startswith("Champion version 2 trained on every holdout row: not compared")
    checks = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == EVALUATION}
    assert checks["not_worse_than_champion"].passed
    assert "trained on every holdout row" in checks["not_worse_than_champion"].description
    deployed = latest_metadata(story.instance, MODEL.key("deployed_model"), key)
    assert deployed["promoted"] is False and "registered, not promoted" in deployed["outcome"]
    assert aliases(story.project) == {"champion": "2", "previous_champion": "1"}


def test_a_candidate_evaluated_against_another_champion_is_not_promoted(story):
    # Evaluated when version 1 was champion; version 2 is champion now: it was never compared with version 2.
    candidate = output(story.results["worse"], "candidate_model")
    project = story.project
    before = (aliases(project), version_count(project))
    for stale in ("1", None):
        with pytest.raises(registry.DeploymentRefused, match="evaluated against champion"):
            deployment.promote(project.tracking, project.settings.model_name, candidate, {}, expected_champion=stale)
    assert (aliases(project), version_count(project)) == before


def test_a_deployment_only_run_after_the_champion_changed_refuses_the_candidate(story, versions, keys):
    # Evaluated against champion version 2; then the champion changes (a rollback); a deployment-only run must not
    # promote a candidate that was never compared with the model it would replace.
    project, key = story.project, keys[3]
    land(project, story.instance, versions, key)
    evaluated = run_assets(project, story.instance, key, PIPELINE[:-2])
    assert evaluated.success, step_error(evaluated, "model_evaluation")
    assert latest_metadata(story.instance, MODEL.key("model_evaluation"), key)["champion_version"] == "2"
    before = version_count(project)
    try:
        rollback(project.tracking, project.settings.model_name)
        assert aliases(project)["champion"] == "1"
        result = run_assets(project, story.instance, key, ["deployed_model"])
        assert not result.success
        error = step_error(result, "deployed_model")
        assert "evaluated against champion version 2, but the champion is now version 1" in error
        assert aliases(project) == {"champion": "1", "previous_champion": None}
        assert version_count(project) == before
    finally:
        rollback(project.tracking, project.settings.model_name, to_version="2")
    assert aliases(project) == {"champion": "2", "previous_champion": "1"}


def test_aliases_only_ever_point_at_ready_versions(story):
    for name, snapshot in story.snapshots.items():
        assert set(snapshot["statuses"].values()) == {"READY"}, name
        assert set(snapshot["statuses"]) == {a for a, v in snapshot["aliases"].items() if v}, name
    assert set(alias_statuses(story.project).values()) == {"READY"}


@pytest.mark.parametrize(("index", "version"), [(0, "1"), (1, "2")])
def test_batch_predictions_are_written_by_the_champion_under_the_predictions_contract(story, versions, index, version):
    key = list(versions)[index]
    path = story.project.settings.predictions_dir / f"{key}.parquet"
    scored = pd.read_parquet(path)
    schema = predictions_schema(story.project.settings)
    settings = story.project.settings
    outputs = ["prediction", "predicted_positive"] if settings.task == "classification" else ["prediction"]
    assert list(scored.columns) == [*settings.row_key, *outputs, "model_name", "model_version"] == list(schema.columns)
    schema.validate(scored)
    snapshot = versions[key]
    assert len(scored) == len(snapshot)
    assert set(scored["model_version"]) == {version}  # the champion right after this version's deployment
    assert set(scored["model_name"]) == {story.project.settings.model_name}
    assert scored["prediction"].notna().all()
    metadata = latest_metadata(story.instance, MODEL.key("batch_predictions"), key)
    assert metadata["model_version"] == version and metadata["dagster/row_count"] == len(snapshot)


def test_batch_scoring_refuses_a_champion_trained_under_another_contract(story, versions):
    project = story.project
    name = project.settings.model_name
    path = project.settings.predictions_dir / f"{story.better}.parquet"
    written = path.stat().st_mtime_ns
    real_hash = project.client.get_model_version(name, "2").tags["contract_hash"]
    try:
        project.client.set_model_version_tag(name, "2", "contract_hash", "0" * 16)
        result = run_assets(project, story.instance, story.better, ["batch_predictions"])
        assert not result.success
        assert f"trained with contract {'0' * 16}" in step_error(result, "batch_predictions")

        project.client.delete_model_version_tag(name, "2", "contract_hash")
        with pytest.raises(RuntimeError, match="records no contract hash"):
            score_batch(project.tracking, project.settings, versions[story.better], path)
    finally:
        project.client.set_model_version_tag(name, "2", "contract_hash", real_hash)
    assert path.stat().st_mtime_ns == written  # the predictions already there were left alone


def cli(project, *args: str) -> subprocess.CompletedProcess:
    """`python -m mlops_assets.commands.champion --model <model> ...` with the project's default MLflowTracking(),
    pointed at the tests' state folder by MLOPS_STATE_DIR."""
    env = subprocess_env()
    env["MLOPS_STATE_DIR"] = project.settings.state_dir
    return subprocess.run(
        [sys.executable, "-m", "mlops_assets.commands.champion", "--model", project.settings.name, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rollback_from_the_command_line(story):
    project = story.project
    assert aliases(project) == {"champion": "2", "previous_champion": "1"}

    status = cli(project, "status")
    assert status.returncode == 0, status.stderr
    assert f"champion: version 2 (READY; dataset version {story.better}" in status.stdout
    assert f"previous_champion: version 1 (READY; dataset version {story.good}" in status.stdout

    try:
        back = cli(project, "rollback")
        assert back.returncode == 0, back.stderr
        assert "champion: version 2 -> version 1" in back.stdout
        assert "previous_champion: version 1 -> none" in back.stdout  # version 1 replaced nothing
        assert aliases(project) == {"champion": "1", "previous_champion": None}
        assert set(alias_statuses(project).values()) == {"READY"}

        # Nothing before version 1: refused, clearly, and nothing moves.
        again = cli(project, "rollback")
        assert again.returncode == 1
        assert "rollback refused" in again.stderr and "nothing to roll back to" in again.stderr
        assert aliases(project) == {"champion": "1", "previous_champion": None}

        # Rerunning version 2's deployment does not undo the rollback behind the operator's back.
        rerun = run_assets(project, story.instance, story.better, ["deployed_model"])
        assert not rerun.success and "was champion before" in step_error(rerun, "deployed_model")
        assert aliases(project) == {"champion": "1", "previous_champion": None}

        # A batch run scores with whichever version is champion now.
        rescored = run_assets(project, story.instance, story.better, ["batch_predictions"])
        assert rescored.success
        scored = pd.read_parquet(project.settings.predictions_dir / f"{story.better}.parquet")
        assert set(scored["model_version"]) == {"1"}
    finally:
        forward = cli(project, "rollback", "--to", "2")
        assert forward.returncode == 0, forward.stderr
        assert run_assets(project, story.instance, story.better, ["batch_predictions"]).success
    assert "champion: version 1 -> version 2" in forward.stdout
    assert aliases(project) == {"champion": "2", "previous_champion": "1"}
    assert set(alias_statuses(project).values()) == {"READY"}


def test_rollback_refuses_a_target_that_is_not_a_ready_version(story):
    project = story.project
    before = aliases(project)
    with pytest.raises(registry.DeploymentRefused, match="does not exist or is not READY"):
        rollback(project.tracking, project.settings.model_name, to_version="99")
    with pytest.raises(registry.DeploymentRefused, match="already the champion"):
        rollback(project.tracking, project.settings.model_name, to_version=before["champion"])
    assert aliases(project) == before
