"""Section 8 of the report: the production profile against the embedded default (bench/production.py)."""

from __future__ import annotations

from report.fmt import Section, s, table

SETUPS = {
    "embedded": "embedded default (SQLite, in-process executor, at most 2 runs)",
    "celery_1": "production, 1 Celery worker",
    "celery_2": "production, 2 Celery workers",
}


def production_section(p: dict) -> Section:
    throughput, overhead = p.get("throughput", {}), p.get("overhead")
    rows = [
        [
            label,
            s(m["seconds"], 1),
            f"{m['versions_per_minute']:.2f}",
            f"{m['speed_vs_embedded']:.2f}x",
            f"{m['load_before']:.1f} / {m['load_after']:.1f}",
        ]
        for name, label in SETUPS.items()
        if (m := throughput.get(name))
    ]
    versions = next(iter(throughput.values()), {}).get("versions", "?")
    body = (
        "## 8. The production profile\n\n"
        "`bench/production.py` (run by `bench/run.py --only production`: it needs PostgreSQL, RabbitMQ and Redis). "
        f"**Throughput**: after a first version, {versions} more land at once; the daemon's sensors ingest and "
        "monitor each, then retrain, gate and deploy it (tests/always_retrain.py: a small search budget, a retraining "
        "on every version), from the landing to the end of the last run. One set-up after the other in one session; "
        "start-up not timed.\n\n"
        + table(["set-up", "seconds", "versions / min", "speed vs embedded", "load before / after"], rows)
        + "\n\nRead with the load column and the machine: on 2 cores a second worker adds no core, and every version "
        "waits for two sensor ticks (the dataset-version sensor, then the retraining sensor after its monitoring; "
        "each at most every 15 s), which a small search budget leaves as most of the time. What the profile buys is "
        "room to grow (workers on other hosts, one database for every process), not speed on one machine.\n"
    )
    if overhead:
        med = overhead["median"]
        body += (
            "\n**Per-run overhead of Dagster's storage**: the same in-process run (raw_dataset and feature_table of "
            f"one version, {overhead['events_per_run']['sqlite']} events) on an instance on SQLite and one on "
            f"PostgreSQL (loopback), alternating, median of {len(overhead['seconds']['sqlite'])}: "
            f"{s(med['sqlite'], 3)} against {s(med['postgres'], 3)}, "
            f"**{overhead['postgres_over_sqlite']:.2f}x** (+{1000 * (med['postgres'] - med['sqlite']):.0f} ms a run, "
            f"about {1000 * (med['postgres'] - med['sqlite']) / overhead['events_per_run']['sqlite']:.0f} ms an "
            "event).\n"
        )
    return Section([], body)
