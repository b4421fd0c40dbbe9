"""Section 1 of the report: one version through the pipeline from the CLI against the plain script."""

from __future__ import annotations

from pathlib import Path

from report.fmt import Section, diff, ratio, s, table, verdict, walls
from report.plots import plot_overhead
from report.timeline import breakdown, profile_table


def overhead_section(o: dict, smoke: bool, figures: Path) -> Section:
    runs = o["runs"]
    r_ratio, r_diff = ratio(runs, "pipeline", "plain"), diff(runs, "pipeline", "plain")
    name = "Orchestration overhead: pipeline"
    summary = [
        [f"{name} / plain script", "≤ 1.3x", f"{r_ratio:.2f}x", verdict(r_ratio <= 1.3, smoke)],
        [f"{name} - plain script", "≤ 1.3 s", s(r_diff), verdict(r_diff <= 1.3, smoke)],
    ]
    plot_overhead(o, figures / "overhead.png")
    step_rows, phases = breakdown(o)
    imports = {name: walls(runs_) for name, runs_ in o.get("imports", {}).items()}
    profile_text, profile = profile_table(o)
    body = (
        _setup(o)
        + _totals(runs, r_ratio, r_diff)
        + "\n\nRuns (alternating; the first of each pair alternates too) and the 1-minute load average before "
        "each:\n\n"
        + _runs(runs)
        + "\n\n![overhead](benchmarks/overhead.png)\n\n"
        + _where_the_time_goes(step_rows, phases)
        + profile_text
        + _imports(o.get("imports", {}), imports)
        + _multiprocess(o.get("multiprocess"), walls(runs["pipeline"]))
    )
    return Section(summary, body, {"phases": phases, "imports": imports, "profile": profile})


def _setup(o: dict) -> str:
    return (
        "## 1. Orchestration overhead\n\n"
        f"Data: {o['data']}. Each run starts from a fresh copy of the same state: the Dagster instance (a copy of "
        "`state/dagster.yaml`, SQLite) and MLflow store in which the first version's champion was trained and "
        "promoted; the measured run then ingests, builds features, splits, monitors the champion, trains, "
        "evaluates, deploys and scores the version.\n\n"
        f"- pipeline: `{o['commands']['pipeline']}` (the project's in-process executor; the partitions were "
        "added beforehand with `DagsterInstance.add_dynamic_partitions`, since the CLI cannot add one)\n"
        f"- plain script: `{o['commands']['plain']}` (the same stage functions, order and MLflow runs)\n\n"
    )


def _totals(runs: dict, r_ratio: float, r_diff: float) -> str:
    return table(
        ["", "plain script", "pipeline", "pipeline / plain", "pipeline - plain"],
        [
            ["median wall time", s(walls(runs["plain"])), s(walls(runs["pipeline"])), f"{r_ratio:.2f}x", s(r_diff)],
            [
                "median peak RSS",
                f"{walls(runs['plain'], 'max_rss_mb'):.0f} MB",
                f"{walls(runs['pipeline'], 'max_rss_mb'):.0f} MB",
                f"{ratio(runs, 'pipeline', 'plain', 'max_rss_mb'):.2f}x",
                "",
            ],
        ],
    )


def _runs(runs: dict) -> str:
    rows = [
        [
            i + 1,
            s(p["wall_s"]),
            s(q["wall_s"]),
            f"{p['wall_s'] / q['wall_s']:.2f}x",
            f"{p['load']:.2f} / {q['load']:.2f}",
        ]
        for i, (p, q) in enumerate(zip(runs["pipeline"], runs["plain"], strict=True))
    ]
    return table(["pair", "pipeline", "plain", "ratio", "load (pipeline / plain)"], rows)


def _where_the_time_goes(step_rows: list[list], phases: dict) -> str:
    def row(part: str, plain: str, pipeline: str) -> list:
        """A part's plain and pipeline medians (phase names; no plain phase: "") and their difference."""
        difference = phases[pipeline] - phases.get(plain, 0.0)
        return [part, s(phases[plain]) if plain else "", s(phases[pipeline]), s(difference)]

    rows = [
        row(
            "process start, imports, settings (plain) / CLI start, imports, definitions, instance, run "
            "creation until RUN_START (pipeline)",
            "plain_imports",
            "before_run",
        ),
        *step_rows,
        row("between steps (event handling, plan, IO manager outside steps)", "", "between_steps"),
        row("after the last stage (plain) / RUN_SUCCESS (pipeline) until the process exits", "plain_exit", "after_run"),
        row(
            "**whole process** (medians of the totals, so the parts do not add up exactly)",
            "plain_wall",
            "pipeline_wall",
        ),
    ]
    return (
        "**Where the pipeline's extra time goes** (medians; step times from the run's event log, STEP_START to "
        "STEP_SUCCESS, which includes loading inputs and storing outputs through the IO manager):\n\n"
        + table(["part", "plain script", "pipeline", "difference"], rows)
        + "\n\nThe pipeline's first step (`raw_dataset`) imports pandas and Pandera, which the plain script "
        "imports before its first stage: loading the definitions does not import them (section 2). "
        "Exiting costs both sides most of a second: Python tears down the modules of dagster, MLflow, "
        "scikit-learn and SciPy (measured here: `python -c 'import mlflow, sklearn.ensemble, dagster'` spends "
        "about 0.9 s after its last statement).\n"
    )


def _imports(measured: dict, medians: dict[str, float]) -> str:
    if not measured:
        return "\n\nStart-up import costs are not measured in smoke mode.\n"
    return (
        "\n\nStart-up costs in separate processes (medians of "
        f"{len(next(iter(measured.values())))} alternating runs): "
        + ", ".join(f"`{name}` {s(value)}" for name, value in medians.items())
        + ". Both sides import dagster: the project's settings (`mlops_assets/settings/`) are Pydantic models "
        "that Dagster components resolve, which the stage functions take; the plain script's import time above "
        "includes it.\n"
    )


def _multiprocess(mp: list[dict] | None, pipe: float) -> str:
    if not mp:
        return "\nThe multiprocess executor is not measured in smoke mode.\n"
    return (
        f"\n**Dagster's default multiprocess executor** for the same run "
        f"(`bench/multiprocess_definitions.py`): median {s(walls(mp))} over {len(mp)} "
        f"runs, against {s(pipe)} in-process ({walls(mp) / pipe:.1f}x): every step "
        "starts a process that imports the code again. The project keeps the in-process executor as its "
        "default.\n"
    )
