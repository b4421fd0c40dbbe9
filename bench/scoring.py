"""Scoring: raw contract validation, batch scoring against a bare `model.predict`, and the HTTP server.

    .venv/bin/python bench/scoring.py --state-dir S --data-dir D --rows 1000000 --reps 5 --out scoring.json

S must hold an MLflow store whose `bike_rentals@champion` was trained under the replicated contract
(bench/scale.py: `scale_model()`, the dataset's contract `scale:ReplicatedRawData`); bench/run.py makes one. On
`--rows` generated rows (bench/generate.py):

- validation: `ReplicatedRawData.validate(rows, lazy=True)`, which opts in to the vectorised fast path
  (`mlops_assets.stages.fast_validation.FastContract`), alternating with Pandera's own `DataFrameSchema.validate` of the
  same schema, which is what a contract of the project does by default (a plain `pa.DataFrameModel`'s `validate`
  is exactly that call); the same two on the demo year with the bikeshare dataset's own `RawData`, opted in through
  `FastContract` for the first of them;
- batch scoring: `stages.scoring.score_batch` (champion lookup, contract check, validation, model load, predict on
  one OpenMP thread, the predictions' contract, atomic Parquet write) alternating with a bare `model.predict` of the
  same rows on one OpenMP thread (model loaded beforehand); the ratio is bare time / score_batch time (throughput);
- the HTTP server: `python -m mlops_assets.commands.serving --model bike_rentals --port P` against S (bench/ on its
  PYTHONPATH: the logged model checks its input rows against the contract it names); after warm-up, `--requests` one-row
  requests on one keep-alive connection (median and p99 latency) and `--reps` requests of 10,000 rows (rows/s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import scale  # noqa: E402
from bench_model import BENCH_MODEL, bench_model  # noqa: E402
from results import emit  # noqa: E402


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def validation(rows, reps: int) -> dict:
    RawData = scale.ReplicatedRawData  # the contract class the scale benchmark's dataset names

    schema = RawData.to_schema()
    fast, pandera_only = [], []
    for _ in range(reps):
        fast.append(_timed(lambda: RawData.validate(rows, lazy=True)))
        pandera_only.append(_timed(lambda: schema.validate(rows, lazy=True)))
    return {"contract": RawData.__name__, "rows": len(rows), "fast_s": fast, "pandera_s": pandera_only}


def demo_validation(reps: int) -> dict:
    """The dataset's own contract on the demo year, for reference: opted in to the fast path, and as shipped."""
    from mlops_assets.commands.landing import read_source
    from mlops_assets.stages.fast_validation import FastContract

    dataset = bench_model().dataset
    project_contract = dataset.raw_contract()

    class FastRawData(FastContract, project_contract):
        pass

    demo = read_source(dataset)
    schema = project_contract.to_schema()
    return {
        "contract": project_contract.__name__,
        "rows": len(demo),
        "fast_s": [_timed(lambda: FastRawData.validate(demo, lazy=True)) for _ in range(reps)],
        "pandera_s": [_timed(lambda: schema.validate(demo, lazy=True)) for _ in range(reps)],
    }


def batch_scoring(rows, state_dir: Path, data_dir: Path, reps: int) -> dict:
    import mlflow

    from mlops_assets.stages.registry import current_champion
    from mlops_assets.stages.scoring import score_batch
    from mlops_assets.stages.training import single_threaded
    from mlops_assets.wiring.resources import MLflowTracking

    settings = scale.scale_model(data_dir=str(data_dir), state_dir=str(state_dir))
    inputs = settings.input_columns
    tracking = MLflowTracking(state_dir=str(state_dir), tracking_uri=f"sqlite:///{state_dir.resolve() / 'mlflow.db'}")
    mlflow.set_tracking_uri(tracking.uri)
    champion = current_champion(tracking, settings.model_name)
    model = mlflow.sklearn.load_model(champion.model_uri)
    path = data_dir / "predictions" / "bench.parquet"

    def bare():
        with single_threaded():
            model.predict(rows[inputs])

    bare_s, score_s = [], []
    bare()  # warm-up of both paths (first predict, first parquet write)
    score_batch(tracking, settings, rows, path)
    for _ in range(reps):
        bare_s.append(_timed(bare))
        score_s.append(_timed(lambda: score_batch(tracking, settings, rows, path)))
    return {"rows": len(rows), "champion_version": champion.version, "bare_predict_s": bare_s, "score_batch_s": score_s}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_server(rows, state_dir: Path, requests: int, reps: int, log: Path) -> dict:
    inputs = bench_model().input_columns
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DAGSTER_HOME")}
    env["MLOPS_STATE_DIR"] = str(state_dir)
    # The logged model's first step checks its input rows against the contract it was trained with, which it names
    # as `scale:ReplicatedRawData`: the server imports it from bench/.
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH), *filter(None, [env.get("PYTHONPATH")])])
    started = time.perf_counter()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlops_assets.commands.serving", "--model", BENCH_MODEL, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer on port {port}; see {log}") from None
                time.sleep(0.2)
        startup = time.perf_counter() - started
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def body(frame) -> str:
            return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})

        def post(payload: str, expected: int) -> None:
            connection.request("POST", "/invocations", payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or len(json.loads(answer)["predictions"]) != expected:
                raise RuntimeError(f"bad answer {response.status}: {answer[:300]!r}")

        one = body(rows[inputs].iloc[:1])
        batch_rows = rows[inputs].iloc[:10_000]
        batch = body(batch_rows)
        for _ in range(20):
            post(one, 1)
        post(batch, len(batch_rows))
        one_row = [_timed(lambda: post(one, 1)) for _ in range(requests)]
        batch_s = [_timed(lambda: post(batch, len(batch_rows))) for _ in range(reps)]
        connection.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
                server.wait(timeout=20)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
    return {
        "startup_s": startup,
        "one_row_s": one_row,
        "batch_rows": len(batch_rows),
        "batch_body_mb": len(batch) / 1e6,
        "batch_s": batch_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500, help="one-row requests to the server")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from generate import demo_rows, replicated_rows

    rows = replicated_rows(demo_rows(), args.rows, seed=1)
    results = {
        "validation": validation(rows, args.reps),
        "demo_validation": demo_validation(args.reps),
        "batch_scoring": batch_scoring(rows, args.state_dir, args.data_dir, args.reps),
    }
    print("validation and batch scoring done", flush=True)
    if args.no_server:
        results["http"] = None
    else:
        log = (args.out.parent if args.out else Path.cwd()) / "serving.log"
        results["http"] = http_server(rows, args.state_dir, args.requests, max(args.reps, 5), log)
    return emit(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
