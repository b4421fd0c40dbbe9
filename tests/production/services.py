"""Are the production profile's services reachable? Tests marked `production` ask here, and skip with the reason when
a service is genuinely absent.

Addresses come from the same variables as deploy/env.example (loopback defaults). Each check talks the service's
own protocol (a Postgres login, an AMQP handshake, a Redis PING), so a port held by something else is not taken for
the service. MLOPS_REQUIRE_SERVICES=1 turns every skip into a failure: for CI machines where the services must run.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

PROD_PACKAGES = ("dagster_postgres", "dagster_celery", "psycopg2", "celery", "redis")


def postgres_admin_dsn(database: str | None = None) -> str:
    """A role that may create roles and databases (default: postgres on 127.0.0.1, trust auth on this machine)."""
    url = os.environ.get("MLOPS_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    if database is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def broker_url() -> str:
    return os.environ.get("MLOPS_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def backend_url() -> str:
    return os.environ.get("MLOPS_CELERY_BACKEND_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> None:
    if os.environ.get("MLOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (MLOPS_REQUIRE_SERVICES=1: the production tests must run here)")
    pytest.skip(reason)


@functools.cache
def missing_packages() -> str | None:
    missing = [name for name in PROD_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"the production profile's packages are not installed ({', '.join(missing)}): "
            "./scripts/test installs requirements-prod.lock (or pip install --require-hashes -r requirements-prod.lock)"
        )
    return None


@functools.cache
def postgres_problem() -> str | None:
    if missing_packages():
        return missing_packages()
    import psycopg2

    try:
        psycopg2.connect(postgres_admin_dsn(), connect_timeout=3).close()
    except psycopg2.Error as error:
        return f"PostgreSQL is not reachable at {_redacted(postgres_admin_dsn())}: {str(error).strip()}"
    return None


@functools.cache
def rabbitmq_problem() -> str | None:
    if missing_packages():
        return missing_packages()
    from kombu import Connection

    try:
        with Connection(broker_url(), connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # kombu raises the transport's own errors
        return f"RabbitMQ is not reachable at {_redacted(broker_url())}: {error}"
    return None


@functools.cache
def redis_problem() -> str | None:
    parts = urlsplit(backend_url())
    if parts.scheme != "redis":
        return None  # rpc:// results go through the broker
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as error:
        return f"Redis is not reachable at {_redacted(backend_url())}: {error}"
    if not reply.startswith(b"+PONG"):
        return f"Redis at {_redacted(backend_url())} answered PING with {reply!r}"
    return None


def require_postgres() -> None:
    if problem := postgres_problem():
        _unavailable(problem)


def require_services() -> None:
    """Postgres, RabbitMQ and Redis, and the packages that talk to them."""
    for problem in (missing_packages(), postgres_problem(), rabbitmq_problem(), redis_problem()):
        if problem:
            _unavailable(problem)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)
