"""`dagster dev` (webserver + daemon) on 127.0.0.1 with a fresh instance, for the UI tests and the docs' screenshots.

Everything it writes goes under one folder: DAGSTER_HOME (a copy of the project's state/dagster.yaml), the data folder
(MLOPS_DATA_DIR: bikeshare/versions/ and predictions/<model>/) and the state folder (MLOPS_STATE_DIR: MLflow and
stored asset values). The code location is tests/demo/ui/ui_location.py: the project's datasets and models with the
tests' fast search budget.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import subprocess_env
from tests.demo.ui.expected import DATASET

REPO_ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
LOCATION = "mlops_assets"  # the project's code location name (workspace.yaml, pyproject.toml)
REPOSITORY = "__repository__"  # the repository that a Definitions object becomes
START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# Runs `dagster dev` with SIGINT and SIGTERM at their defaults (dispositions survive exec): a child started from a
# non-interactive shell inherits them as ignored, and `dagster dev` then never shuts down on them.
EXEC_WITH_DEFAULT_SIGNALS = (
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class DagsterDev:
    """One `dagster dev` process group serving the project on a free port of 127.0.0.1."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.home = self.root / "dagster_home"
        self.data_dir = self.root / "data"
        self.state_dir = self.root / "state"
        self.versions_dir = self.data_dir / DATASET / "versions"  # the dataset's versions_dir
        self.log_path = self.root / "dagster_dev.log"
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> DagsterDev:
        self.home.mkdir(parents=True)
        self.data_dir.mkdir()
        self.state_dir.mkdir()
        shutil.copy(REPO_ROOT / "state" / "dagster.yaml", self.home / "dagster.yaml")
        workspace = self.root / "workspace.yaml"
        workspace.write_text(
            "load_from:\n"
            "  - python_module:\n"
            "      module_name: tests.demo.ui.ui_location\n"
            f"      location_name: {LOCATION}\n"
            f"      working_directory: {REPO_ROOT}\n"
        )
        env = subprocess_env(
            DAGSTER_HOME=str(self.home),
            MLOPS_DATA_DIR=str(self.data_dir),
            MLOPS_STATE_DIR=str(self.state_dir),
            MLFLOW_DISABLE_TELEMETRY="true",
        )
        dagster = Path(sys.executable).with_name("dagster")
        command = [str(dagster), "dev", "-w", str(workspace), "-h", HOST, "-p", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGNALS, *command],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: webserver, daemon, code servers and runs
            )
        try:
            self._wait_until_loaded()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_loaded(self) -> None:
        """Until the webserver answers and the code location is loaded (not just the server up)."""
        deadline = time.monotonic() + START_TIMEOUT
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.url} did not load {LOCATION} within {START_TIMEOUT:.0f} s:\n{self.log()}")
            try:
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
                if any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries):
                    return
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(0.5)

    def graphql(self, query: str, **variables) -> dict:
        """A plain POST to /graphql; raises on GraphQL errors."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def sensor_status(self, name: str) -> str:
        data = self.graphql(
            """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
                 __typename ... on Sensor { sensorState { status } } } }""",
            selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name},
        )
        return data["sensorOrError"]["sensorState"]["status"]

    def stop_sensor(self, name: str) -> None:
        """Stop a sensor through the same GraphQL mutation as the UI's toggle."""
        data = self.graphql(
            """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
                 ... on Sensor { sensorState { id } } } }""",
            selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name},
        )
        result = self.graphql(
            """mutation($id: String) { stopSensor(id: $id)
                 { __typename ... on StopSensorMutationResult { instigationState { status } } } }""",
            id=data["sensorOrError"]["sensorState"]["id"],
        )["stopSensor"]
        if result.get("instigationState", {}).get("status") != "STOPPED":
            raise RuntimeError(f"could not stop {name}: {result}")

    def wait_for_materialization(self, asset: str, partition: str, timeout: float = 300.0) -> None:
        """Wait (not assert) until `asset` ("model/asset") has a materialization of `partition`, e.g. one a sensor
        records."""
        query = """query($path: [String!]!, $partition: String!) { assetOrError(assetKey: {path: $path}) {
                     ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { timestamp } } } }"""
        deadline = time.monotonic() + timeout
        path = asset.split("/")
        while not self.graphql(query, path=path, partition=partition)["assetOrError"].get("assetMaterializations"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no materialization of {asset}[{partition}] within {timeout:.0f} s:\n{self.log()}")
            time.sleep(1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGINT to `dagster dev` (it shuts its services down), then SIGKILL to whatever of the group is left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.kill(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
