"""Security defaults: servers bind to loopback, secrets come from the environment, telemetry is off."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from mlops_assets.infra.alerts import Notifier, notifier_from_env
from mlops_assets.settings import PROJECT_ROOT
from tests.conftest import free_port, subprocess_env


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket LISTENing on `port`, read from the kernel's tables (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as the kernel writes them


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["dagster", "dev", "-w", "workspace.yaml", "-p", "{port}"],
        ["mlflow", "ui", "--backend-store-uri", "sqlite:///{tmp}/mlflow.db", "--port", "{port}"],
    ],
    ids=["dagster-dev", "mlflow-ui"],
)
def test_servers_started_without_a_host_listen_on_loopback_only(tmp_path, command):
    port = free_port()
    args = [Path(sys.executable).with_name(command[0]).as_posix()]
    args += [part.format(port=port, tmp=tmp_path) for part in command[1:]]
    env = subprocess_env(DAGSTER_HOME=str(tmp_path), MLFLOW_DISABLE_TELEMETRY="true")
    server = subprocess.Popen(
        args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while not listening_addresses(port) and time.monotonic() < deadline:
            assert server.poll() is None, "the server exited"
            time.sleep(0.5)
        addresses = listening_addresses(port)
        assert addresses, "the server never listened"
        assert addresses <= LOOPBACK, f"listening beyond loopback: {addresses}"
    finally:
        os.killpg(server.pid, 9)
        server.wait(timeout=30)


def test_the_instance_configuration_turns_telemetry_off():
    config = yaml.safe_load((PROJECT_ROOT / "state" / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False


def test_mlflow_telemetry_is_off_once_the_store_is_used(tmp_path, monkeypatch):
    from mlops_assets.wiring.resources import MLflowTracking

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    MLflowTracking(state_dir=str(tmp_path)).ensure_experiment()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the test output quiet
        pass


def test_the_webhook_url_is_a_secret_read_from_the_environment_and_alerts_reach_it(monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("MLOPS_ALERT_WEBHOOK_URL", raising=False)
        assert notifier_from_env().webhook_url is None  # by default alerts are only logged
        assert notifier_from_env().notify("nothing configured", "logged only") is False

        url = f"http://127.0.0.1:{server.server_port}/hook"
        monkeypatch.setenv("MLOPS_ALERT_WEBHOOK_URL", url)
        notifier = notifier_from_env()
        assert notifier.notify("Gates failed for 2011-05", "candidate failed beats_baseline", "warning") is True
        assert _Recorder.received[-1]["title"] == "Gates failed for 2011-05"
        assert "beats_baseline" in _Recorder.received[-1]["text"]
    finally:
        server.shutdown()


def test_an_unreachable_webhook_does_not_raise():
    port = free_port()  # nothing listens there
    assert Notifier(webhook_url=f"http://127.0.0.1:{port}/", timeout_seconds=1).notify("t", "x") is False


def test_no_secret_or_url_is_hard_coded_in_the_definitions():
    """The webhook comes only from the environment, and no package source (its code, and the defs.yaml files of its
    datasets and models) names a non-loopback URL."""
    code = "from mlops_assets.definitions import defs; print(defs.resources['notifier'].webhook_url)"
    for value, expected in ((None, "None"), ("http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook")):
        env = subprocess_env(**({"MLOPS_ALERT_WEBHOOK_URL": value} if value else {}))
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == expected
    urls = re.compile(r"https?://(?!127\.0\.0\.1|localhost|\[::1\]|\{)[^\s\"'<>)]+")  # `{`: a formatted host
    package = PROJECT_ROOT / "mlops_assets"
    sources = [*package.rglob("*.py"), *package.rglob("*.yaml")]
    assert len([path for path in sources if path.name == "defs.yaml"]) >= 2  # a dataset and a model at least
    found = {str(path.relative_to(package)): urls.findall(path.read_text()) for path in sources}
    assert {path: hits for path, hits in found.items() if hits} == {}
