"""The dataset-version sensor: new folders under data/versions/ become partitions and one run each.

The scanning logic is a plain function (`scan_versions`) so that tests and benchmarks call it without Dagster.
The stage modules (pandas, MLflow) are imported inside the sensor, so that loading the definitions stays light.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ...config import ProjectSettings
from ...partitions import (
    DATA_SUFFIXES,
    LANDING_PREFIX,
    dataset_version_partitions,
    version_key_problem,
    version_sort_key,
)
from ...resources import MLflowTracking
from .. import jobs


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
        for entry in sorted(os.scandir(versions_dir), key=lambda e: version_sort_key(e.name)):
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
    selection = jobs.INGESTION_ASSETS + (jobs.MONITORING_ASSETS if has_champion else jobs.TRAINING_ASSETS)
    return dg.RunRequest(partition_key=key, run_key=f"ingest:{key}", asset_selection=selection)


@dg.sensor(
    job=jobs.version_pipeline_job,
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
        from ...stages.registry import current_champion

        has_champion = current_champion(mlflow_tracking, settings.model_name) is not None
    return dg.SensorResult(
        run_requests=[ingest_run_request(key, has_champion) for key in scan.new],
        dynamic_partitions_requests=[dataset_version_partitions.build_add_request(scan.new)] if scan.new else [],
        asset_events=events,
        cursor=json.dumps(scan.cursor),
        skip_reason=None if scan.new else "no new dataset versions",
    )
