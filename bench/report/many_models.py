"""Section 9 of the report: many model components in one code location against one (bench/many_models.py)."""

from __future__ import annotations

from report.fmt import Section, med, ms, s, table, verdict

LOAD_BUDGET = 1.5  # definitions load time, many models / one model
TICK_BUDGET = 1.0  # seconds: the slowest sensor tick of the many-model project

TICKS = {
    "dataset_first_tick": "dataset sensor, first tick over the new versions",
    "dataset_steady_tick": "dataset sensor, steady tick (nothing new)",
    "retraining_slowest": "slowest retraining sensor, first tick (no cursor: whole history)",
}


def tick_seconds(entry: dict) -> dict[str, float]:
    """Each timed tick of one project (seconds), by the names of TICKS."""
    ticks = entry["ticks"]
    return {
        "dataset_first_tick": ticks["dataset_first_tick"]["seconds"],
        "dataset_steady_tick": ticks["dataset_steady_tick"]["seconds"],
        "retraining_slowest": ticks["retraining_ticks"]["slowest"],
    }


def paired_ratio(big: dict, one: dict, key: str) -> float:
    """Median of the per-pair ratios many / one (`<key>_all`, measured alternately); of the medians otherwise."""
    a, b = big.get(f"{key}_all"), one.get(f"{key}_all")
    if a and b and len(a) == len(b):
        return med([x / y for x, y in zip(a, b, strict=True)])
    return big[f"{key}_seconds"] / one[f"{key}_seconds"]


def many_models_section(mm: dict, smoke: bool) -> Section:
    many, versions = mm["models"], mm["versions"]
    one, big = mm["1"], mm[str(many)]
    load_ratio = paired_ratio(big, one, "load")
    big_ticks = tick_seconds(big)
    slowest = max(big_ticks, key=big_ticks.get)
    summary = [
        [
            f"Many models: definitions load time, {many} models / 1 model",
            f"≤ {LOAD_BUDGET}x",
            f"{load_ratio:.2f}x ({s(big['load_seconds'])} / {s(one['load_seconds'])})",
            verdict(load_ratio <= LOAD_BUDGET, smoke),
        ],
        [
            f"Many models: slowest sensor tick, {many} models x {versions:,} versions",
            f"≤ {TICK_BUDGET:g} s",
            f"{ms(big_ticks[slowest])} ({TICKS[slowest].split(',')[0]})",
            verdict(big_ticks[slowest] <= TICK_BUDGET, smoke),
        ],
        [
            f"Many models: `dg check defs`, {many} models / 1 model",
            "(reported)",
            f"{s(big['check_seconds'])} / {s(one['check_seconds'])}",
            "—",
        ],
        [
            f"Many models: the UI's lineage page, {many} models / 1 model",
            "(reported)",
            _ui(big, one),
            "—",
        ],
    ]
    body = _setup(mm) + _figures(mm, one, big, load_ratio) + "\n\n" + _ticks(mm, one, big) + "\n"
    facts = {"load_ratio": load_ratio, "slowest_tick": (TICKS[slowest], big_ticks[slowest]), "models": many}
    return Section(summary, body, facts)


def _ui(big: dict, one: dict) -> str:
    if "ui_seconds" not in big or "ui_seconds" not in one:
        return "not measured"
    return f"{s(big['ui_seconds'])} / {s(one['ui_seconds'])}"


def _setup(mm: dict) -> str:
    many, versions, one = mm["models"], mm["versions"], mm["1"]
    return (
        "## 9. Many models\n\n"
        "`bench/many_models.py` (run by `bench/run.py --only many_models`): two copies of the project, one whose "
        "`defs/` holds the bikeshare dataset and one model (bike_rentals), one with the dataset and "
        f"{many} model components (bike_rentals, busy_hours and copies of both under other names, alternating "
        "regression and classification); each copy's cached columns refreshed first "
        "(`python -m mlops_assets.commands.column_schemas`). Measured in each, in fresh processes: *load*, importing "
        "the definitions and building the repository (what every code server, run and step does; median of "
        f"{mm['reps']}); *check*, `dg check defs` (YAML validation and loading, as a CI job runs it; median of "
        f"{len(one.get('check_all', [0]))}); both alternate between the two copies, and the ratios are medians of "
        "the per-pair ratios (after one untimed load of each); *ticks*, each "
        f"sensor evaluated once against a SQLite instance holding {versions:,} ingested versions, each with a "
        "monitoring result per model: the dataset sensor's first tick over that many new folders (one run request "
        "per version with every model's work, one registry lookup per model) and its steady tick, and every "
        "model's retraining sensor without a cursor (each reads its model's whole history: the slowest case); "
        "*lineage page*, the Dagster UI's asset lineage page in headless Chromium against `dagster dev`, from "
        "opening it (after one warm-up load) until every model's group is drawn.\n\n"
    )


def _figures(mm: dict, one: dict, big: dict, load_ratio: float) -> str:
    many = mm["models"]

    def ui(entry: dict) -> str:
        return s(entry["ui_seconds"]) if "ui_seconds" in entry else "not measured"

    rows = [
        ["load the definitions (median)", s(one["load_seconds"]), s(big["load_seconds"]), f"{load_ratio:.2f}x"],
        [
            "`dg check defs` (median)",
            s(one["check_seconds"]),
            s(big["check_seconds"]),
            f"{paired_ratio(big, one, 'check'):.2f}x",
        ],
        ["the UI's lineage page", ui(one), ui(big), _ratio(big.get("ui_seconds"), one.get("ui_seconds"))],
        ["1-minute load average when measured", f"{one['load_average']:.2f}", f"{big['load_average']:.2f}", ""],
    ]
    return table(["", "1 model", f"{many} models", f"{many} / 1"], rows)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else ""


def _ticks(mm: dict, one: dict, big: dict) -> str:
    many, versions = mm["models"], mm["versions"]
    small, large = tick_seconds(one), tick_seconds(big)
    rows = [[what, ms(small[name]), ms(large[name])] for name, what in TICKS.items()]
    rows.append(
        [
            "retraining sensors, median tick",
            ms(one["ticks"]["retraining_ticks"]["median"]),
            ms(big["ticks"]["retraining_ticks"]["median"]),
        ]
    )
    return (
        f"Sensor ticks with {versions:,} versions (the dataset sensor's first tick requested "
        f"{big['ticks']['dataset_first_tick']['run_requests']} runs; {big['ticks']['retraining_ticks']['count']} "
        "retraining sensors):\n\n" + table(["tick", "1 model", f"{many} models"], rows)
    )
