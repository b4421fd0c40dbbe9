"""The main job: land each dataset's versions one at a time and let the real sensors drive every model.

    python -m mlops_assets.commands.main                     # every dataset's versions, every model, into state/
    python -m mlops_assets.commands.main --versions 3        # only the first three (the demo: 2011-01 … 2011-03)
    python -m mlops_assets.commands.main --model busy_hours  # one model (and the dataset it reads)

Each landed version is picked up by evaluating the project's sensors against the persistent Dagster instance
(DAGSTER_HOME, state/ by default), exactly as the daemon would: their partition requests are applied and their
run requests are executed in this process, tagged with the sensor's name and run key, so `dagster dev` shows
every run afterwards. A run key that already ran successfully is not run again, so a second invocation
continues from where the instance is.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from mlops_assets.settings import PROJECT_ROOT, ModelSettings
from mlops_assets.wiring.sensor_driver import SensorDriver, failure_messages, run_until_quiet, settling_versions


def _use_project_instance() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "state"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)


def version_table(instance, keys: list[str], model: ModelSettings) -> list[dict]:
    """One row per version for one model, read back from the instance (not from this process's memory)."""
    from mlops_assets.stages.monitoring import MonitoringResult
    from mlops_assets.wiring.records import latest_metadata

    rows, metrics = [], []
    for key in keys:
        raw = latest_metadata(instance, model.raw_key, key)
        monitoring = latest_metadata(instance, model.key("model_monitoring"), key)
        result = MonitoringResult.from_metadata(monitoring) if monitoring else None
        decision = latest_metadata(instance, model.key("retraining_decision"), key)
        evaluation = latest_metadata(instance, model.key("model_evaluation"), key)
        deployed = latest_metadata(instance, model.key("deployed_model"), key)
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
    parser.add_argument("--versions", type=int, help="land only the first N versions of each source (default: all)")
    parser.add_argument("--model", help="run this model only (its defs.yaml name; default: every model)")
    args = parser.parse_args(argv)

    _use_project_instance()
    import dagster as dg

    from mlops_assets.commands.landing import VersionExists, land_version, source_versions
    from mlops_assets.components.project import model_named, project_models
    from mlops_assets.definitions import build_definitions
    from mlops_assets.infra.version_keys import version_sort_key
    from mlops_assets.wiring.sensors.alerts import failed_only_on_gates

    models = [model_named(args.model)] if args.model else list(project_models().values())
    if not models:
        model_named(None)  # says there is none, and how to add one
    datasets = list({m.dataset.name: m.dataset for m in models}.values())
    defs = build_definitions(models=models, datasets=datasets)  # the very assets and sensors the daemon runs
    sensors = [f"{d.name}_version_sensor" for d in datasets] + [f"{m.name}_retraining_sensor" for m in models]
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        driver = SensorDriver(defs, instance, Path(os.environ["DAGSTER_HOME"]) / "main_job_sensor_cursors.json")
        print(f"Dagster instance: {os.environ['DAGSTER_HOME']}   models: {', '.join(m.name for m in models)}")
        unexpected = 0
        ran: dict[str, list[str]] = {}  # per dataset: the source's versions, and every other version a run was for
        for dataset in datasets:
            versions = source_versions(dataset)[: args.versions]
            ran[dataset.name] = [key for key, _ in versions]
            print(f"{dataset.name}: versions into {dataset.versions_dir}")
            for key, rows in versions:
                try:
                    land_version(dataset.versions_dir, key, rows)
                    landed = True
                except VersionExists:  # landed before: a second invocation continues from where the instance is
                    landed = False
                elapsed = time.perf_counter() - started
                print(f"[{elapsed:6.1f}s] {dataset.name} {key}: {'landed' if landed else 'already there'}")
                for outcome in run_until_quiet(driver, sensors):
                    status = outcome["status"]
                    if status == "failure" and failed_only_on_gates(instance, outcome["run_id"]):
                        status = "gates failed: the champion stays"
                    else:
                        unexpected += status == "failure"
                    print(f"          run {outcome['run_key']}: {status} {outcome.get('seconds', '')}")
                    if status == "failure":
                        for message in failure_messages(instance, outcome["run_id"]):
                            print(f"            {message}")
                    if outcome["partition"] and outcome["partition"] not in ran[dataset.name]:
                        ran[dataset.name].append(outcome["partition"])
            for key in settling_versions(driver, f"{dataset.name}_version_sensor"):
                print(
                    f"Not ingested yet: {dataset.name} {key} is still changing (the sensor waits until nothing in "
                    f"it changed for {dataset.data_source.quiet_period_seconds:g} s; land versions with "
                    "python -m mlops_assets.commands.landing)."
                )
        for model in models:
            print(f"\n{model.name} ({model.task}, registered model {model.model_name}):")
            print_table(version_table(instance, sorted(ran[model.dataset.name], key=version_sort_key), model))
    print(
        f"\nDone in {time.perf_counter() - started:.1f}s. See it all: "
        f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} dagster dev -w workspace.yaml"
    )
    if unexpected:
        print(f"{unexpected} error(s): see the messages above (and the runs in dagster dev).")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
