"""The MLflow resource against a real `mlflow server` on loopback (free port, SQLite backend, proxied artifacts).

The URI a user sets (MLFLOW_TRACKING_URI or `tracking_uri`) is the URI every resource uses, before and after
`activate()`, in this resource and in a fresh one: a model logged by one resource is found and loaded by another,
through the server, and nothing falls back to an embedded SQLite store. Also: with a database store used directly
(postgresql:// against the real Postgres on loopback), artifacts land under the state folder, not ./mlruns.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from mlops_assets.wiring.resources import MLflowTracking
from tests.conftest import subprocess_env
from tests.production.services import postgres_admin_dsn, require_postgres

MODEL = "tracking_server_probe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1, artifacts proxied into a local folder (standing in for object storage)."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=root,
        env=subprocess_env(MLFLOW_DISABLE_TELEMETRY="true"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its uvicorn workers go with it
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, root
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def server_uri(mlflow_server, monkeypatch) -> str:
    url, _ = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    return url


@dg.asset
def logged_model(context: dg.AssetExecutionContext, mlflow_tracking: MLflowTracking) -> dg.MaterializeResult:
    """Logs and registers a small scikit-learn model inside the step's MLflow run."""
    model = LinearRegression().fit(np.arange(10.0).reshape(-1, 1), np.arange(10.0) * 2)
    with mlflow_tracking.asset_run(context) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            pip_requirements=["scikit-learn"],
            registered_model_name=MODEL,
        )
    return dg.MaterializeResult(
        metadata={"run_id": run.info.run_id, "version": str(info.registered_model_version), "uri": mlflow_tracking.uri}
    )


def test_the_tracking_uri_from_the_environment_survives_activate_and_is_shared_by_fresh_resources(
    tmp_path, server_uri, mlflow_server
):
    _, server_root = mlflow_server
    first = MLflowTracking(state_dir=str(tmp_path / "first"))
    assert first.uri == server_uri

    first.activate()

    assert first.uri == server_uri
    assert mlflow.get_tracking_uri() == server_uri
    assert os.environ["MLFLOW_TRACKING_URI"] == server_uri  # the user's setting, untouched
    second = MLflowTracking(state_dir=str(tmp_path / "second"))
    assert second.uri == server_uri
    assert first.artifact_root is None and second.artifact_root is None  # the server decides

    # One resource logs and registers a model in a Dagster run; a fresh one finds it and loads it.
    result = dg.materialize([logged_model], resources={"mlflow_tracking": first})
    assert result.success
    metadata = result.asset_materializations_for_node("logged_model")[0].metadata
    run_id, version = metadata["run_id"].value, metadata["version"].value
    assert metadata["uri"].value == server_uri
    assert first.uri == server_uri and second.uri == server_uri

    client = second.client()
    run = client.get_run(run_id)
    assert run.info.run_name == "logged_model" and run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied by the server
    registered = client.get_model_version(MODEL, version)
    assert registered.run_id == run_id and registered.status == "READY"
    second.activate()
    loaded = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    np.testing.assert_allclose(loaded.predict(np.array([[3.0]])), [6.0])

    # Everything went through the server: no embedded store appeared, the artifacts are in its destination folder.
    for state in (tmp_path / "first", tmp_path / "second"):
        assert not (state / "mlflow.db").exists()
        assert not (state / "mlartifacts").exists()
    assert list((server_root / "artifacts").rglob("MLmodel"))


def test_an_explicit_uri_never_leaks_into_other_resources_or_child_processes(tmp_path, mlflow_server, monkeypatch):
    url, _ = mlflow_server
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    server = MLflowTracking(tracking_uri=url, state_dir=str(tmp_path / "server"))
    server.ensure_experiment()

    server.activate()

    assert mlflow.get_tracking_uri() == url
    assert "MLFLOW_TRACKING_URI" not in os.environ  # mlflow.set_tracking_uri exported it; activate put it back
    embedded = MLflowTracking(state_dir=str(tmp_path / "embedded"))
    assert embedded.uri == f"sqlite:///{(tmp_path / 'embedded').resolve() / 'mlflow.db'}"
    embedded.activate()
    assert mlflow.get_tracking_uri() == embedded.uri
    assert server.uri == url
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MLFLOW_TRACKING_URI', 'unset'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "unset"


@pytest.mark.production
def test_a_postgres_store_used_directly_keeps_artifacts_under_the_state_folder(tmp_path, monkeypatch):
    require_postgres()
    import psycopg2
    from mlflow.tracking._tracking_service import utils as tracking_utils

    previous_global = tracking_utils._tracking_uri

    database = f"mlops_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        dsn = postgres_admin_dsn(database)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", dsn.replace("postgresql://", "postgresql+psycopg2://", 1))
        monkeypatch.chdir(tmp_path)  # where ./mlruns would appear
        tracking = MLflowTracking(state_dir=str(tmp_path / "state"))
        state = (tmp_path / "state").resolve()

        assert tracking.artifact_root == (state / "mlartifacts").as_uri()
        tracking.activate()
        experiment_id = tracking.ensure_experiment()
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_text("hello", "note.txt")

        assert run.info.artifact_uri.startswith((state / "mlartifacts").as_uri() + "/")
        assert (state / "mlartifacts" / run.info.run_id / "artifacts" / "note.txt").is_file()
        assert not Path("mlruns").exists()
        assert not (state / "mlflow.db").exists()
    finally:
        tracking_utils._tracking_uri = previous_global  # as other tests left it (they activate their own stores)
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
