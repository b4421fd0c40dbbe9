"""The benchmark suite's smoke mode: `bench/run.py --smoke` runs every section once on tiny data.

It judges nothing (budgets are measured by full runs, never by timed tests); it only keeps the suite from rotting:
the commands, the plain script, the generator, the sensor and scoring benchmarks and the report must still work.
About 40 s on an idle 2-core machine (two chains of sections run side by side). A quick test also checks that
`bench/run.py --report-only` still writes docs/benchmarks.md exactly as committed from docs/benchmarks/results.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SECTIONS = [
    "## Summary",
    "## Machine",
    "## 1. Orchestration overhead",
    "## 2. Start-up",
    "## 3. Scale",
    "## 4. Many versions",
    "## 5. Scoring",
    "## 6. The IO manager's format",
    "## 7. Large bad versions",
    "## What was changed for these budgets",
    "## Closing note",
]
PIPELINE_STEPS = {
    "raw_dataset",
    "feature_table",
    "dataset_split",
    "model_monitoring",
    "candidate_model",
    "model_evaluation",
    "deployed_model",
    "batch_predictions",
}


@pytest.mark.slow
def test_smoke_run_writes_the_report_and_plots(tmp_path):
    out = tmp_path / "docs"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out), "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    report = (out / "benchmarks.md").read_text()
    positions = [report.find(section) for section in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "smoke mode" in report
    summary = report.split("## Summary")[1].split("## Machine")[0]
    budgets = ["Orchestration overhead", "Start-up", "Scale", "Many versions", "raw contract validation", "Large bad"]
    for budget in budgets:
        assert budget in summary
    assert "opt-in fast path" in summary and "plain Pandera (the default)" in summary
    for plot in ["overhead.png", "scale_time.png", "scale_memory.png", "sensors.png"]:
        assert (out / "benchmarks" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"benchmarks/{plot}" in report
    results = json.loads((out / "benchmarks" / "results-smoke.json").read_text())
    runs = results["overhead"]["runs"]
    assert len(runs["pipeline"]) == len(runs["plain"]) == 1
    assert set(runs["pipeline"][0]["events"]["steps"]) == PIPELINE_STEPS
    # The plain script times the same stages as the pipeline's steps (its calls are the assets' calls).
    assert set(runs["plain"][0]["stages"]) - {"imports", "total"} == PIPELINE_STEPS
    assert not (ROOT / "docs" / "benchmarks" / "results-smoke.json").exists()  # nothing written outside --out


def test_report_only_rewrites_the_committed_report_from_its_results(tmp_path):
    """`bench/run.py --report-only` reruns nothing: the committed results give the committed text back."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "docs" / "benchmarks" / "results.json", tmp_path / "benchmarks" / "results.json")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--report-only", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "benchmarks.md").read_text() == (ROOT / "docs" / "benchmarks.md").read_text()
    assert sorted(p.name for p in (tmp_path / "benchmarks").glob("*.png")) == [
        "overhead.png",
        "scale_memory.png",
        "scale_time.png",
        "sensors.png",
    ]
