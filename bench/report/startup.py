"""Section 2 of the report: `dagster definitions validate` of the project against a one-asset project."""

from __future__ import annotations

from report.fmt import Section, med, ratio, s, table, verdict, walls


def startup_section(st: dict, smoke: bool) -> Section:
    r = ratio(st["runs"], "project", "one_asset")
    summary = [
        ["Start-up: `definitions validate` / one-asset project", "≤ 1.3x", f"{r:.2f}x", verdict(r <= 1.3, smoke)]
    ]
    runs = [
        [f"run {i + 1}", s(b["wall_s"]), s(a["wall_s"]), f"{a['wall_s'] / b['wall_s']:.2f}x"]
        for i, (a, b) in enumerate(zip(st["runs"]["project"], st["runs"]["one_asset"], strict=True))
    ]
    models = st.get("models")
    shipped = (
        f" (the project's code location as it ships: its defs/ folder, whose models are {', '.join(models)})"
        if models
        else ""
    )
    body = (
        "## 2. Start-up\n\n"
        f"`{st['command']}` in the repository{shipped} and in `bench/one_asset/` (one asset, nothing else), "
        "alternating:\n\n"
        + table(
            ["", "one-asset project", "this project", "ratio"],
            [["median", s(walls(st["runs"]["one_asset"])), s(walls(st["runs"]["project"])), f"{r:.2f}x"], *runs],
        )
        + "\n"
    )
    text, imports = _imports(st.get("imports_after_dagster") or [])
    return Section(summary, body + text, {"imports": imports})


def _imports(runs: list[dict[str, float]]) -> tuple[str, dict[str, float]]:
    """What loading the definitions imports beyond dagster: the text, and the total and the larger packages."""
    if not runs:
        return "", {}
    shares = {k: med([run.get(k, 0.0) for run in runs]) for k in {k for run in runs for k in run}}
    names = sorted(shares, key=lambda k: -shares[k])
    total = med([sum(run.values()) for run in runs])
    top = [k for k in names if shares[k] >= 0.01]
    text = (
        f'\nWhat loading the definitions imports beyond dagster (`python -X importtime -c "import dagster; '
        f'import mlops_assets.definitions"`, self times summed by package, medians of {len(runs)} runs): '
        f"{total:.2f} s in all; "
        + ", ".join(f"{k} {shares[k]:.2f} s" for k in top)
        + ". The one-asset project imports none of these.\n"
    )
    return text, {"total": total, **{k: shares[k] for k in top}}
