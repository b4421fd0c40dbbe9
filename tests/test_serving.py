"""Online scoring end to end: `python -m mlops_assets.commands.serving --model <model>` in front of a champion of the
test model trained here.

The real MLflow server (`mlflow models serve --env-manager local`) runs in its own process group on a free port of
127.0.0.1, against a temporary tracking store; it is always killed with its group at teardown. Every wait is
bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.commands.serving import DEFAULT_HOST, champion_uri, scripts_dir, serve_command, serving_env
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from tests.conftest import DATASET, MODEL, free_port, land, make_project, run_assets, step_error, subprocess_env
from tests.contract_cases import violating_value

SETTINGS = MODEL
RawData = DATASET.raw_contract()
MODEL_INPUT_COLUMNS = SETTINGS.input_columns
PIPELINE = ingestion_selection(SETTINGS) + training_selection(SETTINGS)  # ingest, train, gate, deploy, score
INPUTS = {name: column for name, column in RawData.to_schema().columns.items() if name in MODEL_INPUT_COLUMNS}
NUMERIC = [name for name, column in INPUTS.items() if column.dtype.type.kind in "iuf"]


def forbidden_values() -> list[tuple[str, object, str]]:
    """Values the model's contract forbids: out of an input column's range or categories, or a null (column, value,
    rule), derived from the contract."""
    found = [
        (name, value, check.name)
        for name, column in INPUTS.items()
        for check in column.checks
        if (value := violating_value(check, pd.Series([], dtype=column.dtype.type))) is not None
    ][:3]
    floats = [name for name, column in INPUTS.items() if column.dtype.type.kind == "f" and not column.nullable]
    return found + [(name, None, "not_nullable") for name in floats[:1]]


FORBIDDEN = forbidden_values()

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 60.0


def post(url: str, payload: dict) -> tuple[int, dict]:
    """POST JSON; (status, decoded body) for 2xx and error statuses alike."""
    body = json.dumps(payload, default=lambda value: value.item()).encode()  # numpy scalars, exactly
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def records(frame) -> list[dict]:
    return frame.to_dict(orient="records")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (mlflow and its uvicorn), SIGKILL when it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def server(tmp_path_factory, _empty_dagster_home, versions, keys, source):
    project = make_project(tmp_path_factory.mktemp("serving_project"))
    home = project.root / "dagster_home"
    shutil.copytree(_empty_dagster_home, home)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        land(project.settings, versions, keys[0])
        instance.add_dynamic_partitions(DATASET.partitions_name, [keys[0]])
        result = run_assets(project, instance, keys[0], PIPELINE)
        assert result.success, step_error(result, "model_evaluation") + step_error(result, "deployed_model")

    port = free_port(DEFAULT_HOST)
    env = subprocess_env()
    env["MLOPS_STATE_DIR"] = project.settings.state_dir  # the CLI uses the default MLflowTracking()
    log_path = project.root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_assets.commands.serving", "--model", SETTINGS.name, "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole below
        )
    try:
        url = f"http://{DEFAULT_HOST}:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on {url}/ping within {START_TIMEOUT:.0f} s:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield SimpleNamespace(project=project, url=url, log=log_path, rows=source[MODEL_INPUT_COLUMNS])
    finally:
        stop(process)


def test_the_command_serves_the_champion_locally_with_this_environment():
    command = serve_command("models:/my_model@champion")
    assert command[1:] == [
        "models",
        "serve",
        "-m",
        "models:/my_model@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        "5001",
    ]
    assert command[0] == str(scripts_dir() / "mlflow")
    env = serving_env("sqlite:////tmp/x/mlflow.db", base={"PATH": "/usr/bin:/bin"})
    assert env["MLFLOW_TRACKING_URI"] == "sqlite:////tmp/x/mlflow.db"
    assert env["PATH"].split(os.pathsep) == [str(scripts_dir()), "/usr/bin", "/bin"]


def test_one_row_gets_one_prediction(server):
    status, body = post(f"{server.url}/invocations", {"dataframe_records": records(server.rows.head(1))})
    assert status == 200, body
    assert len(body["predictions"]) == 1
    # Regression: the value; classification: the probabilities of (negative, positive), as predict_proba gives them.
    prediction = body["predictions"][0]
    assert isinstance(prediction, float) if SETTINGS.task == "regression" else len(prediction) == 2
    log = server.log.read_text()
    assert "version 1" in log  # the CLI says which version @champion resolved to
    assert f"serving {champion_uri(SETTINGS.model_name)} (version 1," in log  # the named model's champion


def test_a_thousand_rows_match_the_model_scored_in_process(server):
    import mlflow

    rows = server.rows.iloc[:1000]
    payload = {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy(dtype=object).tolist()}}
    status, body = post(f"{server.url}/invocations", payload)
    assert status == 200, body
    served = np.asarray(body["predictions"], dtype=float)
    assert len(served) == len(rows)

    mlflow.set_tracking_uri(server.project.tracking.uri)
    model = mlflow.sklearn.load_model(f"models:/{server.project.settings.model_name}/1")
    in_process = model.predict(rows) if SETTINGS.task == "regression" else model.predict_proba(rows)
    np.testing.assert_allclose(served, in_process, rtol=0, atol=1e-6)


def test_a_missing_column_is_a_client_error_naming_the_column(server):
    row = records(server.rows.head(1))[0]
    missing = MODEL_INPUT_COLUMNS[-1]
    del row[missing]
    status, body = post(f"{server.url}/invocations", {"dataframe_records": [row]})
    assert 400 <= status < 500, body
    assert missing in body["message"] and "missing" in body["message"]


@pytest.mark.parametrize(("column", "value"), [(name, "not a number") for name in NUMERIC[:2]])
def test_a_value_of_the_wrong_type_is_a_client_error_naming_the_column(server, column, value):
    row = {**records(server.rows.head(1))[0], column: value}
    status, body = post(f"{server.url}/invocations", {"dataframe_records": [row]})
    assert 400 <= status < 500, body
    assert f"column {column}" in body["message"]


@pytest.mark.parametrize(("column", "value", "check"), FORBIDDEN)
def test_a_value_the_contract_forbids_is_a_client_error_naming_column_and_rule(server, column, value, check):
    """The signature checks names and types; the contract logged with the model checks ranges, categories, nulls."""
    row = {**records(server.rows.head(1))[0], column: value}
    status, body = post(f"{server.url}/invocations", {"dataframe_records": [row]})
    assert status == 400, body
    assert "contract" in body["message"] and column in body["message"] and check in body["message"]


def test_the_command_line_refuses_to_start_without_a_champion(tmp_path):
    env = subprocess_env()
    env["MLOPS_STATE_DIR"] = str(tmp_path / "state")  # an empty tracking store
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_assets.commands.serving",
            "--model",
            SETTINGS.name,
            "--port",
            str(free_port(DEFAULT_HOST)),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert f"no model is registered as {SETTINGS.model_name}@champion" in result.stderr
