"""Section 5 of the report: contract validation, batch scoring and the HTTP server (bench/scoring.py)."""

from __future__ import annotations

import math

from report.fmt import Section, med, ms, s, table, verdict


def fast_runs(validation: dict) -> list[float]:
    """The fast path's times: `fast_s`, or `project_s` in results from before the restructure, when the fast path
    was what the project's contracts did by default."""
    return validation["fast_s"] if "fast_s" in validation else validation["project_s"]


def scoring_section(sco: dict, smoke: bool) -> Section:
    v, b = sco["validation"], sco["batch_scoring"]
    v_med, v_pandera = med(fast_runs(v)), med(v["pandera_s"])
    b_ratio = med([x / y for x, y in zip(b["bare_predict_s"], b["score_batch_s"], strict=True)])
    judged = v["rows"] >= 1_000_000
    summary = [
        [
            f"Scoring: raw contract validation of {v['rows']:,} rows, opt-in fast path (`FastContract`)",
            "≤ 0.4 s",
            s(v_med, 3),
            verdict(v_med <= 0.4 if judged else None, smoke),
        ],
        [
            f"Scoring: raw contract validation of {v['rows']:,} rows, plain Pandera (the default)",
            "≤ 0.4 s",
            s(v_pandera, 3),
            verdict(v_pandera <= 0.4 if judged else None, smoke),
        ],
        [
            f"Scoring: batch scoring throughput / bare `model.predict` ({b['rows']:,} rows)",
            "≥ 0.8x",
            f"{b_ratio:.2f}x",
            verdict(b_ratio >= 0.8, smoke),
        ],
    ]
    http_rows, http_text = _http(sco.get("http"))
    body = (
        "## 5. Scoring\n\n"
        f"`bench/scoring.py` on {v['rows']:,} generated rows (section 3's contract). The champion was trained "
        f"with the {sco.get('champion_training', 'project search budget')}.\n\n"
        + _timings(v, sco["demo_validation"], b)
        + f"\n\nBatch scoring throughput relative to the bare predict (median of per-pair ratios): {b_ratio:.2f}x. "
        "`score_batch` also looks up the champion, checks its contract hash, validates the rows and the "
        "predictions, loads the model and writes Parquet atomically.\n\n" + http_text
    )
    facts = {"validation": v_med, "pandera": v_pandera, "batch_ratio": b_ratio}
    return Section(summary + http_rows, body, facts)


def _timings(v: dict, d: dict, b: dict) -> str:
    def row(what: str, runs: list[float], digits: int) -> list:
        return [what, s(med(runs), digits), ", ".join(f"{x:.{digits}f}" for x in runs)]

    return table(
        ["what", "median", "runs"],
        [
            row(f"`{v['contract']}.validate(rows, lazy=True)` through the opt-in fast path", fast_runs(v), 3),
            row(
                "pandera's own `DataFrameSchema.validate` of the same schema (what a plain `pa.DataFrameModel` "
                "does: the project's default)",
                v["pandera_s"],
                3,
            ),
            row(f"the demo contract on the demo year ({d['rows']:,} rows), fast path", fast_runs(d), 3),
            row("pandera's own validation of the demo year (the default)", d["pandera_s"], 3),
            row(f"bare `model.predict` of {b['rows']:,} rows (one OpenMP thread)", b["bare_predict_s"], 2),
            row("`stages.scoring.score_batch` of the same rows", b["score_batch_s"], 2),
        ],
    )


def _http(h: dict | None) -> tuple[list[list], str]:
    """The HTTP server's summary rows and paragraph (not measured in smoke mode)."""
    if not h:
        return [["HTTP server latency and throughput", "(reported)", "not measured", "—"]], (
            "**HTTP server:** not measured in this run.\n"
        )
    one = sorted(h["one_row_s"])
    p99 = one[min(len(one) - 1, math.ceil(0.99 * len(one)) - 1)]
    throughput = h["batch_rows"] / med(h["batch_s"])
    rows = [
        ["HTTP server: one-row latency, median / p99", "(reported)", f"{ms(med(one))} / {ms(p99)}", "—"],
        [f"HTTP server: {h['batch_rows']:,}-row requests", "(reported)", f"{throughput:,.0f} rows/s", "—"],
    ]
    text = (
        "**HTTP server** (`python -m mlops_assets.commands.serving --model bike_rentals --port P`, MLflow's scoring "
        "server, against the "
        f"same champion; started and answering /ping in {s(h['startup_s'], 1)}): {len(one)} one-row requests "
        f"on one keep-alive connection after 20 warm-up requests: median {ms(med(one))}, p99 {ms(p99)}; "
        f"{len(h['batch_s'])} requests of {h['batch_rows']:,} rows (JSON `dataframe_split`, "
        f"{h['batch_body_mb']:.1f} MB each): median {s(med(h['batch_s']))}, {throughput:,.0f} rows/s.\n"
    )
    return rows, text
