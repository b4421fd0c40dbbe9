"""Which executor runs the steps of a run: configuration (MLOPS_EXECUTOR), not code.

- `in_process` (default): every step of a run in the run's own process; nothing to install or start.
- `multiprocess`: one process per step (each re-imports the code, 4-6 s per step on two cores).
- `celery`: steps are sent to Celery workers over a broker (dagster-celery; the `prod` extra). Workers are started
  with `dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -q <queue>` (scripts/prod-up) and
  may run on any host that reaches the broker, the Dagster instance, MLflow and the asset storage.
  MLOPS_CELERY_BROKER_URL and MLOPS_CELERY_BACKEND_URL (deploy/env.example) are read by Dagster as `env` config
  sources when a run starts, so a password in them never lands in the job snapshot or the UI;
  MLOPS_CELERY_QUEUE (default `dagster`) keeps several stacks on one broker apart.

Every process that loads the definitions (code server, run workers, Celery workers) must see the same
MLOPS_EXECUTOR; the production profile gives all of them one environment. `execute_in_process` (the main job, the
tests) always runs in process, whatever is set here.
"""

import os
from collections.abc import Mapping

import dagster as dg

EXECUTORS = ("in_process", "multiprocess", "celery")
CELERY_VARIABLES = ("MLOPS_CELERY_BROKER_URL", "MLOPS_CELERY_BACKEND_URL")


def executor_from_env(environ: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    kind = environ.get("MLOPS_EXECUTOR", "in_process") or "in_process"
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        return dg.multiprocess_executor
    if kind == "celery":
        return celery_executor_from_env(environ)
    raise dg.DagsterInvariantViolationError(f"MLOPS_EXECUTOR={kind!r} is not one of {', '.join(EXECUTORS)}")


def celery_executor_from_env(environ: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    try:
        from dagster_celery import celery_executor
    except ImportError as error:
        raise dg.DagsterInvariantViolationError(
            "MLOPS_EXECUTOR=celery needs the production profile's packages: "
            "scripts/prod-up and scripts/test install requirements-prod.lock "
            "(or: pip install --require-hashes -r requirements-prod.lock)"
        ) from error
    missing = [name for name in CELERY_VARIABLES if not environ.get(name)]
    if missing:
        raise dg.DagsterInvariantViolationError(
            f"MLOPS_EXECUTOR=celery needs {' and '.join(missing)} (the broker and the result backend, e.g. "
            "amqp://guest:guest@127.0.0.1:5672// and redis://127.0.0.1:6379/0): see deploy/env.example"
        )
    return celery_executor.configured(
        {
            "broker": {"env": "MLOPS_CELERY_BROKER_URL"},
            "backend": {"env": "MLOPS_CELERY_BACKEND_URL"},
            # The queue the workers listen on (their -q); a step could also pick one with the dagster-celery/queue tag.
            "config_source": {"task_default_queue": environ.get("MLOPS_CELERY_QUEUE") or "dagster"},
        },
        name="celery",
    )
