"""The retraining sensor of each model: its new monitoring results go through its retraining policy
(stages/retraining.py), with its own history, cooldown and cap.

Every decision is recorded as a `retraining_decision` materialization with its reasons and the evidence, so the UI
shows why a version retrained or not; a "retrain" requests training, evaluation, deployment and scoring for that
version — unless that version is already being trained (a whole-pipeline run from the UI, say) or was trained on
the same data with the same code: one training per version, whichever path started it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import dagster as dg

from mlops_assets.settings import ModelSettings
from mlops_assets.wiring import jobs

if TYPE_CHECKING:
    from mlops_assets.stages.retraining import MonitoringSignal


# A run in these states will train (or is training) the version it is for.
TRAINING_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def training_covered(instance: dg.DagsterInstance, model: ModelSettings, key: str) -> str | None:
    """Why version `key` needs no retraining run, or None: a run training it is in progress, or it was trained
    on its current data with the current training code (run keys alone cannot tell, a UI run carries none)."""
    from mlops_assets.wiring import records
    from mlops_assets.wiring.assets.training import TRAINING_CODE_VERSION

    candidate = model.key("candidate_model")
    in_progress = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": key}, statuses=TRAINING_STATUSES))
    for record in in_progress:
        selection = record.dagster_run.asset_selection
        if selection is None or candidate in selection:  # None: the whole job, which trains
            return f"{key} is already being trained by run {record.dagster_run.run_id[:8]}"
    trained = records.latest_record(instance, candidate, key)
    if trained is None:
        return None
    event = trained.asset_materialization
    manifest = event.metadata.get("manifest")
    same_data = manifest is not None and manifest.value.get("data_hash") == records.data_version(
        instance, model.raw_key, key
    )
    if same_data and event.tags.get("dagster/code_version") == TRAINING_CODE_VERSION:
        return f"{key} was already trained on this data with this code (run {trained.run_id[:8]})"
    return None


def retraining_outcome(instance: dg.DagsterInstance, model: ModelSettings, key: str) -> str | None:
    """How the model's retraining of version `key` ended, for the cooldown: its candidate's gates and deployment,
    read from the instance; None while the candidate has not been evaluated (or deployed) yet."""
    from mlops_assets.stages.retraining import FAILED_GATES, NOT_PROMOTED, PROMOTED
    from mlops_assets.wiring import records

    evaluation = records.latest_metadata(instance, model.key("model_evaluation"), key)
    if not evaluation:
        return None
    if not evaluation["gates_passed"]:
        return FAILED_GATES
    deployed = records.latest_metadata(instance, model.key("deployed_model"), key)
    if not deployed:
        return None
    return PROMOTED if deployed["promoted"] else NOT_PROMOTED


def retraining_decisions(
    model: ModelSettings, records, history: list[MonitoringSignal], covered=lambda key: None, outcome=lambda key: None
) -> tuple[list, list[dg.RunRequest]]:
    """Apply the retraining policy to new model_monitoring materializations, oldest first.

    Returns the `retraining_decision` materializations (every decision, with its reasons, visible in the UI) and
    the run requests for the versions that retrain. `history` is extended in place with the results that vote; a
    result with nothing to judge ("nothing to monitor") is recorded as "no retraining" and does not vote.
    `covered(key)` says why a version that should retrain needs no run of its own (see `training_covered`);
    `outcome(key)` how an earlier retraining ended (see `retraining_outcome`).
    """
    from mlops_assets.stages.monitoring import MonitoringResult
    from mlops_assets.stages.retraining import MonitoringSignal, decide_retraining

    policy = model.retrain
    events, requests = [], []
    for record in records:
        key = record.asset_materialization.partition
        result = MonitoringResult.from_metadata(record.asset_materialization.metadata)
        if result.votes:
            decision = decide_retraining(
                history, key, result.degraded, result.dataset_drift, record.timestamp, policy, outcome
            )
            history.append(
                MonitoringSignal(key, result.degraded, result.dataset_drift, decision.retrain, record.timestamp)
            )
            retrain, triggered, reasons = decision.retrain, decision.triggered, decision.reasons
        else:
            retrain, triggered, reasons = False, False, (f"{result.status}: {result.note}",)
        skipped = covered(key) if retrain else None
        if skipped:
            reasons = (*reasons, f"not requested again: {skipped}")
        events.append(
            dg.AssetMaterialization(
                asset_key=model.key("retraining_decision"),
                partition=key,
                description="retrain" if retrain else "no retraining",
                metadata={
                    "retrain": retrain,
                    "requested": bool(retrain and not skipped),
                    "triggered": triggered,
                    "voted": result.votes,
                    "reasons": dg.MetadataValue.md("\n".join(f"- {reason}" for reason in reasons)),
                    "evidence": result.evidence(policy.degradation_margin),
                    "degraded": result.degraded,
                    "dataset_drift": result.dataset_drift,
                    "monitoring_storage_id": record.storage_id,
                },
            )
        )
        if retrain and not skipped:
            requests.append(
                dg.RunRequest(
                    partition_key=key,
                    run_key=f"retrain:{model.name}:{key}",
                    asset_selection=jobs.training_selection(model),
                )
            )
    return events, requests


def recorded_decisions(instance: dg.DagsterInstance, model: ModelSettings, limit: int = 100) -> dict:
    """The retraining sensor's state rebuilt from its own recorded decisions, for a start without a cursor.

    Every decision is a retraining_decision materialization that names the monitoring result it read, so a lost
    cursor (or the daemon taking over from the main job) resumes after the last decision instead of deciding again.
    """
    records = instance.fetch_materializations(model.key("retraining_decision"), limit=limit).records
    history, after = [], 0
    for record in sorted(records, key=lambda r: r.storage_id):
        meta = record.asset_materialization.metadata
        after = max(after, int(meta["monitoring_storage_id"].value))
        if "voted" in meta and not meta["voted"].value:
            continue  # a result with nothing to judge: not part of the policy's history
        history.append(
            {
                "version": record.asset_materialization.partition,
                "degraded": bool(meta["degraded"].value),
                "dataset_drift": bool(meta["dataset_drift"].value),
                "retrained": bool(meta["retrain"].value),
                "at": record.timestamp,
            }
        )
    return {"after_storage_id": after, "history": history}


def retraining_sensor(model: ModelSettings) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{model.name}_retraining_sensor",
        job_name=jobs.pipeline_job_name(model.dataset),
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reads {model.name}'s new model_monitoring results and applies its retraining policy "
        "(degradation or drift, k of the last n versions, a cooldown that a failed attempt starts only with "
        "cooldown_counts_failed_attempts, a daily cap). Records every decision as a retraining_decision "
        "materialization and requests training, evaluation and deployment when it says retrain.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from mlops_assets.stages.retraining import MonitoringSignal

        cursor = json.loads(context.cursor) if context.cursor else recorded_decisions(context.instance, model)
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=model.key("model_monitoring"), after_storage_id=cursor["after_storage_id"]),
            limit=100,
            ascending=True,
        ).records
        history = [MonitoringSignal(**signal) for signal in cursor["history"]]
        events, requests = retraining_decisions(
            model,
            records,
            history,
            covered=lambda key: training_covered(context.instance, model, key),
            outcome=lambda key: retraining_outcome(context.instance, model, key),
        )
        after = records[-1].storage_id if records else cursor["after_storage_id"]
        keep = max(model.retrain.trigger_n, model.retrain.cooldown_versions, 1) + 50  # enough for the policy
        return dg.SensorResult(
            run_requests=requests,
            asset_events=events,
            cursor=json.dumps({"after_storage_id": after, "history": [vars(s) for s in history[-keep:]]}),
            skip_reason=None if records else "no new monitoring results",
        )

    return sensor
