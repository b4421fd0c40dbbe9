"""docs/benchmarks.md and its plots from bench/run.py's results (a dict, also saved as benchmarks/results.json).

One module per section of the report (overhead, startup, scale, sensors, scoring, formats, bad_versions,
production, many_models), each returning a `fmt.Section`: its rows of the summary table, its text, and the figures
the closing note reads (closing.py). document.py puts them together; `python bench/run.py --report-only` writes the
report again from results.json.
"""

from report.document import write_report

__all__ = ["write_report"]
