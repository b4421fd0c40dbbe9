"""Helpers of scripts/prod-up (run with the project's .venv): create the databases, wait until services are healthy.

    _prodctl.py databases                      roles and databases of Dagster and MLflow, created when missing
    _prodctl.py wait NAME=CHECK ... [--timeout S] [--run-dir DIR]
        CHECK is http://... (200 from a GET), grpc:HOST:PORT (a Dagster code server answers its health check),
        daemon (every Dagster daemon sent a heartbeat), celery:NODE,NODE (these Celery workers answer a ping).
        Fails at once, with the end of its log, when the process of NAME (<run-dir>/NAME.pid) has exited.

Credentials come from the environment (deploy/env.example), never from arguments.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def databases() -> None:
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(os.environ["MLOPS_PG_ADMIN_URL"], connect_timeout=5)
    admin.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with admin.cursor() as cursor:  # not `with admin`: psycopg2 2.9 would open a transaction
        for prefix in ("DAGSTER", "MLFLOW"):
            user, database = os.environ[f"{prefix}_PG_USER"], os.environ[f"{prefix}_PG_DB"]
            password = os.environ[f"{prefix}_PG_PASSWORD"]
            for name in (user, database):
                if not IDENTIFIER.match(name):
                    sys.exit(f"{name!r} is not a plain PostgreSQL name (lower-case letters, digits, _)")
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            # The password is set on every start, so the role always matches the environment.
            cursor.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(user)), (password,))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user))
                )
                print(f"created database {database} (owner {user})")
            if verb == "CREATE":
                print(f"created role {user}")
    admin.close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _quiet(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, timeout=60).returncode == 0


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _celery_nodes_answering(nodes: list[str]) -> set[str]:
    from dagster_celery.make_app import make_app

    app = make_app({"broker": os.environ["MLOPS_CELERY_BROKER_URL"], "backend": os.environ["MLOPS_CELERY_BACKEND_URL"]})
    try:
        replies = app.control.ping(destination=nodes, timeout=2.0)
    finally:
        app.close()
    return {node for reply in replies for node in reply}


def healthy(check: str) -> bool:
    if check.startswith(("http://", "https://")):
        return _http_ok(check)
    if check.startswith("grpc:"):
        _, host, port = check.split(":")
        return _quiet([_bin("dagster"), "api", "grpc-health-check", "--host", host, "--port", port])
    if check == "daemon":
        return _quiet([_bin("dagster-daemon"), "liveness-check"])
    if check.startswith("celery:"):
        nodes = check.removeprefix("celery:").split(",")
        return set(nodes) <= _celery_nodes_answering(nodes)
    raise SystemExit(f"unknown check {check!r}")


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def wait(checks: list[str], timeout: float, run_dir: Path, log_dir: Path) -> None:
    pending = dict(check.split("=", 1) for check in checks)
    started = time.monotonic()
    while pending:
        for name, check in list(pending.items()):
            pid_file = run_dir / f"{name}.pid"
            if pid_file.exists() and not _alive(pid_file):
                log = log_dir / f"{name}.log"
                tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
                sys.exit(f"{name} exited while starting; end of {log}:\n{tail}")
            if healthy(check):
                print(f"  {name} is up ({time.monotonic() - started:.1f} s)")
                del pending[name]
        if pending and time.monotonic() - started > timeout:
            sys.exit(f"not healthy after {timeout:.0f} s: {', '.join(pending)} (logs in {log_dir})")
        if pending:
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("databases")
    waiting = commands.add_parser("wait")
    waiting.add_argument("checks", nargs="+")
    waiting.add_argument("--timeout", type=float, default=180)
    waiting.add_argument("--run-dir", type=Path, required=True)
    waiting.add_argument("--log-dir", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "databases":
        databases()
    else:
        wait(args.checks, args.timeout, args.run_dir, args.log_dir)


if __name__ == "__main__":
    main()
