"""Alerts: a failed run reaches the notifier's webhook through the run-failure sensor (real HTTP on loopback)."""

import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.wiring.jobs import ingestion_selection
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensors.alerts import failed_only_on_gates, run_failure_alert_sensor
from tests.conftest import pipeline_job, webhook, write_version


def test_a_failed_run_is_posted_to_the_webhook(tmp_path, settings, instance, source):
    with webhook() as hook:
        notifier = Notifier(webhook_url=hook.url)
        tracking = MLflowTracking(state_dir=settings.state_dir)
        defs = build_definitions(models=[settings], mlflow_tracking=tracking, notifier=notifier)
        missing = source.columns[-1]
        write_version(settings.versions_dir, "broken", {"rows.csv": source.head(50).drop(columns=[missing])})
        instance.add_dynamic_partitions(settings.dataset.partitions_name, ["broken"])
        job = pipeline_job(settings)
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance,
            partition_key="broken",
            asset_selection=ingestion_selection(settings),
            raise_on_error=False,
        )
        assert not result.success
        assert not failed_only_on_gates(instance, result.run_id)  # a contract failure is not a gate failure

        failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name,
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"notifier": notifier},
        ).for_run_failure()
        run_failure_alert_sensor(context)

        assert hook.posts, "nothing was posted"
        alert = hook.posts[-1]
        assert alert["severity"] == "error"
        assert alert["title"] == f"Run failed: {job}[broken]"
        assert job == f"{settings.dataset.name}_pipeline"
        assert result.run_id in alert["text"]
