"""The registry lock (and the alert lock): one interface, two implementations, chosen by configuration.

Promotions and rollbacks move two aliases (`previous_champion`, then `champion`); two of them must never interleave.
The alert lock makes "has this failed run been alerted?" and the alert one step (wiring/sensors/alerts.py).

- Embedded default: `FileLock`, an fcntl lock on a file in the state folder. It excludes the processes of one host.
- Production: `PostgresAdvisoryLock`, a session-level `pg_advisory_lock` in the database named by
  MLOPS_REGISTRY_LOCK_URL (a SQLAlchemy URL; scripts/prod-up points it at Dagster's database). It excludes every
  process on every host that reaches that database.

Both are released by the operating system or PostgreSQL when the holder dies (closed file, closed connection), so a
killed deployment never leaves the registry locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

REGISTRY_LOCK_URL_ENV = "MLOPS_REGISTRY_LOCK_URL"  # the database of every lock of the project, not only this one
REGISTRY_LOCK_NAME = "mlops_assets.registry"


class Lock(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[None]:
        """Block until the lock is ours; release it when the block ends."""


@dataclass(frozen=True)
class FileLock:
    path: Path

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


@dataclass(frozen=True)
class PostgresAdvisoryLock:
    url: str
    name: str = REGISTRY_LOCK_NAME
    timeout_seconds: float = 600.0  # a holder alive but stuck this long is an error, not a reason to wait forever

    @property
    def key(self) -> int:
        """The lock's 64-bit key: a stable hash of its name (Python's hash() differs between processes)."""
        return int.from_bytes(hashlib.blake2b(self.name.encode(), digest_size=8).digest(), "big", signed=True)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        import sqlalchemy as sa

        # No pool: the lock lives exactly as long as this one connection.
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                timeout = f"{int(self.timeout_seconds * 1000)}ms"
                connection.execute(sa.text("SELECT set_config('lock_timeout', :timeout, false)"), {"timeout": timeout})
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        finally:
            engine.dispose()


@dataclass(frozen=True)
class NoLock:
    """For a tracking resource without a state folder (nothing to lock on, and no configured database)."""

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        yield


def lock_for(name: str, folder: str | None, environ: Mapping[str, str] = os.environ) -> Lock:
    """Lock `name`: the advisory lock when MLOPS_REGISTRY_LOCK_URL is set, else a file lock `.<name>.lock` in
    `folder`."""
    url = environ.get(REGISTRY_LOCK_URL_ENV)
    if url:
        return PostgresAdvisoryLock(url, f"mlops_assets.{name}")
    if folder:
        return FileLock(Path(folder) / f".{name}.lock")
    return NoLock()


def registry_lock_for(state_dir: str | None, environ: Mapping[str, str] = os.environ) -> Lock:
    """The advisory lock when MLOPS_REGISTRY_LOCK_URL is set, else the file lock in the state folder."""
    return lock_for("registry", state_dir, environ)
