"""Section 7 of the report: ingesting large bad versions against a valid one of the same size (bad_versions.py)."""

from __future__ import annotations

from report.fmt import Section, med, ratio, s, table, verdict

CASES = {
    "valid": "valid",
    "duplicate-key": "every row key repeats",
    "bad-cells": "one bad cell in every row",
}
BUDGETS = {"seconds": 2.0, "max_rss_mb": 1.5}  # bad / valid: time, peak memory


def bad_versions_section(bv: dict, before: dict | None, smoke: bool) -> Section:
    summary = []
    for case in ["duplicate-key", "bad-cells"]:
        for key, what in [("seconds", "time"), ("max_rss_mb", "peak memory")]:
            value = ratio(bv["runs"], case, "valid", key)
            summary.append(
                [
                    f"Large bad versions: {bv['rows']:,} rows, {CASES[case]}, {what} / the valid version",
                    f"≤ {BUDGETS[key]:g}x",
                    f"{value:.2f}x",
                    verdict(value <= BUDGETS[key] if bv["rows"] >= 1_000_000 else None, smoke),
                ]
            )
    body = (
        "## 7. Large bad versions\n\n"
        "`bench/bad_versions.py`: ingestion as `raw_dataset` does it (`stages.ingestion.read_version`: read and "
        "parse the CSV file, validate it against the contract, build the failure report and the UI's failure "
        f"table) of three versions of {bv['rows']:,} rows made from the demo year: a valid one, the same rows with "
        f"a row key that repeats (each key about {bv['key_repeats']:.1f} times), and the valid rows with one bad "
        'cell in every row (in turn a weekday of 9, weather "sunny", a temperature of 1.5 and a holiday of '
        '"yes": two ranges, a category and text in an integer column). The contract is the project\'s `RawData` '
        "plus a `replica` column in the row key (section 3's, as plain Pandera: the project's default), so that a "
        "valid version of this size exists. Each ingestion runs in its own process, the three cases alternating. "
        "*Ingestion* is the wall time of `read_version` in that process (imports excluded) and *CPU* its CPU time "
        "(steadier than wall time on a shared machine); *process* is the whole process, interpreter start to exit; "
        "*peak RSS* is the process's; *load* the 1-minute load average before the runs (the machine has 2 cores, "
        f"shared with other work). Commit {bv['commit']}{' plus uncommitted changes' if bv.get('dirty') else ''}; "
        f"medians of {len(bv['runs']['valid'])} runs of each; the budgets compare each bad "
        "version with the valid one (median of the per-round ratios): ingestion time ≤ 2x, peak memory ≤ 1.5x.\n\n"
        + _table(bv)
        + "\n"
    )
    if before:
        body += (
            f"\n**Before** the change (commit {before['commit']}, {len(before['runs']['valid'])} run(s) of each; "
            "`bench/run.py --only bad_versions_before`; the repeated key alone took minutes). Its failure table held "
            "every failure case found (`reported`).\n\n" + _table(before) + "\n"
        )
    facts = {"ratios": {row[0]: row[2] for row in summary}}
    return Section(summary, body, facts)


def _table(bv: dict) -> str:
    rows = []
    for case, label in CASES.items():
        runs = bv["runs"][case]
        last = runs[-1]
        reported = f"{last['failure_cases']:,} failures, {last['table_rows']:,} table rows" if last["failed"] else "—"
        cpu = "cpu_seconds" in last  # not measured before it was added

        def against_valid(key: str, case=case) -> str:
            return "" if case == "valid" else f"{ratio(bv['runs'], case, 'valid', key):.2f}x"

        rows.append(
            [
                f"{label} ({bv['file_mb'][case]:.0f} MB)",
                s(med([r["seconds"] for r in runs])),
                against_valid("seconds"),
                s(med([r["cpu_seconds"] for r in runs])) if cpu else "n/a",
                against_valid("cpu_seconds") if cpu else "",
                s(med([r["wall_s"] for r in runs])),
                f"{med([r['max_rss_mb'] for r in runs]):,.0f} MB",
                against_valid("max_rss_mb"),
                reported,
                f"{med([r['load'] for r in runs]):.1f}",
            ]
        )
    header = ["version", "ingestion", "/ valid", "CPU", "/ valid", "process", "peak RSS", "/ valid", "reported", "load"]
    return table(header, rows)
