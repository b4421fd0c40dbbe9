"""Where a pipeline run's time goes, shared by sections 1 and 3 and the closing note.

`breakdown` sets the pipeline's steps (from its event log) against the plain script's stages, with the time before,
between and after them; `profile_table` groups bench/profile_pipeline.py's cProfile runs into named parts.
"""

from __future__ import annotations

import math

from report.fmt import med, s, table


def breakdown(result: dict) -> tuple[list[list], dict]:
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


def profile_table(result: dict, what: str = "the same CLI run") -> tuple[str, dict[str, float]]:
    """The profiled parts as a Markdown paragraph and table, and the median seconds of every part."""
    profiles = result.get("profiles")
    if not profiles:
        return "\nThe profile of the pipeline's parts is not measured in smoke mode.\n", {}
    parts = list(profiles[0]["parts"])
    total = med([p["profiled_total_s"] for p in profiles])
    rows = [
        [part, f"{med([p['parts'][part]['seconds'] for p in profiles]):.2f} s", profiles[0]["parts"][part]["calls"]]
        for part in parts
        if profiles[0]["parts"][part]["calls"]  # e.g. a code location loaded from a file (-f) is not a module import
    ]
    medians = {part: med([p["parts"][part]["seconds"] for p in profiles]) for part in parts}
    text = (
        f"\n**What the orchestration is made of** (`bench/profile_pipeline.py`: {what} in-process under "
        f"cProfile, {len(profiles)} runs, medians of cumulative seconds; the profiled run takes {total:.1f} s, "
        "cProfile slows Python-heavy code most, so read these as shares):\n\n"
        + table(["part", "cumulative time", "calls"], rows)
        + "\n"
    )
    return text, medians


def largest_parts(profile: dict[str, float], count: int) -> list[tuple[str, float]]:
    """The `count` largest profiled parts besides the asset code itself, largest first."""
    named = sorted(((k, v) for k, v in profile.items() if not k.startswith("asset code")), key=lambda kv: -kv[1])
    return named[:count]
