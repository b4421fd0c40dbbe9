"""Sensors: new dataset-version folders become partitions and runs.

The scanning logic is a plain function (`scan_versions`) so that tests and benchmarks call it without Dagster.
Like assets.py, this module imports the stage modules (pandas, MLflow) inside the functions that use them, so that
loading the definitions stays light.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from mlops_assets.alerts import Notifier
from mlops_assets.config import ProjectSettings
from mlops_assets.jobs import INGESTION_ASSETS, MONITORING_ASSETS, TRAINING_ASSETS, version_pipeline_job
from mlops_assets.partitions import DATA_SUFFIXES, LANDING_PREFIX, dataset_version_partitions, version_key_problem
from mlops_assets.resources import MLflowTracking

if TYPE_CHECKING:
    from mlops_assets.monitoring import MonitoringSignal


def folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a version folder (names, sizes, modification times of its data files).

    A full content hash is the raw asset's data_version; this stat-only fingerprint keeps a sensor tick cheap
    and still notices a file that was rewritten, added or removed after ingestion.
    """
    entries = sorted(
        (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
        for entry in os.scandir(folder)
        if entry.is_file() and entry.name.lower().endswith(DATA_SUFFIXES)
    )
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


# Existing versions whose files are re-fingerprinted per tick, in turn. A tick's work then grows with what is new
# (plus this constant), not with how many versions exist; with 10,000 versions and a 15 s interval every version
# is looked at again every 12.5 minutes.
CHANGE_CHECKS_PER_TICK = 200
# A folder listing is trusted to be unchanged while the folder's mtime is; an mtime this recent may still change
# within the same timestamp tick of a coarse filesystem clock, so such a listing is not trusted (git's "racy" rule).
RACY_MTIME_NS = 2_000_000_000


@dataclass
class VersionScan:
    new: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # folder name -> reason
    changed: list[str] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)


def scan_versions(
    versions_dir: Path, cursor: dict, existing_partitions: Callable[[list[str]], set[str]] = lambda keys: set()
) -> VersionScan:
    """Compare the version folders on disk with what the cursor has seen.

    cursor = {"seen": {key: fingerprint}, "refused": [names], "changed": {key: fingerprint}, "listed_mtime": ns,
    "next_check": i}. The folder is listed only when its mtime moved since the last listing (a version landed,
    was renamed or removed); then a key is new when it is neither in the cursor nor already a partition
    (`existing_partitions(candidates)` says which are, so a lost cursor never re-requests old versions). Each
    tick also re-fingerprints the next CHANGE_CHECKS_PER_TICK seen versions, round-robin, to notice files changed
    after ingestion. Refusals and changes are reported once each.
    """
    seen: dict[str, str] = dict(cursor.get("seen", {}))
    refused_before = set(cursor.get("refused", []))
    changed_before: dict[str, str] = dict(cursor.get("changed", {}))
    listed_mtime = cursor.get("listed_mtime")
    scan = VersionScan()
    try:
        mtime = os.stat(versions_dir).st_mtime_ns
    except FileNotFoundError:
        mtime = None

    if mtime is not None and mtime != listed_mtime:
        candidates = []
        for entry in sorted(os.scandir(versions_dir), key=lambda e: e.name):
            name = entry.name
            if name in seen or name in refused_before or name.startswith(LANDING_PREFIX) or not entry.is_dir():
                continue
            problem = version_key_problem(name)
            if problem:
                scan.refused[name] = problem
                refused_before.add(name)
            else:
                candidates.append(name)
        partitions = existing_partitions(candidates) if candidates else set()
        for name in candidates:
            seen[name] = folder_fingerprint(Path(versions_dir) / name)
            if name not in partitions:
                scan.new.append(name)
        listed_mtime = mtime if time.time_ns() - mtime > RACY_MTIME_NS else None

    keys = list(seen)
    start = cursor.get("next_check", 0) % len(keys) if keys else 0
    window = (keys[start:] + keys[:start])[:CHANGE_CHECKS_PER_TICK]
    for name in window:
        if name in scan.new or not (Path(versions_dir) / name).is_dir():
            continue
        fingerprint = folder_fingerprint(Path(versions_dir) / name)
        if fingerprint != seen[name] and changed_before.get(name) != fingerprint:
            scan.changed.append(name)
            changed_before[name] = fingerprint
    scan.cursor = {
        "seen": seen,
        "refused": sorted(refused_before),
        "changed": changed_before,
        "listed_mtime": listed_mtime,
        "next_check": (start + len(window)) % len(keys) if keys else 0,
    }
    return scan


def ingest_run_request(key: str, has_champion: bool) -> dg.RunRequest:
    """One run per version, ever (the run key names it).

    With a champion: ingest, score and monitor; the retraining sensor decides about training from the result.
    Without one (the first version): ingest and train straight away, there is nothing to monitor yet.
    """
    selection = INGESTION_ASSETS + (MONITORING_ASSETS if has_champion else TRAINING_ASSETS)
    return dg.RunRequest(partition_key=key, run_key=f"ingest:{key}", asset_selection=selection)


@dg.sensor(
    job=version_pipeline_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition and requests an ingestion run for each new folder under data/versions/. "
    "Refuses folder names that are not valid version keys, and reports versions whose files changed after "
    "they were ingested (versions are immutable: land a new version instead).",
)
def dataset_version_sensor(
    context: dg.SensorEvaluationContext, settings: ProjectSettings, mlflow_tracking: MLflowTracking
) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    scan = scan_versions(
        settings.versions_dir,
        cursor,
        lambda keys: set(context.instance.get_existing_dynamic_partitions(dataset_version_partitions.name, keys)),
    )

    for name, reason in scan.refused.items():
        context.log.error(f"Refused dataset version folder {name!r}: {reason}. It was not added.")
    events = []
    for key in scan.changed:
        message = (
            f"Dataset version {key!r} changed after it was ingested; versions are immutable, so it is not "
            "re-ingested. Restore its files or land the data as a new version."
        )
        context.log.error(message)
        events.append(dg.AssetObservation(asset_key="raw_dataset", partition=key, metadata={"error": message}))

    has_champion = False
    if scan.new:
        from mlops_assets.deployment import current_champion

        has_champion = current_champion(mlflow_tracking, settings.model_name) is not None
    return dg.SensorResult(
        run_requests=[ingest_run_request(key, has_champion) for key in scan.new],
        dynamic_partitions_requests=[dataset_version_partitions.build_add_request(scan.new)] if scan.new else [],
        asset_events=events,
        cursor=json.dumps(scan.cursor),
        skip_reason=None if scan.new else "no new dataset versions",
    )


def retraining_decisions(records, history: "list[MonitoringSignal]", policy) -> tuple[list, list[dg.RunRequest]]:
    """Apply the retraining policy to new model_monitoring materializations, oldest first.

    Returns the `retraining_decision` materializations (every decision, with its reasons, visible in the UI)
    and the run requests for the versions that retrain. `history` is extended in place.
    """
    from mlops_assets.monitoring import MonitoringSignal, decide_retraining

    events, requests = [], []
    for record in records:
        event = record.asset_materialization
        key, meta = event.partition, event.metadata
        degraded, drift = bool(meta["degraded"].value), bool(meta["dataset_drift"].value)
        decision = decide_retraining(history, key, degraded, drift, record.timestamp, policy)
        evidence = (
            f"{meta['metric'].value} {meta['realized_metric'].value:.2f} on new rows against "
            f"{meta['evaluated_metric'].value:.2f} evaluated ({meta['relative_change'].value:+.0%}, "
            f"margin {policy.degradation_margin:.0%}); {meta['drifted_share'].value:.0%} of features drifted"
        )
        history.append(MonitoringSignal(key, degraded, drift, decision.retrain, record.timestamp))
        events.append(
            dg.AssetMaterialization(
                asset_key="retraining_decision",
                partition=key,
                description="retrain" if decision.retrain else "no retraining",
                metadata={
                    "retrain": decision.retrain,
                    "triggered": decision.triggered,
                    "reasons": dg.MetadataValue.md("\n".join(f"- {reason}" for reason in decision.reasons)),
                    "evidence": evidence,
                    "degraded": degraded,
                    "dataset_drift": drift,
                    "monitoring_storage_id": record.storage_id,
                },
            )
        )
        if decision.retrain:
            requests.append(dg.RunRequest(partition_key=key, run_key=f"retrain:{key}", asset_selection=TRAINING_ASSETS))
    return events, requests


def recorded_decisions(instance: dg.DagsterInstance, limit: int = 100) -> dict:
    """The retraining sensor's state rebuilt from its own recorded decisions, for a start without a cursor.

    Every decision is a retraining_decision materialization that names the monitoring result it read, so a lost
    cursor (or the daemon taking over from the main job) resumes after the last decision instead of deciding again.
    """
    records = instance.fetch_materializations(dg.AssetKey("retraining_decision"), limit=limit).records
    history, after = [], 0
    for record in sorted(records, key=lambda r: r.storage_id):
        meta = record.asset_materialization.metadata
        history.append(
            {
                "version": record.asset_materialization.partition,
                "degraded": bool(meta["degraded"].value),
                "dataset_drift": bool(meta["dataset_drift"].value),
                "retrained": bool(meta["retrain"].value),
                "at": record.timestamp,
            }
        )
        after = max(after, int(meta["monitoring_storage_id"].value))
    return {"after_storage_id": after, "history": history}


@dg.sensor(
    job=version_pipeline_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads new model_monitoring results and applies the retraining policy of config.RetrainSettings "
    "(degradation or drift, k of the last n versions, cooldown, daily cap). Records every decision as a "
    "retraining_decision materialization and requests training, evaluation and deployment when it says retrain.",
)
def retraining_sensor(context: dg.SensorEvaluationContext, settings: ProjectSettings) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else recorded_decisions(context.instance)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("model_monitoring"), after_storage_id=cursor["after_storage_id"]),
        limit=100,
        ascending=True,
    ).records
    from mlops_assets.monitoring import MonitoringSignal

    history = [MonitoringSignal(**signal) for signal in cursor["history"]]
    events, requests = retraining_decisions(records, history, settings.retrain)
    after = records[-1].storage_id if records else cursor["after_storage_id"]
    keep = max(settings.retrain.trigger_n, settings.retrain.cooldown_versions, 1) + 50  # enough for the policy
    return dg.SensorResult(
        run_requests=requests,
        asset_events=events,
        cursor=json.dumps({"after_storage_id": after, "history": [vars(s) for s in history[-keep:]]}),
        skip_reason=None if records else "no new monitoring results",
    )


def failed_only_on_gates(instance: dg.DagsterInstance, run_id: str) -> bool:
    """A run that stopped at a failed blocking gate is the pipeline working as intended, not an error."""
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return (
        bool(failures)
        and all(event.step_key == "model_evaluation" for event in failures)
        and any(
            not evaluation.passed
            for evaluation in (
                event.dagster_event.event_specific_data
                for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
            )
        )
    )


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends every failed run of this code location to the notifier (logs; a webhook when configured).",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, notifier: Notifier) -> None:
    run = context.dagster_run
    if failed_only_on_gates(context.instance, run.run_id):
        return  # model_evaluation already sent the "gates failed" alert, with the gates' names
    partition = run.tags.get("dagster/partition", "")
    notifier.notify(
        f"Run failed: {run.job_name}{f'[{partition}]' if partition else ''}",
        f"run {run.run_id}: {context.failure_event.message}",
        severity="error",
    )
