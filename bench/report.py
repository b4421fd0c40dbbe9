"""docs/benchmarks.md and its plots from bench/run.py's results (a dict, also saved as benchmarks/results.json)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path


def med(values) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def pairs(runs: dict, a: str, b: str, key: str = "wall_s") -> list[tuple[float, float]]:
    return [(x[key], y[key]) for x, y in zip(runs[a], runs[b], strict=True)]


def ratio(runs: dict, a: str, b: str, key: str = "wall_s") -> float:
    """Median of the per-pair ratios a/b (pairs measured one right after the other)."""
    return med([x / y for x, y in pairs(runs, a, b, key)])


def diff(runs: dict, a: str, b: str, key: str = "wall_s") -> float:
    return med([x - y for x, y in pairs(runs, a, b, key)])


def s(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f} s"


def ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 1000:.1f} ms"


def rows_label(rows: int) -> str:
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1_000:
        return f"{rows / 1_000:g}k"
    return str(rows)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool | None, smoke: bool) -> str:
    if smoke:
        return "(smoke run: not judged)"
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**not met**"


# ------------------------------------------------------------------------------------------------------------------
# Plots
# ------------------------------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_overhead(result: dict, path: Path) -> None:
    plt = _pyplot()
    runs = result["runs"]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, name in enumerate(["plain", "pipeline"]):
        values = [r["wall_s"] for r in runs[name]]
        ax.barh(i, med(values), color=["#4c72b0", "#dd8452"][i])
        ax.plot(values, [i] * len(values), "k|", markersize=14)
    ax.set_yticks([0, 1], ["plain script", "pipeline (CLI)"])
    ax.set_xlabel("wall time of one version, seconds (bar: median; ticks: runs)")
    ax.set_title("Orchestration overhead")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scale(result: dict, key: str, label: str, path: Path) -> None:
    plt = _pyplot()
    sizes = sorted(int(r) for r in result["sizes"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in [("plain", "#4c72b0"), ("pipeline", "#dd8452")]:
        values = [med([r[key] for r in result["sizes"][str(n)]["runs"][name]]) for n in sizes]
        if key == "max_rss_mb":
            values = [v / 1024 for v in values]
        ax.plot(sizes, values, "o-", color=color, label="plain script" if name == "plain" else "pipeline (CLI)")
    if len(sizes) > 1:  # a line of slope 1 through the plain script's first point: linear growth
        first = med([r[key] for r in result["sizes"][str(sizes[0])]["runs"]["plain"]])
        first = first / 1024 if key == "max_rss_mb" else first
        ax.plot(sizes, [first * n / sizes[0] for n in sizes], ":", color="grey", label="linear in rows")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the version")
    ax.set_ylabel(label)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sensors(result: dict, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in [("dataset_version_sensor", "#4c72b0"), ("retraining_sensor", "#dd8452")]:
        existing = sorted(int(n) for n in result[name])
        for kind, style in [("warm_s", "o-"), ("idle_s", "x--")]:
            values = [med(result[name][str(n)][kind]) * 1000 for n in existing]
            what = f"{result['new']} new" if kind == "warm_s" else "nothing new"
            ax.plot(existing, values, style, color=color, label=f"{name}, {what}")
    ax.set_xscale("log")
    ax.set_xlabel("existing dataset versions")
    ax.set_ylabel("one tick, ms (median)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------------------------


def _overhead_breakdown(result: dict) -> tuple[list[list], dict]:
    """Median per stage: plain script stage vs pipeline step, and the pipeline's time outside its steps."""
    pipeline_runs, plain_runs = result["runs"]["pipeline"], result["runs"]["plain"]
    steps = list(pipeline_runs[0]["events"]["steps"])
    rows = []
    for step in steps:
        pipe = med([r["events"]["steps"][step]["end"] - r["events"]["steps"][step]["start"] for r in pipeline_runs])
        plain = med([r["stages"].get(step, math.nan) for r in plain_runs])
        rows.append([f"`{step}`", s(plain), s(pipe), s(pipe - plain)])
    phases = {
        "before_run": med([r["events"]["run_start"] - r["started"] for r in pipeline_runs]),
        "after_run": med([r["started"] + r["wall_s"] - r["events"]["run_end"] for r in pipeline_runs]),
        "run": med([r["events"]["run_end"] - r["events"]["run_start"] for r in pipeline_runs]),
        "steps": med([sum(v["end"] - v["start"] for v in r["events"]["steps"].values()) for r in pipeline_runs]),
        "plain_imports": med([r["stages"]["imports"] for r in plain_runs]),
        "plain_stages": med([r["stages"]["total"] - r["stages"]["imports"] for r in plain_runs]),
        "plain_exit": med([r["wall_s"] - r["stages"]["total"] for r in plain_runs]),
        "plain_wall": med([r["wall_s"] for r in plain_runs]),
        "pipeline_wall": med([r["wall_s"] for r in pipeline_runs]),
    }
    phases["between_steps"] = phases["run"] - phases["steps"]
    return rows, phases


def _profile_text(o: dict, what: str = "the same CLI run") -> str:
    profiles = o.get("profiles")
    if not profiles:
        return "\nThe profile of the pipeline's parts is not measured in smoke mode.\n"
    parts = list(profiles[0]["parts"])
    total = med([p["profiled_total_s"] for p in profiles])
    rows = [
        [part, f"{med([p['parts'][part]['seconds'] for p in profiles]):.2f} s", profiles[0]["parts"][part]["calls"]]
        for part in parts
        if profiles[0]["parts"][part]["calls"]  # e.g. a code location loaded from a file (-f) is not a module import
    ]
    o["_profile"] = {part: med([p["parts"][part]["seconds"] for p in profiles]) for part in parts}
    return (
        f"\n**What the orchestration is made of** (`bench/profile_pipeline.py`: {what} in-process under "
        f"cProfile, {len(profiles)} runs, medians of cumulative seconds; the profiled run takes {total:.1f} s, "
        "cProfile slows Python-heavy code most, so read these as shares):\n\n"
        + table(["part", "cumulative time", "calls"], rows)
        + "\n"
    )


def write_report(results: dict, path: Path, figures: Path) -> Path:
    plan = results["plan"]
    smoke = plan["smoke"]
    summary: list[list] = []
    body: list[str] = []
    env = results.get("environment", {})

    # --- overhead ---------------------------------------------------------------------------------------------
    if "overhead" in results:
        o = results["overhead"]
        runs = o["runs"]
        r_ratio, r_diff = ratio(runs, "pipeline", "plain"), diff(runs, "pipeline", "plain")
        pipe, plain = med([r["wall_s"] for r in runs["pipeline"]]), med([r["wall_s"] for r in runs["plain"]])
        summary.append(
            [
                "Orchestration overhead: pipeline / plain script",
                "≤ 1.3x",
                f"{r_ratio:.2f}x",
                verdict(r_ratio <= 1.3, smoke),
            ]
        )
        summary.append(
            ["Orchestration overhead: pipeline - plain script", "≤ 1.3 s", s(r_diff), verdict(r_diff <= 1.3, smoke)]
        )
        plot_overhead(o, figures / "overhead.png")
        step_rows, phases = _overhead_breakdown(o)
        imports = o.get("imports", {})
        imp = {name: med([r["wall_s"] for r in runs_]) for name, runs_ in imports.items()}
        per_run = [
            [
                i + 1,
                s(p["wall_s"]),
                s(q["wall_s"]),
                f"{p['wall_s'] / q['wall_s']:.2f}x",
                f"{p['load']:.2f} / {q['load']:.2f}",
            ]
            for i, (p, q) in enumerate(zip(runs["pipeline"], runs["plain"], strict=True))
        ]
        mp = o.get("multiprocess")
        body.append(
            "## 1. Orchestration overhead\n\n"
            f"Data: {o['data']}. Each run starts from a fresh copy of the same state: the Dagster instance (a copy of "
            "`state/dagster.yaml`, SQLite) and MLflow store in which the first version's champion was trained and "
            "promoted; the measured run then ingests, builds features, splits, monitors the champion, trains, "
            "evaluates, deploys and scores the version.\n\n"
            f"- pipeline: `{o['commands']['pipeline']}` (the project's in-process executor; the partitions were "
            "added beforehand with `DagsterInstance.add_dynamic_partitions`, since the CLI cannot add one)\n"
            f"- plain script: `{o['commands']['plain']}` (the same stage functions, order and MLflow runs)\n\n"
            + table(
                ["", "plain script", "pipeline", "pipeline / plain", "pipeline - plain"],
                [
                    ["median wall time", s(plain), s(pipe), f"{r_ratio:.2f}x", s(r_diff)],
                    [
                        "median peak RSS",
                        f"{med([r['max_rss_mb'] for r in runs['plain']]):.0f} MB",
                        f"{med([r['max_rss_mb'] for r in runs['pipeline']]):.0f} MB",
                        f"{ratio(runs, 'pipeline', 'plain', 'max_rss_mb'):.2f}x",
                        "",
                    ],
                ],
            )
            + "\n\nRuns (alternating; the first of each pair alternates too) and the 1-minute load average before "
            "each:\n\n"
            + table(["pair", "pipeline", "plain", "ratio", "load (pipeline / plain)"], per_run)
            + "\n\n![overhead](benchmarks/overhead.png)\n\n"
            "**Where the pipeline's extra time goes** (medians; step times from the run's event log, STEP_START to "
            "STEP_SUCCESS, which includes loading inputs and storing outputs through the IO manager):\n\n"
            + table(
                ["part", "plain script", "pipeline", "difference"],
                [
                    [
                        "process start, imports, settings (plain) / CLI start, imports, definitions, instance, run "
                        "creation until RUN_START (pipeline)",
                        s(phases["plain_imports"]),
                        s(phases["before_run"]),
                        s(phases["before_run"] - phases["plain_imports"]),
                    ],
                    *step_rows,
                    [
                        "between steps (event handling, plan, IO manager outside steps)",
                        "",
                        s(phases["between_steps"]),
                        s(phases["between_steps"]),
                    ],
                    [
                        "after the last stage (plain) / RUN_SUCCESS (pipeline) until the process exits",
                        s(phases["plain_exit"]),
                        s(phases["after_run"]),
                        s(phases["after_run"] - phases["plain_exit"]),
                    ],
                    [
                        "**whole process** (medians of the totals, so the parts do not add up exactly)",
                        s(phases["plain_wall"]),
                        s(phases["pipeline_wall"]),
                        s(phases["pipeline_wall"] - phases["plain_wall"]),
                    ],
                ],
            )
            + "\n\nThe pipeline's first step (`raw_dataset`) imports pandas and Pandera, which the plain script "
            "imports before its first stage: loading the definitions does not import them (section 2). "
            "Exiting costs both sides most of a second: Python tears down the modules of dagster, MLflow, "
            "scikit-learn and SciPy (measured here: `python -c 'import mlflow, sklearn.ensemble, dagster'` spends "
            "about 0.9 s after its last statement).\n"
            + _profile_text(o)
            + (
                "\n\nStart-up costs in separate processes (medians of "
                f"{len(next(iter(imports.values())))} alternating runs): "
                + ", ".join(f"`{name}` {s(value)}" for name, value in imp.items())
                + ". Both sides import dagster: the project's settings (`config.py`) are Dagster `Config` classes, "
                "and every stage module imports them; the plain script's import time above includes it.\n"
                if imports
                else "\n\nStart-up import costs are not measured in smoke mode.\n"
            )
            + (
                f"\n**Dagster's default multiprocess executor** for the same run "
                f"(`bench/multiprocess_definitions.py`): median {s(med([r['wall_s'] for r in mp]))} over {len(mp)} "
                f"runs, against {s(pipe)} in-process ({med([r['wall_s'] for r in mp]) / pipe:.1f}x): every step "
                "starts a process that imports the code again. The project keeps the in-process executor as its "
                "default.\n"
                if mp
                else "\nThe multiprocess executor is not measured in smoke mode.\n"
            )
        )
        o["_phases"] = phases
        o["_imports"] = imp

    # --- startup ----------------------------------------------------------------------------------------------
    if "startup" in results:
        st = results["startup"]
        r = ratio(st["runs"], "project", "one_asset")
        summary.append(
            ["Start-up: `definitions validate` / one-asset project", "≤ 1.3x", f"{r:.2f}x", verdict(r <= 1.3, smoke)]
        )
        body.append(
            "## 2. Start-up\n\n"
            f"`{st['command']}` in the repository and in `bench/one_asset/` (one asset, nothing else), alternating:\n\n"
            + table(
                ["", "one-asset project", "this project", "ratio"],
                [
                    [
                        "median",
                        s(med([x["wall_s"] for x in st["runs"]["one_asset"]])),
                        s(med([x["wall_s"] for x in st["runs"]["project"]])),
                        f"{r:.2f}x",
                    ]
                ]
                + [
                    [f"run {i + 1}", s(b["wall_s"]), s(a["wall_s"]), f"{a['wall_s'] / b['wall_s']:.2f}x"]
                    for i, (a, b) in enumerate(zip(st["runs"]["project"], st["runs"]["one_asset"], strict=True))
                ],
            )
            + "\n"
        )
        st["_ratio"] = r
        imports = st.get("imports_after_dagster") or []
        if imports:
            shares = {k: med([run.get(k, 0.0) for run in imports]) for k in {k for run in imports for k in run}}
            names = sorted(shares, key=lambda k: -shares[k])
            total = med([sum(run.values()) for run in imports])
            top = [k for k in names if shares[k] >= 0.01]
            st["_imports"] = {"total": total, **{k: shares[k] for k in top}}
            body[-1] += (
                f'\nWhat loading the definitions imports beyond dagster (`python -X importtime -c "import dagster; '
                f'import mlops_assets.definitions"`, self times summed by package, medians of {len(imports)} runs): '
                f"{total:.2f} s in all; "
                + ", ".join(f"{k} {shares[k]:.2f} s" for k in top)
                + ". The one-asset project imports none of these.\n"
            )

    # --- scale ------------------------------------------------------------------------------------------------
    if "scale" in results:
        sc = results["scale"]
        sizes = sorted(int(n) for n in sc["sizes"])
        rows_out = []
        for n in sizes:
            runs = sc["sizes"][str(n)]["runs"]
            rows_out.append(
                [
                    rows_label(n),
                    s(med([r["wall_s"] for r in runs["plain"]]), 1),
                    s(med([r["wall_s"] for r in runs["pipeline"]]), 1),
                    f"{ratio(runs, 'pipeline', 'plain'):.3f}x",
                    f"{med([r['max_rss_mb'] for r in runs['plain']]):.0f} MB",
                    f"{med([r['max_rss_mb'] for r in runs['pipeline']]):.0f} MB",
                    f"{ratio(runs, 'pipeline', 'plain', 'max_rss_mb'):.2f}x",
                ]
            )
        judged = "1000000" in sc["sizes"]
        one_m = sc["sizes"].get("1000000") or sc["sizes"][str(sizes[-1])]
        t_ratio = ratio(one_m["runs"], "pipeline", "plain")
        m_ratio = ratio(one_m["runs"], "pipeline", "plain", "max_rss_mb")
        at = "1M rows" if judged else f"{rows_label(sizes[-1])} rows"
        summary.append(
            [f"Scale: time at {at}, pipeline / plain", "≤ 1.1x", f"{t_ratio:.3f}x", verdict(t_ratio <= 1.1, smoke)]
        )
        summary.append(
            [
                f"Scale: peak memory at {at}, pipeline / plain",
                "≤ 1.5x",
                f"{m_ratio:.2f}x",
                verdict(m_ratio <= 1.5, smoke),
            ]
        )
        growth = ""
        if len(sizes) >= 2:
            a, b = sizes[-2], sizes[-1]

            def slope(name, key):
                va = med([r[key] for r in sc["sizes"][str(a)]["runs"][name]])
                vb = med([r[key] for r in sc["sizes"][str(b)]["runs"][name]])
                return math.log(vb / va) / math.log(b / a)

            t_slope, m_slope = slope("pipeline", "wall_s"), slope("pipeline", "max_rss_mb")
            growth = (
                f"Growth from {rows_label(a)} to {rows_label(b)} rows (exponent k in time ∝ rows^k; 1 is linear): "
                f"pipeline time k = {t_slope:.2f} (plain script {slope('plain', 'wall_s'):.2f}), pipeline peak "
                f"memory k = {m_slope:.2f} (plain script {slope('plain', 'max_rss_mb'):.2f}).\n"
            )
            summary.append(
                [
                    f"Scale: growth of the pipeline's time, {rows_label(a)} → {rows_label(b)} rows",
                    "close to linear (k ≤ 1.1)",
                    f"k = {t_slope:.2f}",
                    verdict(t_slope <= 1.1, smoke),
                ]
            )
        plot_scale(sc, "wall_s", "wall time, seconds (median)", figures / "scale_time.png")
        plot_scale(sc, "max_rss_mb", "peak RSS, GiB (median)", figures / "scale_memory.png")
        body.append(
            "## 3. Scale\n\n"
            "Bigger versions made by `bench/generate.py`: noisy replicas of the demo year (weather measurements "
            "moved and clipped, one weather situation in twenty swapped with a neighbouring hour's, counts scaled "
            "by a log-normal factor, `bikers = casual + registered` kept), stored as one Parquet file. **Why a "
            'replica column:** the demo contract has one row per hour (`unique = ["day", "hr"]`), and a year has '
            "8,760 hours, so no bigger version of that contract exists. The benchmark uses `ReplicatedRawRentals` "
            "(`bench/scale.py`): `RawRentals` plus an integer `replica`, row key `(replica, day, hr)`; every other "
            "column, type, range, category and table rule is the project's, and the uniqueness rule is still "
            "checked, on three columns. Features, split, training, evaluation, scoring and monitoring ignore the "
            "extra column. Pipeline and plain script install the same contract (`bench/scale_definitions.py`, "
            "`plain_script.py --replicated`).\n\n"
            "**Search budget:** one parameter set, two time-series folds, 30 boosting iterations (three fits), for "
            "both sides; the project's budget (19 fits of 100-200 iterations) would take most of an hour per run at "
            "5M rows. A cheaper model makes the orchestration's share larger, so the ratios are conservative. The "
            "starting champion is trained on a "
            f"{plan['base_rows']:,}-row replicated January-March version; the measured version holds the whole "
            "year.\n\n"
            f"- pipeline: `{sc['commands']['pipeline']}`\n- plain script: `{sc['commands']['plain']}`\n\n"
            + table(
                [
                    "rows",
                    "plain time",
                    "pipeline time",
                    "time ratio",
                    "plain peak RSS",
                    "pipeline peak RSS",
                    "memory ratio",
                ],
                rows_out,
            )
            + "\n\n"
            + growth
            + "\n![time](benchmarks/scale_time.png) ![memory](benchmarks/scale_memory.png)\n"
            + (
                _profile_text(results["scale_profile"], f"the {results['scale_profile']['rows']:,}-row pipeline run")
                if "scale_profile" in results
                else ""
            )
        )
        sc["_ratios"] = {"time": t_ratio, "memory": m_ratio}

    # --- sensors ----------------------------------------------------------------------------------------------
    if "sensors" in results:
        se = results["sensors"]
        plot_sensors(se, figures / "sensors.png")
        existing = sorted(int(n) for n in se["dataset_version_sensor"])
        rows_out = []
        for name in ["dataset_version_sensor", "retraining_sensor"]:
            for n in existing:
                m = se[name][str(n)]
                rows_out.append(
                    [
                        f"`{name}`",
                        f"{n:,}",
                        ms(med(m["warm_s"])),
                        ms(med(m["idle_s"])),
                        ms(m["cold_s"]),
                        s(m["setup_s"], 1),
                    ]
                )
        for n, budget in [(1000, 0.5), (10000, 2.0)]:
            if str(n) in se["dataset_version_sensor"]:
                worst = max(med(se[name][str(n)]["warm_s"]) for name in ["dataset_version_sensor", "retraining_sensor"])
                summary.append(
                    [
                        f"Many versions: slowest sensor tick with {n:,} existing",
                        f"≤ {budget} s",
                        ms(worst),
                        verdict(worst <= budget, smoke),
                    ]
                )
        if not any(str(n) in se["dataset_version_sensor"] for n in (1000, 10000)):
            worst = max(
                med(se[name][str(existing[-1])]["warm_s"]) for name in ["dataset_version_sensor", "retraining_sensor"]
            )
            summary.append(
                [
                    f"Many versions: slowest tick with {existing[-1]} existing",
                    "≤ 0.5 s",
                    ms(worst),
                    verdict(worst <= 0.5, smoke),
                ]
            )
        growth_rows = []
        if "1000" in se["dataset_version_sensor"] and "10000" in se["dataset_version_sensor"]:
            growth = {
                name: med(se[name]["10000"]["idle_s"]) / med(se[name]["1000"]["idle_s"])
                for name in ["dataset_version_sensor", "retraining_sensor"]
            }
            worst_name = max(growth, key=growth.get)
            summary.append(
                [
                    "Many versions: a tick's work does not grow with what exists (idle tick, 10,000 / 1,000 existing)",
                    "about 1x",
                    ", ".join(f"`{k}` {v:.1f}x" for k, v in growth.items()),
                    verdict(max(growth.values()) <= 1.5, smoke),
                ]
            )
            parts = se["dataset_version_sensor"]["10000"].get("idle_parts_s") or {}
            growth_rows = [[part, ms(seconds)] for part, seconds in parts.items()]
            se["_growth"] = {"growth": growth, "parts": parts, "sensor": worst_name}
        elif "idle_parts_s" in se["dataset_version_sensor"][str(existing[-1])]:
            parts = se["dataset_version_sensor"][str(existing[-1])]["idle_parts_s"]
            growth_rows = [[part, ms(seconds)] for part, seconds in parts.items()]
        body.append(
            "## 4. Many versions\n\n"
            f"`bench/sensor_ticks.py`: that many version folders that are already partitions and already in the "
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
            + table(
                ["sensor", "existing", f"tick, {se['new']} new (warm)", "tick, nothing new", "first tick", "setup"],
                rows_out,
            )
            + "\n\n![sensors](benchmarks/sensors.png)\n"
            + (
                f"\nThe parts of `dataset_version_sensor`'s tick that depend on the versions that exist, with "
                f"{existing[-1]:,} existing (medians):\n\n" + table(["part", "time"], growth_rows) + "\n"
                if growth_rows
                else ""
            )
        )

    # --- scoring ----------------------------------------------------------------------------------------------
    if "scoring" in results:
        sco = results["scoring"]
        v = sco["validation"]
        v_med, v_pandera = med(v["project_s"]), med(v["pandera_s"])
        n_label = f"{v['rows']:,}"
        summary.append(
            [
                f"Scoring: raw contract validation of {n_label} rows",
                "≤ 0.4 s",
                s(v_med, 3),
                verdict(v_med <= 0.4 if v["rows"] >= 1_000_000 else None, smoke),
            ]
        )
        b = sco["batch_scoring"]
        b_ratio = med([x / y for x, y in zip(b["bare_predict_s"], b["score_batch_s"], strict=True)])
        summary.append(
            [
                f"Scoring: batch scoring throughput / bare `model.predict` ({b['rows']:,} rows)",
                "≥ 0.8x",
                f"{b_ratio:.2f}x",
                verdict(b_ratio >= 0.8, smoke),
            ]
        )
        h = sco.get("http")
        if h:
            one = sorted(h["one_row_s"])
            p99 = one[min(len(one) - 1, math.ceil(0.99 * len(one)) - 1)]
            throughput = h["batch_rows"] / med(h["batch_s"])
            summary.append(
                ["HTTP server: one-row latency, median / p99", "(reported)", f"{ms(med(one))} / {ms(p99)}", "—"]
            )
            summary.append(
                [f"HTTP server: {h['batch_rows']:,}-row requests", "(reported)", f"{throughput:,.0f} rows/s", "—"]
            )
            http_text = (
                f"**HTTP server** (`python -m mlops_assets.serving --port P`, MLflow's scoring server, against the "
                f"same champion; started and answering /ping in {s(h['startup_s'], 1)}): {len(one)} one-row requests "
                f"on one keep-alive connection after 20 warm-up requests: median {ms(med(one))}, p99 {ms(p99)}; "
                f"{len(h['batch_s'])} requests of {h['batch_rows']:,} rows (JSON `dataframe_split`, "
                f"{h['batch_body_mb']:.1f} MB each): median {s(med(h['batch_s']))}, {throughput:,.0f} rows/s.\n"
            )
        else:
            summary.append(["HTTP server latency and throughput", "(reported)", "not measured", "—"])
            http_text = "**HTTP server:** not measured in this run.\n"
        d = sco["demo_validation"]
        body.append(
            "## 5. Scoring\n\n"
            f"`bench/scoring.py` on {v['rows']:,} generated rows (section 3's contract). The champion was trained "
            f"with the {sco.get('champion_training', 'project search budget')}.\n\n"
            + table(
                ["what", "median", "runs"],
                [
                    [
                        f"`{v['contract']}.validate(rows, lazy=True)`, as the project calls it",
                        s(v_med, 3),
                        ", ".join(f"{x:.3f}" for x in v["project_s"]),
                    ],
                    [
                        "pandera's own `DataFrameSchema.validate` of the same schema",
                        s(v_pandera, 3),
                        ", ".join(f"{x:.3f}" for x in v["pandera_s"]),
                    ],
                    [
                        f"`RawRentals.validate` of the demo year ({d['rows']:,} rows)",
                        s(med(d["project_s"]), 3),
                        ", ".join(f"{x:.3f}" for x in d["project_s"]),
                    ],
                    [
                        "pandera's own validation of the demo year",
                        s(med(d["pandera_s"]), 3),
                        ", ".join(f"{x:.3f}" for x in d["pandera_s"]),
                    ],
                    [
                        f"bare `model.predict` of {b['rows']:,} rows (one OpenMP thread)",
                        s(med(b["bare_predict_s"])),
                        ", ".join(f"{x:.2f}" for x in b["bare_predict_s"]),
                    ],
                    [
                        "`deployment.score_batch` of the same rows",
                        s(med(b["score_batch_s"])),
                        ", ".join(f"{x:.2f}" for x in b["score_batch_s"]),
                    ],
                ],
            )
            + f"\n\nBatch scoring throughput relative to the bare predict (median of per-pair ratios): {b_ratio:.2f}x. "
            "`score_batch` also looks up the champion, checks its contract hash, validates the rows and the "
            "predictions, loads the model and writes Parquet atomically.\n\n" + http_text
        )
        sco["_values"] = {"validation": v_med, "pandera": v_pandera, "batch_ratio": b_ratio}

    # --- IO formats -------------------------------------------------------------------------------------------
    if "io" in results:
        io = results["io"]
        rows_out = []
        for name, m in io["values"].items():
            rows_out.append(
                [f"`{name}`"]
                + [
                    f"{s(med(m[f]['write_s']), 3)} / {s(med(m[f]['read_s']), 3)} / {med(m[f]['bytes']) / 1e6:.0f} MB"
                    for f in ("pickle", "parquet")
                ]
            )
        body.append(
            "## 6. The IO manager's format\n\n"
            f"`bench/io_formats.py`: the values the pipeline stores between steps for a {io['rows']:,}-row version, "
            "written as the IO manager writes (temporary file, fsync, rename) and read back, alternating (median "
            "write / read / size):\n\n"
            + table(["value", "pickle (the IO manager)", "Parquet"], rows_out)
            + "\n\nPickle is several times faster to write and to read; Parquet is smaller. Between steps speed "
            "matters and the files are rewritten by every run, so the IO manager keeps pickle.\n"
        )

    # --- the document -----------------------------------------------------------------------------------------
    met = [row for row in summary if row[3] == "**not met**"]
    sections_run = [
        (name, section["_section"])
        for name, section in results.items()
        if isinstance(section, dict) and "_section" in section and name != "environment"
    ]
    header = [
        "# Benchmarks",
        "",
        f"Generated by `.venv/bin/python bench/run.py{' --smoke' if smoke else ''}` on {env.get('date', '?')}."
        + (" — **smoke mode: one run each, tiny sizes; the figures prove only that the suite runs.**" if smoke else "")
        + " Every figure is the median of "
        + (f"{plan['reps']} runs" if smoke else f"at least {plan['reps']} runs")
        + "; comparisons are ratios of runs measured alternately in the same session. Times are wall-clock seconds "
        "of whole processes, from interpreter start to exit; peak memory is the maximum resident set size of the "
        "command's largest process (`wait4` rusage, what `/usr/bin/time -v` reports). Budgets come from the "
        "performance issue; none of them is a timed test in CI (the test suite runs `bench/run.py --smoke` only, "
        "so that the suite cannot rot).",
        "",
        "## Summary",
        "",
        table(["budget", "limit", "measured", "met?"], summary),
        "",
        "## Machine",
        "",
        f"- {env.get('cpu', '?')}, {env.get('cores', '?')} cores, {env.get('memory', '?')} RAM, "
        f"{env.get('system', '?')}, Python {env.get('python', '?')}; code at commit {env.get('commit', '?')}"
        + {True: " plus uncommitted changes", False: ", a clean checkout"}.get(env.get("dirty"), ""),
        "- " + ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items()),
        f"- Load (the benchmark itself keeps about one of the 2 cores busy): 1-minute load average at the "
        f"start {' / '.join(env.get('load_at_start', []))} (1, 5, 15 min). Each section, when it finished, how "
        "long it took, and the load then: "
        + "; ".join(
            f"{name} {info.get('at', '?')}, {info['seconds'] / 60:.0f} min, load {info['load_after']:.2f}"
            for name, info in sections_run
        )
        + ". The load before every timed run is in the results (and in the run tables of sections 1 and 2).",
        "- Gradient boosting runs on one OpenMP thread everywhere (`training.single_threaded`), as the project does.",
        "",
        "Commands: `bench/run.py` runs each section in fresh temporary folders and subprocesses (see its docstring); "
        "`bench/plain_script.py`, `bench/generate.py`, `bench/sensor_ticks.py`, `bench/scoring.py` and "
        "`bench/io_formats.py` can be run on their own. Raw measurements: `benchmarks/"
        + ("results-smoke.json" if smoke else "results.json")
        + "`.",
        "",
    ]
    closing = _closing_note(results, met)
    text = "\n".join(header) + "\n" + "\n".join(body) + "\n" + CHANGES + "\n" + closing
    path.write_text(text)
    return path


CHANGES = """## What was changed for these budgets, and what was chosen by measurement

- **Contract validation** (`mlops_assets/contracts.py`): the contracts derive from `Contract`, a Pandera
  `DataFrameModel` whose `validate` first checks rows that already have the contract's dtypes with vectorised
  pandas/NumPy code (dtype, no missing values, ranges as min/max, categories, the row key's uniqueness, the
  table-wide checks) and returns them as Pandera would; anything else (values to coerce, any failed rule, a rule
  it does not know) goes to Pandera, so every failure report is still Pandera's (the failure-report tests are
  unchanged and pass; `tests/test_contract_validation.py` pins that the fast path never accepts what Pandera
  rejects). Most of Pandera's time at a million rows went into checking, one value at a time in Python, that the
  text columns hold text. The parser that keeps fractional numbers from being silently cast to integers now skips
  columns that are integers already. Section 5 has the effect (project path against Pandera's own).
- **Ingestion** (`mlops_assets/ingestion.py`): the concatenated frame of a version belongs to `read_version`, so it
  is validated in place instead of being copied once more.
- **Loading the definitions** (`assets.py`, `sensors.py`, `column_schemas.py`): the Dagster layer imports the stage
  modules inside the assets and sensors that use them, and the contracts' columns for the UI come from
  `column_schemas.json`, built from the contracts and rebuilt whenever `contracts.py` changes. Loading the code
  location imports neither pandas nor Pandera (a test pins it); before, that was about 0.6 s of every load (section
  2).
- **Values shared within a run** (`mlops_assets/io_managers.py`): the IO manager still writes every value to its
  file, and the steps that follow in the same run process get the object it stored instead of unpickling the file
  again: `raw_dataset` is read by four steps, `dataset_split` by two. At 1M rows each load cost about 0.1 s and a
  fresh 120 MB of page-faulted memory. Stage functions never modify their inputs; `tests/test_io_manager.py` runs
  the pipeline and checks every shared value against its file.
- **Many versions** (`mlops_assets/sensors.py`): `dataset_version_sensor` lists the versions folder only when its
  mtime moved (a landing), and re-checks 200 seen versions per tick for changed files, in turn, instead of all of
  them (section 4).
- **Monitoring** (`mlops_assets/monitoring.py`): categorical columns are counted per distinct value instead of
  per row: 1.8 s to 0.03 s for the five categorical columns of 1M rows, paid twice per run (reference profile and
  drift). Both sides got faster by the same amount, which makes the pipeline / plain ratios larger, not smaller.
- **Kept by measurement:** the in-process executor (section 1: Dagster's default multiprocess executor costs a
  process and a fresh import of the code per step) and pickle in the IO manager (section 6: faster than Parquet to
  write, which is what remains now that reads within a run are shared).
- **Not changed, measured instead:** Dagster's CLI, instance and event handling, MLflow's logging and the imports
  (sections 1 and 2 name their costs).
"""


def _closing_note(results: dict, unmet: list[list]) -> str:
    if results["plan"]["smoke"]:
        return "## Closing note\n\nSmoke run: nothing is judged.\n"
    lines = ["## Closing note", ""]
    if not unmet:
        lines.append("Every budget holds in this run.")
        return "\n".join(lines) + "\n"
    lines.append("Budgets not met in this run, with what costs them (measured above):")
    lines.append("")
    for row in unmet:
        lines.append(f"- **{row[0]}** ({row[2]} against {row[1]}): {_cost_of(row[0], results)}")
    return "\n".join(lines) + "\n" + results.get("_closing_extra", "")


def _cost_of(budget: str, results: dict) -> str:
    o = results.get("overhead", {})
    if budget.startswith("Orchestration overhead") and "_phases" in o:
        p, imp, prof = o["_phases"], o.get("_imports", {}), o.get("_profile", {})
        step_extra = p["steps"] - p["plain_stages"]
        text = (
            f"from the CLI's start to RUN_START {p['before_run']:.2f} s against the plain script's "
            f"{p['plain_imports']:.2f} s of imports ({p['before_run'] - p['plain_imports']:+.2f} s); the steps "
            f"{step_extra:+.2f} s over the plain stages; between steps {p['between_steps']:.2f} s; exit "
            f"{p['after_run'] - p['plain_exit']:+.2f} s."
        )
        if imp:
            text += (
                f" In separate processes `dagster --version` takes {imp['dagster --version']:.2f} s and "
                f"`import dagster` {imp['import dagster']:.2f} s (both sides import dagster)."
            )
        if prof:
            named = sorted(((k, v) for k, v in prof.items() if not k.startswith("asset code")), key=lambda kv: -kv[1])[
                :5
            ]
            text += " Under the profiler the largest orchestration parts are: " + "; ".join(
                f"{k} {v:.2f} s" for k, v in named
            )
            text += (
                ". These belong to Dagster (its SQLite instance opens a new database engine for every event it "
                "stores, and the CLI opens the instance and creates the run before the first step); the project's "
                "own additions (IO manager, UI metadata, MLflow orphan-run search) are the smaller rows."
            )
        return text
    if budget.startswith("Start-up"):
        imports = results.get("startup", {}).get("_imports", {})
        detail = ", ".join(f"{k} {v:.2f} s" for k, v in imports.items() if k != "total")
        return (
            f"loading the project's definitions imports {imports.get('total', float('nan')):.2f} s of modules "
            f"beyond dagster ({detail}); the rest is building and validating its assets, checks, jobs and sensors."
        )
    if budget.startswith("Scale"):
        sc = results.get("scale", {})
        text = ""
        if "1000000" in sc.get("sizes", {}):
            _, p = _overhead_breakdown({"runs": sc["sizes"]["1000000"]["runs"]})
            text = (
                f"at 1M rows the pipeline's process takes {p['pipeline_wall'] - p['plain_wall']:.1f} s more: "
                f"{p['before_run'] - p['plain_imports']:+.2f} s before the first step (CLI, instance, run), "
                f"{p['steps'] - p['plain_stages']:+.2f} s in the steps, {p['between_steps']:.2f} s between them and "
                f"{p['after_run'] - p['plain_exit']:+.2f} s at exit. "
            )
        prof = results.get("scale_profile", {}).get("_profile", {})
        if prof:
            named = sorted(((k, v) for k, v in prof.items() if not k.startswith("asset code")), key=lambda kv: -kv[1])
            text += "Under the profiler: " + "; ".join(f"{k} {v:.2f} s" for k, v in named[:6]) + ". "
        allowed = 0.1 * p["plain_wall"] if "1000000" in sc.get("sizes", {}) else float("nan")
        return text + (
            "The IO manager writes every step's output to a file (pickle, fsynced; section 6 has the cost per "
            "value) where the plain script keeps its objects in memory (later steps of the run share the stored "
            "values, so nothing is read back); the rest is Dagster's fixed cost per run (CLI, instance, run "
            f"creation, about 85 events stored in SQLite), and the 1.1x budget leaves {allowed:.1f} s for all of it "
            "at this size."
        )
    if budget.startswith("Scoring: batch"):
        return (
            "`score_batch` validates the rows and the predictions and loads the model from the registry on every "
            "call; with a cheap model these fixed costs weigh more."
        )
    if budget.startswith("Scoring: raw"):
        return "see the validation table in section 5."
    if budget.startswith("Many versions"):
        g = results.get("sensors", {}).get("_growth", {})
        parts = "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in g.get("parts", {}).items())
        return (
            f"with 10,000 versions: {parts}. The cursor (every seen key and its fingerprint, read and written as "
            "JSON on every tick) is the part that still grows with what exists."
        )
    return "see its section."
