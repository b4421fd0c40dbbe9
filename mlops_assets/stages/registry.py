"""The MLflow model registry as the project uses it: aliases `champion` and `previous_champion`, never stages.

`champion` points at the model that scores; `previous_champion` keeps the one before it for rollback. An alias is
moved only after its version is fully registered (status READY), so it never points at a half-written one. Every
promotion records on the new version which version it replaced (tag `replaced_version`) and when it was promoted
(`promoted_at`): rollback walks back through that history. deployment.py promotes, rollback.py goes back.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from mlops_assets.infra.faults import fault_point
from mlops_assets.stages.gates import PRIMARY_METRIC

CHAMPION = "champion"
PREVIOUS = "previous_champion"
# Version tags written when a version becomes champion (by promote or by `rollback --to`).
PROMOTED_AT = "promoted_at"
REPLACED_VERSION = "replaced_version"
ROLLED_BACK_AT = "rolled_back_at"  # when a rollback took `champion` away from the version


class DeploymentRefused(RuntimeError):
    """A promotion or rollback that would be unsafe; nothing in the registry was changed."""


@dataclass(frozen=True)
class Champion:
    version: str
    model_uri: str  # models:/<name>/<version>
    run_id: str | None
    train_until_time: float | None
    tags: dict

    def evaluated_metric(self, task: str) -> float | None:
        """The champion's primary metric on its own holdout, recorded when it was promoted."""
        value = self.tags.get(f"holdout_{PRIMARY_METRIC[task][0]}")
        return float(value) if value not in (None, "", "nan") else None


def not_found(error: Exception) -> bool:
    """True when MLflow says the registered model or the alias does not exist.

    Anything else (an unreachable tracking server, a locked database) is re-raised by the callers: taking it for
    "no champion yet" would gate a candidate against nothing and promote it.
    """
    code = getattr(error, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(error))


def current_champion(tracking, model_name: str) -> Champion | None:
    """The model version behind alias `champion`, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as error:
        if not_found(error):
            return None
        raise
    until = version.tags.get("train_until_time")
    return Champion(
        version=str(version.version),
        model_uri=f"models:/{model_name}/{version.version}",
        run_id=version.run_id,
        train_until_time=float(until) if until not in (None, "", "None") else None,
        tags=dict(version.tags),
    )


def registry_lock(tracking) -> contextlib.AbstractContextManager[None]:
    """Serialise alias moves (two promotions must not interleave their two moves): locks.py chooses the lock, a file
    lock in the state folder (one host) or, with MLOPS_REGISTRY_LOCK_URL set, a PostgreSQL advisory lock (any host).
    """
    from mlops_assets.infra.locks import registry_lock_for

    return registry_lock_for(getattr(tracking, "state_dir", None)).hold()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_champion(client, model_name: str, version: str, current: str | None) -> None:
    """`previous_champion` <- current, then `champion` <- version, and the version records what it replaced."""
    client.set_model_version_tag(model_name, version, REPLACED_VERSION, current or "")
    if current:
        client.set_registered_model_alias(model_name, PREVIOUS, current)
        fault_point("deployment.after_previous_alias")  # the reliability tests kill the process here
    client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_model_version_tag(model_name, version, PROMOTED_AT, now())


def wait_until_ready(client, model_name: str, version: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (status := client.get_model_version(model_name, version).status) != "READY":
        if status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
            raise RuntimeError(f"model {model_name} version {version} did not become READY (status {status})")
        time.sleep(0.2)


def alias_version(client, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as error:
        if not_found(error):
            return None
        raise


def ready_version(client, model_name: str, version: str):
    """The registered version if it exists and is READY, else None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(model_name, version)
    except MlflowException as error:
        if not_found(error):
            return None
        raise
    return found if found.status == "READY" else None
