"""The closing note: every budget not met, with what costs it (from the figures of its section)."""

from __future__ import annotations

from report.timeline import breakdown, largest_parts


def closing_note(results: dict, facts: dict[str, dict], unmet: list[list]) -> str:
    if results["plan"]["smoke"]:
        return "## Closing note\n\nSmoke run: nothing is judged.\n"
    lines = ["## Closing note", ""]
    if not unmet:
        lines.append("Every budget holds in this run.")
        return "\n".join(lines) + "\n"
    lines.append("Budgets not met in this run, with what costs them (measured above):")
    lines.append("")
    for row in unmet:
        lines.append(f"- **{row[0]}** ({row[2]} against {row[1]}): {cost_of(row[0], results, facts)}")
    return "\n".join(lines) + "\n" + results.get("_closing_extra", "")


def cost_of(budget: str, results: dict, facts: dict[str, dict]) -> str:
    """What costs the time (or memory) of a budget that was not met."""
    if budget.startswith("Orchestration overhead") and "phases" in facts.get("overhead", {}):
        return _overhead(facts["overhead"])
    if budget.startswith("Start-up"):
        return _startup(facts.get("startup", {}).get("imports", {}))
    if budget.startswith("Scale"):
        return _scale(results.get("scale", {}), facts.get("scale", {}).get("profile", {}))
    if budget.startswith("Scoring: batch"):
        return (
            "`score_batch` validates the rows and the predictions and loads the model from the registry on every "
            "call; with a cheap model these fixed costs weigh more."
        )
    if budget.startswith("Scoring: raw") and "plain Pandera" in budget and "validation" in facts.get("scoring", {}):
        return (
            "the project's contracts derive from plain `pa.DataFrameModel`, and Pandera checks the text columns "
            "one value at a time in Python; derived from `mlops_assets.stages.fast_validation.FastContract`, the same "
            f"contract takes {facts['scoring']['validation']:.3f} s on these rows (section 5)."
        )
    if budget.startswith("Scoring: raw"):
        return "see the validation table in section 5."
    if budget.startswith("Large bad versions"):
        return "section 7 has the ingestion time and peak memory of each version, before and after."
    if budget.startswith("Many models"):
        return _many_models(budget, facts.get("many_models", {}))
    if budget.startswith("Many versions"):
        parts = "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in facts.get("sensors", {}).get("parts", {}).items())
        return (
            f"with 10,000 versions: {parts}. The cursor (every seen key and its fingerprint, read and written as "
            "JSON on every tick) is the part that still grows with what exists."
        )
    return "see its section."


def _many_models(budget: str, mm: dict) -> str:
    if "load time" in budget:
        return (
            f"every model component builds its own assets, gate checks and retraining sensor, and the dataset's "
            f"sensor and job name every model's assets: loading {mm.get('models', '?')} models is that work "
            f"{mm.get('models', '?')} times (section 9)."
        )
    what, seconds = mm.get("slowest_tick", ("?", float("nan")))
    return (
        f"the slowest tick is the {what} ({seconds:.2f} s): it asks the registry for every model's champion and makes "
        "one run request per version with every model's assets, or reads a model's whole monitoring history "
        "(section 9)."
    )


def _overhead(overhead: dict) -> str:
    p, imp, prof = overhead["phases"], overhead.get("imports", {}), overhead.get("profile", {})
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
        text += " Under the profiler the largest orchestration parts are: " + "; ".join(
            f"{k} {v:.2f} s" for k, v in largest_parts(prof, 5)
        )
        text += (
            ". These belong to Dagster (its SQLite instance opens a new database engine for every event it "
            "stores, and the CLI opens the instance and creates the run before the first step); the project's "
            "own additions (IO manager, UI metadata, MLflow orphan-run search) are the smaller rows."
        )
    return text


def _startup(imports: dict[str, float]) -> str:
    detail = ", ".join(f"{k} {v:.2f} s" for k, v in imports.items() if k != "total")
    return (
        f"loading the project's definitions imports {imports.get('total', float('nan')):.2f} s of modules "
        f"beyond dagster ({detail}); the rest is building and validating its assets, checks, jobs and sensors."
    )


def _scale(sc: dict, profile: dict[str, float]) -> str:
    text, allowed = "", float("nan")
    if "1000000" in sc.get("sizes", {}):
        _, p = breakdown({"runs": sc["sizes"]["1000000"]["runs"]})
        text = (
            f"at 1M rows the pipeline's process takes {p['pipeline_wall'] - p['plain_wall']:.1f} s more: "
            f"{p['before_run'] - p['plain_imports']:+.2f} s before the first step (CLI, instance, run), "
            f"{p['steps'] - p['plain_stages']:+.2f} s in the steps, {p['between_steps']:.2f} s between them and "
            f"{p['after_run'] - p['plain_exit']:+.2f} s at exit. "
        )
        allowed = 0.1 * p["plain_wall"]
    if profile:
        text += "Under the profiler: " + "; ".join(f"{k} {v:.2f} s" for k, v in largest_parts(profile, 6)) + ". "
    return text + (
        "The IO manager writes every step's output to a file (pickle, fsynced; section 6 has the cost per "
        "value) where the plain script keeps its objects in memory (later steps of the run share the stored "
        "values, so nothing is read back); the rest is Dagster's fixed cost per run (CLI, instance, run "
        f"creation, about 85 events stored in SQLite), and the 1.1x budget leaves {allowed:.1f} s for all of it "
        "at this size."
    )
