"""Two models on one dataset stand apart: one model's failed gate, retraining and rollback leave the other's registry,
aliases, monitoring history, retraining decisions and predictions exactly as they were.

Real runs of the dataset's pipeline job with both models in one code location, on a real Dagster instance and a real
MLflow registry. The two are the project's first two models when it has two (the demo: a regression and a
classification on the bike data); otherwise the test model and a copy of it under another name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components.project import project_models
from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.stages.registry import CHAMPION, PREVIOUS, alias_version
from mlops_assets.stages.rollback import rollback
from mlops_assets.wiring import jobs
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensor_driver import SensorDriver
from tests.conftest import FAST_SEARCH, TEST_MODEL, fast_estimator, land, model_settings

pytestmark = pytest.mark.slow
# No split can have 10^9 rows in a leaf: a constant prediction that meets no threshold and loses to the baseline.
HOPELESS_SPACE = {"max_iter": [1], "learning_rate": [0.001], "min_samples_leaf": [10**9]}


def two_models(root: Path):
    names = list(project_models())
    first = model_settings(root, search=FAST_SEARCH, estimator=fast_estimator())
    if len(names) > 1:
        other = next(name for name in names if name != TEST_MODEL)
        second = model_settings(root, name=other, search=FAST_SEARCH, estimator=fast_estimator(project_models()[other]))
    else:
        second = first.model_copy(update={"name": f"{first.name}_twin", "registered_model": None})
    return first, second


def run(models, tracking, instance, key: str, selection: list[dg.AssetKey]):
    defs = build_definitions(models=models, mlflow_tracking=tracking, notifier=Notifier())
    return defs.resolve_job_def(jobs.pipeline_job_name(models[0].dataset)).execute_in_process(
        instance=instance, partition_key=key, asset_selection=selection, raise_on_error=False
    )


def first_run(model) -> list[dg.AssetKey]:
    return jobs.ingestion_selection(model) + jobs.training_selection(model)


def state_of(model, client, instance: dg.DagsterInstance) -> dict:
    """Everything of one model that another model's work must never touch, as comparable values."""
    versions = client.search_model_versions(f"name = '{model.model_name}'")
    registry = sorted(
        (v.version, v.run_id, v.status, sorted(v.aliases), sorted(v.tags.items())) for v in versions
    )  # fmt: skip
    aliases = {alias: alias_version(client, model.model_name, alias) for alias in (CHAMPION, PREVIOUS)}
    records = {}
    for asset in ("model_monitoring", "retraining_decision", "deployed_model", "model_evaluation"):
        found = instance.fetch_materializations(model.key(asset), limit=1000).records
        records[asset] = sorted((r.storage_id, r.asset_materialization.partition) for r in found)
    predictions = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(model.predictions_dir.glob("*"))
    }
    return {"registry": registry, "aliases": aliases, "records": records, "predictions": predictions}


def test_one_models_failed_gate_retraining_and_rollback_leave_the_other_as_it_was(tmp_path, instance, versions, keys):
    first, second = two_models(tmp_path)
    state = tmp_path / "state"
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{state.resolve() / 'mlflow.db'}", state_dir=str(state))
    client = tracking.client()
    both = [first, second]
    for key in keys[:2]:
        land(first, versions, key)
        instance.add_dynamic_partitions(first.dataset.partitions_name, [key])
    # Version 1: both models train; version 2: both are scored and monitored.
    selection = list(dict.fromkeys(first_run(first) + first_run(second)))
    assert run(both, tracking, instance, keys[0], selection).success
    monitoring = list(
        dict.fromkeys(
            key for model in both for key in jobs.ingestion_selection(model) + jobs.monitoring_selection(model)
        )
    )
    assert run(both, tracking, instance, keys[1], monitoring).success
    # The second model's retraining sensor records its decision (and runs what it requests), as the daemon would.
    driver = SensorDriver(
        build_definitions(models=both, mlflow_tracking=tracking, notifier=Notifier()), instance, tmp_path / "cursors"
    )
    driver.tick(f"{second.name}_retraining_sensor")
    before = state_of(second, client, instance)
    assert before["aliases"][CHAMPION] and before["records"]["model_monitoring"], before
    assert before["records"]["retraining_decision"] and before["predictions"], before

    # A failed gate of the first model: its candidate on version 2 cannot fit.
    hopeless = first.model_copy(
        update={"estimator": first.estimator.model_copy(update={"search_space": HOPELESS_SPACE})}
    )
    failed = run([hopeless, second], tracking, instance, keys[1], jobs.training_selection(hopeless))
    assert not failed.success
    assert alias_version(client, first.model_name, CHAMPION) == "1"
    assert state_of(second, client, instance) == before

    # A retraining of the first model that promotes, then its rollback.
    assert run(both, tracking, instance, keys[1], jobs.training_selection(first)).success
    assert alias_version(client, first.model_name, CHAMPION) == "2"
    assert state_of(second, client, instance) == before
    rollback(tracking, first.model_name)
    assert alias_version(client, first.model_name, CHAMPION) == "1"
    assert state_of(second, client, instance) == before
