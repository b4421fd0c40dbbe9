"""Latency of online scoring: the MLflow model server against the same model called in-process.

    .venv/bin/python bench/serving_latency.py                   # trains a small champion in a temporary folder
    .venv/bin/python bench/serving_latency.py --state-dir state # or serves the champion of an existing store

Starts `mlflow models serve` exactly as `python -m mlops_assets.commands.serving` does (serving.serve_command and
serving_env) on a free port of 127.0.0.1, warms it up, then times N requests of one row and of 1,000 rows (the body
is encoded once; a keep-alive connection per case), and the same rows through the loaded model in this process:
scikit-learn's `predict` and MLflow's pyfunc `predict` (which adds the signature check the server does).
The model is the measured one's champion (bike_rentals@champion, bench/bench_model.py). Prints medians and 90th
percentiles in milliseconds. The server is always stopped with its process group.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench folder

from bench_model import bench_model


def train_demo_champion(root: Path, key: str = "2011-01") -> str:
    """Run the pipeline (small search) for one demo version into `root`; returns the state folder."""
    import dagster as dg
    import pandas as pd

    from mlops_assets.definitions import build_definitions
    from mlops_assets.demo.versions import SOURCE_CSV, land_version, monthly_snapshot
    from mlops_assets.infra.alerts import Notifier
    from mlops_assets.settings import SearchSettings
    from mlops_assets.wiring.jobs import ingestion_selection, pipeline_job_name, training_selection
    from mlops_assets.wiring.resources import MLflowTracking

    state = root / "state"
    space = {"max_iter": [100], "learning_rate": [0.1], "max_leaf_nodes": [31], "min_samples_leaf": [20]}
    estimator = bench_model().estimator.model_copy(update={"search_space": space})
    settings = bench_model(
        data_dir=str(root / "data"),
        state_dir=str(state),
        search=SearchSettings(n_iter=2, cv_folds=2),
        estimator=estimator,
    )
    dataset = settings.dataset
    tracking = MLflowTracking(tracking_uri=f"sqlite:///{state.resolve() / 'mlflow.db'}", state_dir=str(state))
    land_version(dataset.versions_dir, key, monthly_snapshot(pd.read_csv(SOURCE_CSV), key))
    defs = build_definitions(models=[settings], mlflow_tracking=tracking, notifier=Notifier())
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        instance.add_dynamic_partitions(dataset.partitions_name, [key])
        result = defs.resolve_job_def(pipeline_job_name(dataset)).execute_in_process(
            instance=instance,
            partition_key=key,
            # what the dataset's sensor runs for a first version of a model without a champion
            asset_selection=ingestion_selection(settings) + training_selection(settings),
            raise_on_error=False,
        )
    if not result.success:
        sys.exit("training the demo champion failed")
    return str(state)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ping(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"no answer on {url}/ping within {timeout:.0f} s")


def time_calls(call, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="serve the champion of this state folder (default: train one)")
    parser.add_argument("--requests", type=int, default=30, help="timed calls per case (default 30)")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import pandas as pd

    from mlops_assets.commands.serving import champion_uri, serve_command, serving_env
    from mlops_assets.demo.versions import SOURCE_CSV
    from mlops_assets.wiring.resources import MLflowTracking

    model = bench_model()

    workdir = Path(tempfile.mkdtemp(prefix="serving_latency-"))
    try:
        state_dir = args.state_dir or train_demo_champion(workdir)
        tracking = MLflowTracking(state_dir=state_dir)
        model_uri = champion_uri(model.model_name)
        mlflow.set_tracking_uri(tracking.uri)
        sklearn_model = mlflow.sklearn.load_model(model_uri)
        pyfunc_model = mlflow.pyfunc.load_model(model_uri)

        source = pd.read_csv(SOURCE_CSV)[model.input_columns]
        cases = {"1 row": source.iloc[:1], "1,000 rows": source.iloc[:1000]}

        port = free_port()
        with open(workdir / "server.log", "wb") as log:
            process = subprocess.Popen(
                serve_command(model_uri, port=port),
                env=serving_env(tracking.uri),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_ping(f"http://127.0.0.1:{port}", process)
            rows_out = []
            for name, rows in cases.items():
                body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
                expected = len(rows)
                # uvicorn closes a connection idle for 5 s: a fresh one per case, timed before the in-process calls.
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

                def request(body=body, expected=expected, connection=connection):
                    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answer = json.loads(response.read())
                    assert response.status == 200 and len(answer["predictions"]) == expected, answer

                measured = {"server (HTTP)": time_calls(request, args.requests, args.warmup)}
                connection.close()
                measured |= {
                    "in-process sklearn predict": time_calls(
                        lambda rows=rows: sklearn_model.predict(rows), args.requests, args.warmup
                    ),
                    "in-process pyfunc predict": time_calls(
                        lambda rows=rows: pyfunc_model.predict(rows), args.requests, args.warmup
                    ),
                }
                for how, times in measured.items():
                    p90 = statistics.quantiles(times, n=10)[-1]
                    rows_out.append((name, how, statistics.median(times), p90))
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=15)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{model_uri} from {tracking.uri}; {args.requests} timed calls each after {args.warmup} warm-up\n")
    print(f"{'rows':<11} {'how':<28} {'median ms':>10} {'p90 ms':>9}")
    for name, how, median, p90 in rows_out:
        print(f"{name:<11} {how:<28} {median:>10.2f} {p90:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
