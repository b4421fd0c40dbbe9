"""Section 4 of the report: one tick of each sensor with many existing dataset versions."""

from __future__ import annotations

from pathlib import Path

from report.fmt import Section, med, ms, s, table, verdict
from report.plots import plot_sensors

SENSORS = ["dataset_version_sensor", "retraining_sensor"]


def sensors_section(se: dict, smoke: bool, figures: Path) -> Section:
    plot_sensors(se, figures / "sensors.png")
    existing = sorted(int(n) for n in se["dataset_version_sensor"])
    summary = _tick_budgets(se, existing, smoke)
    growth_rows, facts = [], {}
    if "1000" in se["dataset_version_sensor"] and "10000" in se["dataset_version_sensor"]:
        row, facts = _growth(se, smoke)
        summary.append(row)
        growth_rows = [[part, ms(seconds)] for part, seconds in facts["parts"].items()]
    elif "idle_parts_s" in se["dataset_version_sensor"][str(existing[-1])]:
        parts = se["dataset_version_sensor"][str(existing[-1])]["idle_parts_s"]
        growth_rows = [[part, ms(seconds)] for part, seconds in parts.items()]
    body = (
        _setup(se)
        + _ticks(se, existing)
        + "\n\n![sensors](benchmarks/sensors.png)\n"
        + (
            f"\nThe parts of `dataset_version_sensor`'s tick that depend on the versions that exist, with "
            f"{existing[-1]:,} existing (medians):\n\n" + table(["part", "time"], growth_rows) + "\n"
            if growth_rows
            else ""
        )
    )
    return Section(summary, body, facts)


def _tick_budgets(se: dict, existing: list[int], smoke: bool) -> list[list]:
    """The slowest warm tick against its budget: 0.5 s with 1,000 versions, 2 s with 10,000."""
    rows = []
    for n, budget in [(1000, 0.5), (10000, 2.0)]:
        if str(n) in se["dataset_version_sensor"]:
            worst = max(med(se[name][str(n)]["warm_s"]) for name in SENSORS)
            rows.append(
                [
                    f"Many versions: slowest sensor tick with {n:,} existing",
                    f"≤ {budget} s",
                    ms(worst),
                    verdict(worst <= budget, smoke),
                ]
            )
    if not any(str(n) in se["dataset_version_sensor"] for n in (1000, 10000)):
        worst = max(med(se[name][str(existing[-1])]["warm_s"]) for name in SENSORS)
        what = f"Many versions: slowest tick with {existing[-1]} existing"
        rows.append([what, "≤ 0.5 s", ms(worst), verdict(worst <= 0.5, smoke)])
    return rows


def _growth(se: dict, smoke: bool) -> tuple[list, dict]:
    """Whether an idle tick grows from 1,000 to 10,000 existing versions: the summary row, and its parts."""
    growth = {name: med(se[name]["10000"]["idle_s"]) / med(se[name]["1000"]["idle_s"]) for name in SENSORS}
    row = [
        "Many versions: a tick's work does not grow with what exists (idle tick, 10,000 / 1,000 existing)",
        "about 1x",
        ", ".join(f"`{k}` {v:.1f}x" for k, v in growth.items()),
        verdict(max(growth.values()) <= 1.5, smoke),
    ]
    parts = se["dataset_version_sensor"]["10000"].get("idle_parts_s") or {}
    return row, {"growth": growth, "parts": parts, "sensor": max(growth, key=growth.get)}


def _setup(se: dict) -> str:
    names = se.get("names")
    which = (
        f"the measured model's sensors, `{names['dataset_version_sensor']}` (made by `dataset_version_sensor` for "
        f"that one model; below under its factory's name) and `{names['retraining_sensor']}` (`retraining_sensor`). "
        "For each, "
        if names
        else ""
    )
    return (
        "## 4. Many versions\n\n"
        f"`bench/sensor_ticks.py`: {which}that many version folders that are already partitions and already in the "
        f"sensor's cursor, plus {se['new']} new ones; one evaluation of the sensor function with "
        "`dg.build_sensor_context` (which does not apply the tick's requests, so every repetition sees the same "
        "new folders). *Warm*: the median of "
        f"{se['reps']} evaluations after the first, as the daemon's long-lived code server evaluates a sensor; "
        "*idle*: nothing new, the last landing a minute old (the sensor lists the folder again only when its "
        "mtime moved, and re-checks a fixed number of versions per tick for changed files, in turn); *first*: "
        "the first evaluation in the process (it imports MLflow to ask for a "
        "champion when something is new). `retraining_sensor`: that many `model_monitoring` results already "
        f"read (the cursor is after them) and {se['new']} new ones. Launching the requested runs is the "
        "daemon's work and not included.\n\n"
    )


def _ticks(se: dict, existing: list[int]) -> str:
    rows = []
    for name in SENSORS:
        for n in existing:
            m = se[name][str(n)]
            rows.append(
                [f"`{name}`", f"{n:,}", ms(med(m["warm_s"])), ms(med(m["idle_s"])), ms(m["cold_s"]), s(m["setup_s"], 1)]
            )
    header = ["sensor", "existing", f"tick, {se['new']} new (warm)", "tick, nothing new", "first tick", "setup"]
    return table(header, rows)
