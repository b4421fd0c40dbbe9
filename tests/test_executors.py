"""The executor is configuration (MLOPS_EXECUTOR), not code: in-process by default, multiprocess or Celery by choice,
with a clear error when Celery's settings are missing. The Celery executor reads the broker and backend URLs as `env`
config sources when a run starts, so a password in them is never part of the code location."""

import dagster as dg
import pytest

from mlops_assets.wiring.executors import executor_from_env
from tests.production.services import missing_packages

CELERY_ENV = {
    "MLOPS_EXECUTOR": "celery",
    "MLOPS_CELERY_BROKER_URL": "amqp://user:secret@127.0.0.1:5672//",
    "MLOPS_CELERY_BACKEND_URL": "redis://127.0.0.1:6379/0",
    "MLOPS_CELERY_QUEUE": "q1",
}


def test_the_default_is_in_process_and_multiprocess_is_a_setting():
    assert executor_from_env({}) is dg.in_process_executor
    assert executor_from_env({"MLOPS_EXECUTOR": ""}) is dg.in_process_executor
    assert executor_from_env({"MLOPS_EXECUTOR": "multiprocess"}) is dg.multiprocess_executor
    with pytest.raises(dg.DagsterInvariantViolationError, match="'k8s' is not one of in_process, multiprocess, celery"):
        executor_from_env({"MLOPS_EXECUTOR": "k8s"})


def test_celery_reads_its_urls_from_the_environment_when_a_run_starts(monkeypatch):
    if missing_packages():
        pytest.skip(missing_packages())
    executor = executor_from_env(CELERY_ENV)
    assert executor.name == "celery"
    # The run's process resolves the URLs: what the code location held when it loaded them does not matter.
    monkeypatch.setenv("MLOPS_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("MLOPS_CELERY_BACKEND_URL", "rpc://")

    resolved = executor.apply_config_mapping({}).value["config"]

    assert resolved["broker"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert resolved["backend"] == "rpc://"
    assert resolved["config_source"]["task_default_queue"] == "q1"
    with pytest.raises(dg.DagsterInvariantViolationError, match="needs MLOPS_CELERY_BACKEND_URL"):
        executor_from_env({k: v for k, v in CELERY_ENV.items() if k != "MLOPS_CELERY_BACKEND_URL"})
