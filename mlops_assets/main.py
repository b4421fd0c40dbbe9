"""The main job: land the source's dataset versions one at a time and let the real sensors drive the pipeline.

    python -m mlops_assets.main              # every version of config.SourceSettings, into the instance under state/
    python -m mlops_assets.main --versions 3 # only the first three (the demo: 2011-01 … 2011-03)

Each landed version is picked up by evaluating the project's sensors against the persistent Dagster instance
(DAGSTER_HOME, state/ by default), exactly as the daemon would: their partition requests are applied and their
run requests are executed in this process, tagged with the sensor's name and run key, so `dagster dev` shows
every run afterwards. A run key that already ran successfully is not run again, so a second invocation
continues from where the instance is.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

from .config import PROJECT_ROOT


def _use_project_instance() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "state"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)


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


def settling_versions(driver: SensorDriver) -> list[str]:
    """Versions the dataset-version sensor is waiting for (still changing within the quiet period)."""
    cursor = driver.cursors.get("dataset_version_sensor")
    return sorted(json.loads(cursor).get("settling", {})) if cursor else []


def run_until_quiet(driver: SensorDriver, sensors: list[str]) -> list[dict]:
    """Tick the sensors, run what they request, and repeat until no sensor requests anything."""
    outcomes: list[dict] = driver.run_pending()  # requests a killed earlier driver did not finish
    while True:
        new = [outcome for name in sensors for outcome in driver.tick(name)]
        outcomes.extend(new)
        if not new:
            return outcomes


def version_table(instance, keys: list[str]) -> list[dict]:
    """One row per version, read back from the instance (not from this process's memory)."""
    from .records import latest_metadata
    from .stages.monitoring import MonitoringResult

    rows, metrics = [], []
    for key in keys:
        raw = latest_metadata(instance, "raw_dataset", key)
        monitoring = latest_metadata(instance, "model_monitoring", key)
        result = MonitoringResult.from_metadata(monitoring) if monitoring else None
        decision = latest_metadata(instance, "retraining_decision", key)
        evaluation = latest_metadata(instance, "model_evaluation", key)
        deployed = latest_metadata(instance, "deployed_model", key)
        if decision:
            # The deciding reason: the trigger when it retrains, the last word (hold-back or no trigger) when not.
            reasons = [line[2:] for line in decision["reasons"].splitlines()]
            deciding = reasons[0] if decision["retrain"] or not decision["triggered"] else reasons[-1]
            retrained = ("yes: " if decision["retrain"] else "no: ") + deciding.removeprefix(f"{key}: ")
        elif evaluation:
            retrained = "yes: first version, no champion yet"
        else:
            retrained = "-"
        metric = result.metric if result else next((k[10:] for k in evaluation if k.startswith("candidate_")), "")
        metrics.append(metric)
        rows.append(
            {
                "version": key,
                "rows": raw.get("dagster/row_count", "-"),
                "drift share": _fmt(result.drifted_share if result else None),
                "champion": _fmt(result.realized if result else None),
                "retrained": retrained,
                "candidate": _fmt(evaluation.get(f"candidate_{metric}")),
                "gates": ("passed" if evaluation["gates_passed"] else f"failed ({evaluation['failed_gates']})")
                if evaluation
                else "-",
                "promoted": f"yes (v{deployed['champion_version']})" if deployed.get("promoted") else "no",
            }
        )
    # One metric name for the whole table: a version that never got that far (a failed ingestion) has none.
    metric = next((name for name in metrics if name), "")
    names = {"champion": f"champion {metric}, new rows", "candidate": f"candidate {metric}, holdout"}
    return [{names.get(column, column): value for column, value in row.items()} for row in rows]


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def print_table(rows: list[dict]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-+-".join("-" * widths[c] for c in columns))
    for row in rows:
        print(" | ".join(str(row[c]).ljust(widths[c]) for c in columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, help="land only the first N versions of the source (default: all)")
    args = parser.parse_args(argv)

    _use_project_instance()
    import dagster as dg

    from .definitions import defs
    from .defs.sensors.alerts import failed_only_on_gates
    from .landing import land_version, source_versions
    from .partitions import version_sort_key

    settings = defs.resources["settings"]  # the very settings the sensors and assets use
    versions = source_versions(settings)[: args.versions]
    keys = [key for key, _ in versions]
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        driver = SensorDriver(defs, instance, Path(os.environ["DAGSTER_HOME"]) / "main_job_sensor_cursors.json")
        print(f"Dagster instance: {os.environ['DAGSTER_HOME']}   versions: {settings.versions_dir}")
        unexpected = 0
        ran = list(keys)  # the source's versions, and every other version a run was for (a user's own)
        for key, rows in versions:
            landed = not (settings.versions_dir / key).exists()
            land_version(settings.versions_dir, key, rows)
            print(f"[{time.perf_counter() - started:6.1f}s] {key}: {'landed' if landed else 'already there'}")
            for outcome in run_until_quiet(driver, ["dataset_version_sensor", "retraining_sensor"]):
                status = outcome["status"]
                if status == "failure" and failed_only_on_gates(instance, outcome["run_id"]):
                    status = "gates failed: the champion stays"
                else:
                    unexpected += status == "failure"
                print(f"          run {outcome['run_key']}: {status} {outcome.get('seconds', '')}")
                if status == "failure":
                    for message in failure_messages(instance, outcome["run_id"]):
                        print(f"            {message}")
                if outcome["partition"] and outcome["partition"] not in ran:
                    ran.append(outcome["partition"])
        for key in settling_versions(driver):
            print(
                f"Not ingested yet: {key} is still changing (the sensor waits until nothing in it changed for "
                f"{settings.data_source.quiet_period_seconds:g} s; land versions with python -m mlops_assets.landing)."
            )
        print()
        print_table(version_table(instance, sorted(ran, key=version_sort_key)))
    print(
        f"\nDone in {time.perf_counter() - started:.1f}s. See it all: "
        f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} dagster dev -w workspace.yaml"
    )
    if unexpected:
        print(f"{unexpected} error(s): see the messages above (and the runs in dagster dev).")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
