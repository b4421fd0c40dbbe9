"""Driving the project's sensors in-process, as the daemon would: evaluate a sensor, apply its partition requests
and asset events to the instance, and run what it requests in this process (the main job's engine).

The runs are real runs in the persistent instance, tagged with the sensor and run key, so the daemon later recognises
them. Run requests are kept in a state file until they have run, so a driver killed mid-run finishes them next time.
A run that fails is alerted, as the daemon's run_failure_alert_sensor would (once: see wiring/sensors/alerts.py).
"""

import json
import os
import time
import uuid
from pathlib import Path

# The run's events all go to the instance (dagster dev shows them); the terminal shows progress lines and, for a
# failed run, each failed step's own message (failure_messages), not Dagster's stack trace.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SensorDriver:
    """Evaluates sensors against a persistent instance and runs what they request, in this process."""

    def __init__(self, defs, instance, cursor_file: Path):
        self.defs = defs
        self.instance = instance
        self.cursor_file = cursor_file
        state = json.loads(cursor_file.read_text()) if cursor_file.exists() else {}
        self.cursors: dict[str, str] = state.get("cursors", {})
        # Run requests of a tick are saved with its cursor and removed once run: a driver killed in the middle
        # of a run runs that request again on its next start (the daemon keeps requested runs in its queue).
        self.pending: list[dict] = state.get("pending", [])
        # The run this driver's process is executing, so that a later driver can tell a run a killed driver left
        # behind (its process is gone) from one a live driver is running. Kept here, not as a run tag.
        self.running: dict | None = state.get("running")
        self._fail_orphaned_run()

    def _fail_orphaned_run(self) -> None:
        """The run an earlier driver was executing in a process that no longer exists (killed) is marked failed.

        An in-process run whose process was killed stays STARTED forever otherwise; once failed, its run key may be
        requested again and its MLflow runs are closed as KILLED by the next step of the same asset and partition.
        """
        if not self.running or _process_alive(self.running["pid"]):
            return
        run = self.instance.get_run_by_id(self.running["run_id"])
        if run is not None and not run.is_finished:
            self.instance.report_run_failed(run)
            self._alert(run.run_id)
        self.running = None
        self._save_state()

    def tick(self, sensor_name: str) -> list[dict]:
        import dagster as dg

        sensor = self.defs.resolve_sensor_def(sensor_name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(sensor_name),
            sensor_name=sensor_name,
            definitions=self.defs,
            resources=self.defs.resources,
        )
        result = sensor(context)  # the SensorResult, before the daemon-side resolution that needs partitions
        # What the daemon does with a tick's result: partition requests first, then runs.
        for request in result.dynamic_partitions_requests or []:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for event in result.asset_events or []:
            self.instance.report_runless_asset_event(event)
        if result.cursor is not None:
            self.cursors[sensor_name] = result.cursor
        for request in result.run_requests or []:
            self.pending.append(
                {
                    "sensor": sensor_name,
                    "job": request.job_name or sensor.job_name,
                    "partition": request.partition_key,
                    "run_key": request.run_key,
                    "assets": [key.to_user_string() for key in request.asset_selection or []],
                    "tags": dict(request.tags),
                }
            )
        self._save_state()
        return self.run_pending()

    def run_pending(self) -> list[dict]:
        outcomes = []
        while self.pending:
            outcomes.append(self._run(self.pending[0]))
            self.pending.pop(0)
            self._save_state()
        return outcomes

    def _save_state(self) -> None:
        tmp = self.cursor_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"cursors": self.cursors, "pending": self.pending, "running": self.running}))
        os.replace(tmp, self.cursor_file)

    def _alert(self, run_id: str) -> None:
        from mlops_assets.wiring.sensors.alerts import alert_failed_run

        alert_failed_run(self.instance, run_id, self.defs.resources["notifier"], "the main job")

    def _already_succeeded(self, sensor_name: str, run_key: str) -> bool:
        import dagster as dg

        records = self.instance.get_run_records(
            dg.RunsFilter(
                tags={"dagster/sensor_name": sensor_name, "dagster/run_key": run_key},
                statuses=[dg.DagsterRunStatus.SUCCESS],
            ),
            limit=1,
        )
        return bool(records)

    def _run(self, request: dict) -> dict:
        import dagster as dg

        sensor, run_key = request["sensor"], request["run_key"]
        outcome = {"sensor": sensor, "partition": request["partition"], "run_key": run_key}
        if run_key and self._already_succeeded(sensor, run_key):
            return {**outcome, "status": "skipped (ran before)"}
        tags = {**request["tags"], "dagster/sensor_name": sensor}
        if run_key:
            tags["dagster/run_key"] = run_key
        started = time.perf_counter()
        self.running = {"run_id": str(uuid.uuid4()), "pid": os.getpid()}
        self._save_state()
        result = self.defs.resolve_job_def(request["job"]).execute_in_process(
            instance=self.instance,
            partition_key=request["partition"],
            asset_selection=[dg.AssetKey.from_user_string(key) for key in request["assets"]] or None,
            tags=tags,
            run_config=QUIET_LOGS,
            raise_on_error=False,
            run_id=self.running["run_id"],
        )
        self.running = None  # saved with the next change of state
        if not result.success:
            self._alert(result.run_id)  # a failed step's hook has usually sent it; this sends any other failure
        return {
            **outcome,
            "status": "success" if result.success else "failure",
            "run_id": result.run_id,
            "seconds": round(time.perf_counter() - started, 2),
        }


def failure_messages(instance, run_id: str) -> list[str]:
    """Each failed step of a run with its own message: a dg.Failure's description, else the user's exception."""
    import dagster as dg

    messages = []
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = event.dagster_event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description
        else:
            error = data.error
            while error.cause is not None:  # Dagster wraps the user's exception: show that one
                error = error.cause
            text = error.message.strip()
        messages.append(f"{event.step_key}: {text}")
    return messages


def settling_versions(driver: SensorDriver, sensor_name: str) -> list[str]:
    """Versions a dataset-version sensor is waiting for (still changing within the quiet period)."""
    cursor = driver.cursors.get(sensor_name)
    return sorted(json.loads(cursor).get("settling", {})) if cursor else []


def run_until_quiet(driver: SensorDriver, sensors: list[str]) -> list[dict]:
    """Tick the sensors, run what they request, and repeat until no sensor requests anything."""
    outcomes: list[dict] = driver.run_pending()  # requests a killed earlier driver did not finish
    while True:
        new = [outcome for name in sensors for outcome in driver.tick(name)]
        outcomes.extend(new)
        if not new:
            return outcomes
