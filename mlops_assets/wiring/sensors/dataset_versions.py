"""The dataset-version sensor of each dataset: new versions of its source become partitions and one run each.

The scanning logic is a plain function (`infra/sources/scanning.scan_versions`) over a data source and what the
Dagster instance recorded, so that tests and benchmarks call it without a sensor context. What it remembers lives
in its cursor, and
what was ingested is the instance's (raw_dataset's data_version): a daemon on another host, a lost cursor and the
main job all see the same. The stage modules are imported inside the sensor, so that loading the definitions stays
light.
"""

import json

import dagster as dg

from mlops_assets.infra.sources import data_source
from mlops_assets.infra.sources.scanning import VersionScan, scan_versions
from mlops_assets.infra.version_keys import version_sort_key
from mlops_assets.settings import DatasetSettings, ModelSettings
from mlops_assets.wiring import jobs, records
from mlops_assets.wiring.partitions import version_partitions
from mlops_assets.wiring.resources import MLflowTracking


def verify_run_request(dataset: DatasetSettings, key: str, content_hash: str) -> dg.RunRequest:
    """A run of raw_dataset alone for an ingested version whose content changed (or came back): raw_dataset fails
    its version_unchanged check and the run, saying to land a new version (or passes again). One per content."""
    return dg.RunRequest(
        partition_key=key,
        run_key=f"verify:{key}:{content_hash[:12]}",
        asset_selection=[dg.AssetKey([dataset.name, "raw_dataset"])],
    )


def ingest_run_request(
    dataset: DatasetSettings, models_with_champion: dict[str, bool], models, key: str, run_key: str | None = None
) -> dg.RunRequest:
    """One run per version and content (the run key names it: `ingest:<key>`, and a retry's names its content):
    the version is ingested once, and each model on the dataset takes it in the same run.

    A model with a champion: features, scoring and monitoring; its retraining sensor decides about training from the
    result. A model without one (its first version): features and training straight away, nothing to monitor yet.
    """
    selection = [dg.AssetKey([dataset.name, "raw_dataset"])]
    for model in models:
        chosen = (
            jobs.monitoring_selection(model) if models_with_champion[model.name] else jobs.training_selection(model)
        )
        selection += [key for key in jobs.ingestion_selection(model) + chosen if key not in selection]
    return dg.RunRequest(partition_key=key, run_key=run_key or f"ingest:{key}", asset_selection=selection)


def adopt_new_models(
    instance: dg.DagsterInstance, dataset: DatasetSettings, models: list[ModelSettings], adopted, scan: VersionScan
) -> tuple[list[str], list[dg.RunRequest]]:
    """A model added to a dataset that already has versions trains on the newest ingested one (its first version).

    The sensor remembers which models it serves; one it has not served before gets a training run for the newest
    version that was ingested (a version of this tick is requested with every model anyway). While none is (a first
    version's run, requested before the model was added, may still be on its way), the model waits unserved, unless
    this tick requests a version: that run trains it. On a cursor of the layout before this (no "models"), every
    model counts as served.
    """
    names = [m.name for m in models]
    if adopted is None:
        return names, []
    new = [m for m in models if m.name not in adopted]
    if not new:
        return names, []
    raw_key = dg.AssetKey([dataset.name, "raw_dataset"])
    keys = instance.get_dynamic_partitions(dataset.partitions_name)
    ingested = [key for key in keys if key not in scan.new and records.data_version(instance, raw_key, key)]
    if not ingested:
        if scan.new or scan.retry:
            return names, []
        return [name for name in names if name in adopted], []
    newest = max(ingested, key=version_sort_key)
    requests = [
        dg.RunRequest(
            partition_key=newest,
            run_key=f"adopt:{model.name}:{newest}",
            asset_selection=jobs.ingestion_selection(model) + jobs.training_selection(model),
        )
        for model in new
    ]
    return names, requests


def dataset_version_sensor(dataset: DatasetSettings, models: list[ModelSettings]) -> dg.SensorDefinition:
    """The sensor of one dataset: its new versions become partitions and one run each, for every model on it."""
    partitions = version_partitions(dataset)
    raw_key = dg.AssetKey([dataset.name, "raw_dataset"])

    @dg.sensor(
        name=f"{dataset.name}_version_sensor",
        job_name=jobs.pipeline_job_name(dataset),
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Adds a partition of {partitions.name} and requests one run for each new version of the "
        f"{dataset.name} dataset once it has settled (data_source.quiet_period_seconds, or a .landed manifest): its "
        f"ingestion, and for each model on it ({', '.join(m.name for m in models) or 'none yet'}) training (no "
        "champion yet) or scoring and monitoring. Refuses names that are not valid version keys and symbolic links. "
        "For a version that changes after it was ingested it requests a raw_dataset run, which fails its "
        "version_unchanged check (versions are immutable: land a new version); a version that never ingested is "
        "retried when it changes.",
    )
    def version_sensor(context: dg.SensorEvaluationContext, mlflow_tracking: MLflowTracking) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        instance = context.instance
        with data_source(dataset) as source:
            scan = scan_versions(
                source,
                cursor,
                lambda keys: set(instance.get_existing_dynamic_partitions(partitions.name, keys)),
                lambda key: records.data_version(instance, raw_key, key),
                recorded_parts=lambda key: records.latest_metadata(instance, raw_key, key).get("part_hashes"),
            )

        for name, reason in scan.refused.items():
            context.log.error(f"Refused dataset version {name!r}: {reason}. It was not added.")
        verify = []
        for key, (message, content) in scan.changed.items():
            context.log.error(message)
            verify.append(verify_run_request(dataset, key, content))
        for key, content in scan.restored.items():
            context.log.info(f"Dataset version {key!r} matches its recorded data_version again.")
            verify.append(verify_run_request(dataset, key, content))

        requested = [(key, None) for key in scan.new] + list(scan.retry.items())
        champions = {}
        if requested:
            from mlops_assets.stages.registry import current_champion

            champions = {m.name: current_champion(mlflow_tracking, m.model_name) is not None for m in models}
        run_requests = [
            ingest_run_request(dataset, champions, models, key, run_key) for key, run_key in requested
        ] + verify
        adopted, adopting = adopt_new_models(instance, dataset, models, cursor.get("models"), scan)
        scan.cursor["models"] = adopted
        run_requests += adopting
        quiet = dataset.data_source.quiet_period_seconds
        waiting = (
            f"; waiting for {', '.join(scan.settling)} to settle (quiet period {quiet:g} s)" if scan.settling else ""
        )
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[partitions.build_add_request(scan.new)] if scan.new else [],
            cursor=json.dumps(scan.cursor),
            skip_reason=None if run_requests else f"no new dataset versions{waiting}",
        )

    return version_sensor
