"""The production stack for tests marked `production`: scripts/prod-up exactly as a user runs it, on the real services.

One stack per test session (starting one takes a minute or more on two cores), with everything of its own:
databases and roles with unique names (dropped afterwards), free ports on 127.0.0.1, a Celery queue of its own
(deleted afterwards), and folders under pytest's temporary directory. Tests that share it must not assume an
empty registry or instance unless they use version keys and model names of their own.
"""

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version
from mlops_assets.settings import PROJECT_ROOT, ModelSettings
from tests.conftest import model_settings, subprocess_env
from tests.production.runs import VERSIONS
from tests.production.services import backend_url, broker_url, postgres_admin_dsn, require_services

# The first of the tests' versions: landed before the stack starts, so the sensor's first tick finds it.
FIRST_VERSION, FIRST_ROWS = VERSIONS[0]


def stack_script(name: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """scripts/prod-up or prod-down as a user runs it, with the stack's settings (its upper-case variables)."""
    return subprocess.run(
        [str(PROJECT_ROOT / "scripts" / name)],
        env=subprocess_env(**{k: v for k, v in env.items() if k.isupper()}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stack_model(stack: dict[str, str]) -> ModelSettings:
    """The test model as the stack's processes see it: its dataset's versions under the stack's MLOPS_DATA_DIR
    (data/<dataset>/versions/<key>/), its predictions in data/predictions/<model>/, its state in the stack's."""
    return model_settings(data_dir=stack["MLOPS_DATA_DIR"], state_dir=str(Path(stack["MLOPS_PROD_HOME"]) / "state"))


def land_in_stack(stack: dict[str, str], key: str, rows) -> None:
    """Land a version of the test model's dataset where the stack's sensor looks (as commands/landing does)."""
    land_version(stack_model(stack).versions_dir, key, rows)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stack_env(root: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "MLOPS_PROD_HOME": str(root / "prod"),
        "MLOPS_DATA_DIR": str(root / "data"),
        "MLOPS_PG_ADMIN_URL": postgres_admin_dsn(),
        "DAGSTER_PG_DB": f"mlops_dagster_{suffix}",
        "DAGSTER_PG_USER": f"mlops_dagster_{suffix}",
        "MLFLOW_PG_DB": f"mlops_mlflow_{suffix}",
        "MLFLOW_PG_USER": f"mlops_mlflow_{suffix}",
        "MLOPS_MLFLOW_PORT": str(free_port()),
        "MLOPS_MLFLOW_WORKERS": "1",  # enough for one run; leaves the two cores to the steps
        "MLOPS_CODE_SERVER_PORT": str(free_port()),
        "MLOPS_WEBSERVER_PORT": str(free_port()),
        "MLOPS_CELERY_BROKER_URL": broker_url(),
        "MLOPS_CELERY_BACKEND_URL": backend_url(),
        "MLOPS_CELERY_QUEUE": f"mlops_test_{suffix}",
        "MLOPS_CELERY_WORKERS": "2",
        # The project's definitions with a small search budget and a policy that retrains on every monitoring
        # result (tests/always_retrain.py): the closed loop trains every version, in seconds. The code server,
        # its run workers and the Celery workers import it from the repository.
        "MLOPS_CODE_MODULE": "tests.always_retrain",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


def drop_everything(env: dict[str, str]) -> None:
    """The databases, roles and queue of this stack, whatever state it was left in."""
    import psycopg2
    from kombu import Connection

    admin = psycopg2.connect(postgres_admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cursor:
        for prefix in ("DAGSTER", "MLFLOW"):
            cursor.execute(f'DROP DATABASE IF EXISTS "{env[f"{prefix}_PG_DB"]}" WITH (FORCE)')
            cursor.execute(f'DROP ROLE IF EXISTS "{env[f"{prefix}_PG_USER"]}"')
    admin.close()
    with Connection(broker_url(), connect_timeout=5) as connection:
        connection.default_channel.queue_delete(env["MLOPS_CELERY_QUEUE"])


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    require_services()
    root = tmp_path_factory.mktemp("stack")
    env = stack_env(root)
    # Landed before the stack starts: the sensor's first tick finds it (its interval is 15 s).
    land_in_stack(env, FIRST_VERSION, FIRST_ROWS)
    started = time.monotonic()
    try:
        up = stack_script("prod-up", env, timeout=600)
        assert up.returncode == 0, f"prod-up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        env["startup_seconds"] = f"{time.monotonic() - started:.1f}"
        env["up_at"] = str(time.time())
        yield env
    finally:
        stopping = time.monotonic()
        run_dir = Path(env["MLOPS_PROD_HOME"]) / "run"
        groups = [int(pid.read_text()) for pid in run_dir.glob("*.pid")] if run_dir.exists() else []
        down = stack_script("prod-down", env, timeout=300)
        print(f"prod-down in {time.monotonic() - stopping:.1f} s:\n{down.stdout}")
        drop_everything(env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert groups and not [group for group in groups if group_alive(group)], "prod-down left processes running"


@pytest.fixture
def instance(stack, monkeypatch):
    """The stack's Dagster instance (PostgreSQL), opened here as any process of the stack opens it."""
    secrets = Path(stack["MLOPS_PROD_HOME"]) / "secrets.env"
    for line in secrets.read_text().splitlines():
        key, value = line.split("=", 1)
        monkeypatch.setenv(key, value)
    for key in ("DAGSTER_PG_DB", "DAGSTER_PG_USER"):
        monkeypatch.setenv(key, stack[key])
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    with dg.DagsterInstance.from_config(str(Path(stack["MLOPS_PROD_HOME"]) / "dagster_home")) as opened:
        yield opened
