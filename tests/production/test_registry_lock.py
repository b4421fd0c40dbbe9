"""The registry lock (mlops_assets/infra/locks.py) across processes: the PostgreSQL advisory lock of the production
profile against the real PostgreSQL, and the embedded default's file lock, through one interface.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from mlops_assets.infra.locks import FileLock, PostgresAdvisoryLock, registry_lock_for
from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.stages.registry import registry_lock
from tests.production.services import postgres_admin_dsn, require_postgres

pytestmark = pytest.mark.production


@pytest.fixture(params=["postgres", "file"])
def lock_args(request, tmp_path) -> list[str]:
    if request.param == "postgres":
        require_postgres()
        # A name of its own: no other test or stack on this PostgreSQL contends with it.
        return ["postgres", postgres_admin_dsn(), f"test-{uuid.uuid4().hex}"]
    return ["file", str(tmp_path / ".registry.lock"), "-"]


def holder(args: list[str], seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.production.lock_holder", *args, str(seconds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def until(process: subprocess.Popen, word: str) -> float:
    """The time the process printed `word` (blocks until it does)."""
    for line in process.stdout:
        said, at = line.split()
        if said == word:
            return float(at)
    raise AssertionError(f"the holder exited ({process.wait()}) without saying {word!r}")


def test_two_processes_never_hold_the_lock_at_once(lock_args):
    first = holder(lock_args, seconds=2.0)
    first_acquired = until(first, "acquired")
    second = holder(lock_args, seconds=0.0)
    second_waiting = until(second, "waiting")
    first_releasing = until(first, "releasing")
    second_acquired = until(second, "acquired")

    assert second_waiting < first_releasing <= second_acquired  # it asked while held and got it only after
    assert second_acquired - first_acquired >= 2.0
    assert first.wait(timeout=30) == 0 and second.wait(timeout=30) == 0


def test_a_holder_killed_with_sigkill_releases_the_lock(lock_args):
    first = holder(lock_args, seconds=600.0)
    until(first, "acquired")
    second = holder(lock_args, seconds=0.0)
    until(second, "waiting")
    time.sleep(1.0)
    assert second.poll() is None  # still waiting behind the holder
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = time.time()

    acquired = until(second, "acquired")
    assert acquired - killed_at < 10  # PostgreSQL ends the dead session's lock; the kernel closes the file
    assert second.wait(timeout=30) == 0


def test_the_production_setting_chooses_the_advisory_lock_and_the_default_the_file_lock(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import psycopg2

    require_postgres()
    assert registry_lock_for(str(tmp_path), environ={}) == FileLock(tmp_path / ".registry.lock")
    monkeypatch.setenv("MLOPS_REGISTRY_LOCK_URL", postgres_admin_dsn())
    chosen = registry_lock_for(str(tmp_path))
    assert isinstance(chosen, PostgresAdvisoryLock)

    other = psycopg2.connect(postgres_admin_dsn())
    other.autocommit = True
    try:
        with other.cursor() as cursor, registry_lock(SimpleNamespace(state_dir=str(tmp_path))):
            # Another session cannot take it while the registry is locked ...
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (chosen.key,))
            assert cursor.fetchone() == (False,)
        with other.cursor() as cursor:  # ... and can once the block ended.
            cursor.execute("SELECT pg_try_advisory_lock(%s), pg_advisory_unlock(%s)", (chosen.key, chosen.key))
            assert cursor.fetchone() == (True, True)
    finally:
        other.close()
    assert not (tmp_path / ".registry.lock").exists()  # the file lock was not used
