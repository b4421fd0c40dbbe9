"""The run-failure alert sensor: every failed run goes to the notifier, except runs that stopped at a gate."""

import dagster as dg

from mlops_assets.infra.alerts import Notifier


def failed_only_on_gates(instance: dg.DagsterInstance, run_id: str) -> bool:
    """A run that stopped at a failed blocking gate is the pipeline working as intended, not an error."""
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return (
        bool(failures)
        and all(event.step_key.endswith("model_evaluation") for event in failures)  # `<model>__model_evaluation`
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
