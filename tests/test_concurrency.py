"""Four dataset versions trained at once: queued runs, the daemon, the multiprocess executor.

The runs are launched through the instance's run queue (`dagster job launch`) and executed by a real
`dagster-daemon`, one process per step. Nothing may be lost: every run succeeds, every asset step that logs to
MLflow has exactly one MLflow run, every candidate is registered, and the aliases follow the project's rules
whatever order the runs finish in: a version becomes champion only if it was compared with the champion it
replaces (a candidate that lost the race to another run, or trained on older data, is registered, not promoted).
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version, source_versions
from mlops_assets.settings import PROJECT_ROOT, ProjectSettings
from mlops_assets.stages.registry import CHAMPION
from mlops_assets.wiring.records import latest_metadata
from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

MODEL = ProjectSettings().model_name
JOB = "train_and_deploy_multiprocess"
MLFLOW_ASSETS = ["candidate_model", "model_evaluation"]


def test_four_versions_at_once_lose_nothing(tmp_path):
    cut = dict(source_versions(ProjectSettings())[:4])  # four versions of the configured data set
    keys = list(cut)
    home, data = tmp_path / "state", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "concurrency:\n  runs:\n    max_concurrent_runs: 4\ntelemetry:\n  enabled: false\n"
    )
    for key in keys:
        land_version(data / "versions", key, cut[key])
    env = subprocess_env(DAGSTER_HOME=str(home), MLOPS_DATA_DIR=str(data), MLOPS_STATE_DIR=str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("dataset_version", keys)
    MLflowTracking(state_dir=str(home)).ensure_experiment()  # as the project does before parallel work

    bin_dir = Path(sys.executable).parent
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for key in keys:
            subprocess.run(
                [str(bin_dir / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", JOB,
                 "--tags", json.dumps({"dagster/partition": key})],
                cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                runs = [r.dagster_run for r in instance.get_run_records(dg.RunsFilter(job_name=JOB))]
                if len(runs) == len(keys) and all(run.is_finished for run in runs):
                    break
                assert daemon.poll() is None, "the daemon exited"
                time.sleep(2)
            runs = [r.dagster_run for r in instance.get_run_records(dg.RunsFilter(job_name=JOB))]
            assert sorted(run.tags["dagster/partition"] for run in runs) == keys
            failures = {
                run.tags["dagster/partition"]: [
                    event.message for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                ]
                for run in runs
                if run.status != dg.DagsterRunStatus.SUCCESS
            }
            assert not failures, failures
            # They really overlapped: some run started before another one ended.
            stats = sorted((instance.get_run_stats(run.run_id) for run in runs), key=lambda s: s.start_time)
            assert any(later.start_time < earlier.end_time for earlier, later in itertools.pairwise(stats))
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)

    tracking = MLflowTracking(state_dir=str(home))
    client = tracking.client()
    experiment = client.get_experiment_by_name("mlops_assets").experiment_id
    for run in runs:
        logged = client.search_runs([experiment], filter_string=f"tags.`dagster.run_id` = '{run.run_id}'")
        assert sorted(r.data.tags["dagster.asset"] for r in logged) == MLFLOW_ASSETS, run.tags["dagster/partition"]
        assert all(r.info.status == "FINISHED" for r in logged)
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert len(versions) == len(keys)  # no lost registration
    assert all(version.status == "READY" for version in versions)
    champion = client.get_model_version_by_alias(MODEL, CHAMPION)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for key in keys:
            deployed = latest_metadata(instance, "deployed_model", key)
            evaluated = latest_metadata(instance, "model_evaluation", key)
            if deployed["promoted"]:
                # Promoted only after a comparison with the very champion it replaced.
                replaced = client.get_model_version(MODEL, deployed["candidate_version"]).tags
                assert (replaced["replaced_version"] or "none") == evaluated["champion_version"], key
            else:
                assert "registered, not promoted" in deployed["outcome"], key
    assert champion.tags.get("promoted_at")
