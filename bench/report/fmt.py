"""Numbers and Markdown for the report: medians, paired ratios, seconds, tables, verdicts."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Section:
    """One section of docs/benchmarks.md: its rows of the summary table, its text, and what the closing note reads."""

    summary: list[list] = field(default_factory=list)
    body: str = ""
    facts: dict = field(default_factory=dict)


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


def walls(runs: list[dict], key: str = "wall_s") -> float:
    """The median of one field (wall time by default) over a list of runs."""
    return med([r[key] for r in runs])


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
