"""Four dataset versions trained at once: queued runs, the daemon, the multiprocess executor.

The runs are launched through the instance's run queue (`dagster job launch`) and executed by a real
`dagster-daemon`, one process per step. Nothing may be lost: every run succeeds, every asset step that logs to
MLflow has exactly one MLflow run, every candidate is registered, and the aliases follow the project's rules
whatever order the runs finish in: a version becomes champion only if it was compared with the champion it
replaces (a candidate that lost the race to another run, or trained on older data, is registered, not promoted).

The code location is the test model's definitions with a multiprocess job of what the dataset-version sensor runs
for a first version (ingestion, training, gates, deployment, scoring). The dataset's own multiprocess job holds
every asset of every model on it, and an op selection of it cannot stand in: Dagster wires an op-selected step to
every output of an upstream asset with blocking checks (deployed_model got a list of five values).

And landings of one key at once, by real `python -m mlops_assets.commands.landing` processes: one lands, the others
are refused cleanly, and the folder holds the winner's files.
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

from mlops_assets.commands.landing import source_versions
from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.stages.registry import CHAMPION
from mlops_assets.wiring.records import latest_metadata
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensor_driver import failure_messages
from tests.conftest import DATASET, TEST_MODEL, land, model_settings, subprocess_env

pytestmark = pytest.mark.slow

SETTINGS = model_settings()  # the test model as configured: its search, its estimator
MODEL = SETTINGS.model_name
JOB = "train_and_deploy_multiprocess"
MLFLOW_ASSETS = [SETTINGS.key(name).to_user_string() for name in ("candidate_model", "model_evaluation")]
LOCATION = f"""
import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from tests.conftest import model_settings

model = model_settings()  # the test model as configured, its folders from MLOPS_DATA_DIR and MLOPS_STATE_DIR
job = dg.define_asset_job(
    {JOB!r},
    selection=ingestion_selection(model) + training_selection(model),
    executor_def=dg.multiprocess_executor,
)
defs = dg.Definitions.merge(build_definitions(models=[model]), dg.Definitions(jobs=[job]))
"""
WORKSPACE = """load_from:
  - python_file:
      relative_path: {location}
      location_name: mlops_assets
      working_directory: {root}
"""


def test_four_versions_at_once_lose_nothing(tmp_path):
    cut = dict(source_versions(DATASET)[:4])  # four versions of the configured data set
    keys = list(cut)
    home, data = tmp_path / "state", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "concurrency:\n  runs:\n    max_concurrent_runs: 4\ntelemetry:\n  enabled: false\n"
    )
    land(model_settings(tmp_path), cut, *keys)
    (tmp_path / "location.py").write_text(LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(WORKSPACE.format(location=tmp_path / "location.py", root=PROJECT_ROOT))
    env = subprocess_env(
        DAGSTER_HOME=str(home), MLOPS_DATA_DIR=str(data), MLOPS_STATE_DIR=str(home), MLOPS_TEST_MODEL=TEST_MODEL
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(DATASET.partitions_name, keys)
    MLflowTracking(state_dir=str(home)).ensure_experiment()  # as the project does before parallel work

    bin_dir = Path(sys.executable).parent
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for key in keys:
            subprocess.run(
                [str(bin_dir / "dagster"), "job", "launch", "-w", str(workspace), "-j", JOB,
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
                run.tags["dagster/partition"]: failure_messages(instance, run.run_id)
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
            deployed = latest_metadata(instance, SETTINGS.key("deployed_model"), key)
            evaluated = latest_metadata(instance, SETTINGS.key("model_evaluation"), key)
            if deployed["promoted"]:
                # Promoted only after a comparison with the very champion it replaced.
                replaced = client.get_model_version(MODEL, deployed["candidate_version"]).tags
                assert (replaced["replaced_version"] or "none") == evaluated["champion_version"], key
            else:
                assert "registered, not promoted" in deployed["outcome"], key
    assert champion.tags.get("promoted_at")


RACERS, ROUNDS = 3, 4


def test_landings_of_one_key_at_once_land_exactly_one_and_refuse_the_others(tmp_path):
    # Exports of about 10 MB each: copying and flushing one takes long enough that the racers usually all pass the
    # "does it exist" check and meet at the rename, the one decision point (a late racer is refused by the check).
    exports = []
    for i in range(RACERS):
        export = tmp_path / f"export-{i}"
        export.mkdir()
        (export / f"from-export-{i}.csv").write_bytes(f"export {i}\n".encode() * 1_000_000)
        exports.append(export)
    for round_ in range(ROUNDS):
        versions = tmp_path / f"versions-{round_}"
        command = [sys.executable, "-m", "mlops_assets.commands.landing", "--dataset", DATASET.name]
        racers = [
            subprocess.Popen(
                [*command, str(export), "2012-01", "--to", str(versions)],
                cwd=PROJECT_ROOT,
                env=subprocess_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for export in exports
        ]
        results = [(racer, *racer.communicate(timeout=120)) for racer in racers]

        winners = [i for i, (racer, _, _) in enumerate(results) if racer.returncode == 0]
        assert len(winners) == 1, [(r.returncode, out, err) for r, out, err in results]
        [winner] = winners
        for i, (racer, out, err) in enumerate(results):
            assert "Traceback" not in out + err, err
            if i == winner:
                assert out.startswith("landed "), out
            else:
                assert racer.returncode == 2 and "landed" not in out, (out, err)
                assert "another landing of the same key" in err or "exists: versions are immutable" in err, err
        folder = versions / "2012-01"
        assert sorted(p.name for p in versions.iterdir()) == ["2012-01"], "no .landing- folder is left"
        assert sorted(p.name for p in folder.iterdir()) == [".landed", f"from-export-{winner}.csv"]
        name = f"from-export-{winner}.csv"
        assert (folder / name).read_bytes() == (exports[winner] / name).read_bytes()
