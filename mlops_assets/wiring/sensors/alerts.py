"""Failed runs go to the notifier once each, whichever path ran them, except runs that stopped at a gate.

Three paths see a failed run, and each one sends it unless another one did (`alert_failed_run`):

- the failed step itself (`failed_run_alert_hook`, on every pipeline asset): wherever a run executes, in the main
  job, `dagster asset materialize`, a run the daemon launched (a sensor's, or one from the UI), on any executor;
- the main job (wiring/sensor_driver.py) for the runs it executes or marks failed, as the daemon's sensor would;
- `run_failure_alert_sensor` in the daemon, for every run of this code location, in-process runs included: a run
  that failed outside its steps (a killed run worker), or whose alert could not be delivered.

A run that was alerted carries the tag ALERT_TAG (visible in the UI). The check and the tag are one step under the
alert lock (infra/locks.py), so a daemon and the main job that see the same failed run at once send it once.
"""

import dagster as dg

from mlops_assets.infra.alerts import Notifier
from mlops_assets.infra.locks import lock_for

ALERT_TAG = "mlops_assets/failure_alert"


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


def alert_failed_run(instance: dg.DagsterInstance, run_id: str, notifier: Notifier, sender: str) -> bool:
    """Send failed run `run_id` to the notifier unless it was sent already or stopped only at a gate (then
    model_evaluation sent the "gates failed" alert). True when this call posted it.

    The alert names the run and its failed steps, never data. The tag says who sent it; a post that failed leaves
    no tag, so the next path to see the run tries again.
    """
    with lock_for("alerts", instance.root_directory).hold():
        run = instance.get_run_by_id(run_id)
        if run is None or ALERT_TAG in run.tags or failed_only_on_gates(instance, run_id):
            return False
        steps = sorted(
            {event.step_key for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)}
        )
        if steps:
            what = f"failed step{'s' if len(steps) > 1 else ''}: {', '.join(steps)}"
        else:  # failed outside its steps: killed, or marked failed
            failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            what = failures[-1].dagster_event.message if failures else "failed"
        partition = run.tags.get("dagster/partition", "")
        posted = notifier.notify(
            f"Run failed: {run.job_name}{f'[{partition}]' if partition else ''}", f"run {run_id}: {what}", "error"
        )
        if posted or not notifier.webhook_url:
            instance.add_run_tags(run_id, {ALERT_TAG: f"{'posted' if posted else 'logged'} by {sender}"})
        return posted


@dg.failure_hook(required_resource_keys={"notifier"})
def failed_run_alert_hook(context: dg.HookContext) -> None:
    """The alert from inside the run, as soon as a step fails: a run of the CLI has no daemon to send it."""
    alert_failed_run(context.instance, context.run_id, context.resources.notifier, f"step {context.step_key}")


def of_this_code_location(repository: dg.RepositoryDefinition | None, run: dg.DagsterRun) -> bool:
    """A run of this code location's jobs and assets (in-process runs carry no code location to match on): the
    `<dataset>_pipeline` and `<dataset>_multiprocess` jobs (and the implicit asset job), over `<model>/<asset>` and
    `<dataset>/raw_dataset` keys."""
    if repository is None:  # a context that a test built
        return True
    keys = repository.asset_graph.get_all_asset_keys()
    return repository.has_job(run.job_name) and all(key in keys for key in run.asset_selection or ())


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Dagster's default matches a run's code location, which in-process runs (the main job's, the CLI's) lack.
    monitor_all_code_locations=True,
    description="Sends every failed run of this code location to the notifier (logs; a webhook when configured) "
    "that no other path sent: the failed step's hook and the main job send theirs, and tag the run.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, notifier: Notifier) -> None:
    if of_this_code_location(context.repository_def, context.dagster_run):
        alert_failed_run(context.instance, context.dagster_run.run_id, notifier, "run_failure_alert_sensor")
