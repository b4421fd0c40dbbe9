"""Deployment: the MLflow model registry with aliases (not stages), batch scoring, and rollback.

`champion` points at the model that scores; `previous_champion` keeps the one before it for rollback. An alias
is moved only after its version is fully registered (status READY), so it never points at a half-written one.
Every promotion records on the new version which version it replaced (tag `replaced_version`) and when it was
promoted (`promoted_at`): rollback walks back through that history.

From a shell (the project's tracking store: MLFLOW_TRACKING_URI, else state/mlflow.db under MLOPS_STATE_DIR):

    python -m mlops_assets.deployment status              # champion and previous_champion versions
    python -m mlops_assets.deployment rollback            # champion <- previous_champion
    python -m mlops_assets.deployment rollback --to 3     # champion <- version 3 (e.g. to undo a rollback)

A rollback moves `champion` back to `previous_champion`, and `previous_champion` to the version that one had
replaced (none when it replaced nothing), so a second rollback goes further back instead of redeploying the
version just rolled back from. It refuses, and moves nothing, when there is no previous champion.
A running `python -m mlops_assets.serving` server resolved `@champion` when it started: restart it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType

import pandas as pd

from mlops_assets.faults import fault_point

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
        from mlops_assets.evaluation import PRIMARY_METRIC

        value = self.tags.get(f"holdout_{PRIMARY_METRIC[task][0]}")
        return float(value) if value not in (None, "", "nan") else None


def _not_found(error: Exception) -> bool:
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
        if _not_found(error):
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


@contextlib.contextmanager
def _registry_lock(tracking):
    """Serialise alias moves of this machine's processes (two promotions must not interleave their two moves).

    A file lock in the state folder: with a shared tracking server and several machines, run deployments from
    one place (one Dagster run queue), or add a database lock here.
    """
    import fcntl

    state_dir = getattr(tracking, "state_dir", None)
    if not state_dir:
        yield
        return
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / ".registry.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(
    tracking,
    model_name: str,
    candidate,
    tags: dict[str, str],
    expected_champion: str | EllipsisType | None = ...,
) -> dict:
    """Register the candidate (once) and make it the champion; idempotent on rerun.

    Aliases move only after the version exists completely; `previous_champion` is set before `champion`
    moves, so at every moment both aliases point at complete versions.

    expected_champion: the champion version the candidate was evaluated against (None: there was none). When
    the champion has changed since, the candidate was never compared with the model it would replace, and the
    promotion is refused (DeploymentRefused). Leave it out to skip that check.

    A candidate that was champion before and was replaced since is not made champion again by a rerun: when the
    champion trained on newer data the rerun changes nothing, otherwise (after a rollback) it is refused. Going
    back to it is `rollback --to VERSION`, a decision of its own.

    The champion is never replaced by a model trained on older data (an older `train_until_time`: versions run out
    of order, or concurrently): such a candidate is registered, so nothing is lost, and the aliases stay.
    Returns the candidate's registry `version`, the `champion_version` and `previous_version` after the call,
    whether the aliases `changed`, and the `reason` when they did not.
    """
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    with _registry_lock(tracking):
        try:
            client.get_registered_model(model_name)
        except MlflowException as error:
            if not _not_found(error):
                raise
            client.create_registered_model(model_name, description="Promoted by mlops_assets' deployed_model asset.")
        current = current_champion(tracking, model_name)
        current_version = current.version if current else None
        existing = client.search_model_versions(f"name = '{model_name}' and run_id = '{candidate.run_id}'")
        version = existing[0] if existing else None
        if version is not None:
            _wait_until_ready(client, model_name, version.version)
            if current_version == str(version.version):
                if PROMOTED_AT not in version.tags:  # a promotion interrupted between the alias and this tag
                    client.set_model_version_tag(model_name, version.version, PROMOTED_AT, _now())
                return _outcome(client, model_name, version.version, current_version, "already the champion")
        older = _trained_on_older_data(candidate, current)
        if version is not None and not older and PROMOTED_AT in version.tags:
            raise DeploymentRefused(
                f"{model_name} version {version.version} (run {candidate.run_id}) was champion before "
                f"(promoted {version.tags[PROMOTED_AT]}) and has been replaced since; the champion is version "
                f"{current_version or 'none'}. Not promoting it again from a rerun: to go back to it, run "
                f"`python -m mlops_assets.deployment rollback --to {version.version}`"
            )
        if not older and expected_champion is not ... and current_version != expected_champion:
            raise DeploymentRefused(
                f"the candidate (run {candidate.run_id}) was evaluated against champion version "
                f"{expected_champion or 'none'}, but the champion is now version {current_version or 'none'}: "
                "evaluate it again (materialize model_evaluation) before deploying it"
            )
        if version is None:
            version_tags = {
                **tags,
                "train_until_time": str(candidate.manifest.get("train_until_time")),
                "candidate_run_id": candidate.run_id,
                **{f"manifest.{k}": str(v) for k, v in candidate.manifest.items()},
            }
            model_id = candidate.model_uri.removeprefix("models:/")  # a logged model's URI: models:/<model id>
            # Given a models:/ source, MLflow's SQL registry looks the logged model up through the process-wide
            # tracking URI (a TODO in MLflow 3.17), which a fresh step process has not set ("Logged model ... not
            # found"): hand it the model's artifact location, looked up through this client's URI.
            source = client.get_logged_model(model_id).artifact_location
            version = client.create_model_version(
                model_name, source=source, run_id=candidate.run_id, tags=version_tags, model_id=model_id
            )
            _wait_until_ready(client, model_name, version.version)
        if older:
            return _outcome(client, model_name, version.version, current_version, older)
        _make_champion(client, model_name, str(version.version), current_version)
    return {
        "version": str(version.version),
        "champion_version": str(version.version),
        "previous_version": current_version,
        "changed": True,
        "reason": None,
    }


def _outcome(client, model_name: str, version, champion: str | None, reason: str) -> dict:
    """promote's answer when the aliases stay where they are."""
    return {
        "version": str(version),
        "champion_version": champion,
        "previous_version": _alias_version(client, model_name, PREVIOUS),
        "changed": False,
        "reason": reason,
    }


def _trained_on_older_data(candidate, champion: Champion | None) -> str | None:
    """Why the champion stays, when it trained on newer rows than the candidate (time split); else None."""
    until = candidate.manifest.get("train_until_time")
    if champion is None or champion.train_until_time is None or until in (None, "", "None"):
        return None
    if float(until) >= champion.train_until_time:
        return None
    return (
        f"champion version {champion.version} trained on newer data (rows up to time {champion.train_until_time:g}) "
        f"than the candidate (up to {float(until):g}): registered, not promoted"
    )


def _make_champion(client, model_name: str, version: str, current: str | None) -> None:
    """`previous_champion` <- current, then `champion` <- version, and the version records what it replaced."""
    client.set_model_version_tag(model_name, version, REPLACED_VERSION, current or "")
    if current:
        client.set_registered_model_alias(model_name, PREVIOUS, current)
        fault_point("deployment.after_previous_alias")  # the reliability tests kill the process here
    client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_model_version_tag(model_name, version, PROMOTED_AT, _now())


def _wait_until_ready(client, model_name: str, version: str, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while (status := client.get_model_version(model_name, version).status) != "READY":
        if status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
            raise RuntimeError(f"model {model_name} version {version} did not become READY (status {status})")
        time.sleep(0.2)


def _alias_version(client, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as error:
        if _not_found(error):
            return None
        raise


def _ready_version(client, model_name: str, version: str):
    """The registered version if it exists and is READY, else None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(model_name, version)
    except MlflowException as error:
        if _not_found(error):
            return None
        raise
    return found if found.status == "READY" else None


def rollback(tracking, model_name: str, to_version: str | None = None) -> dict:
    """Move `champion` back to `previous_champion` (or to `to_version`); returns what moved.

    Default: `champion` <- `previous_champion`; `previous_champion` <- the version that one replaced when it was
    promoted, or removed when it replaced nothing, so repeated rollbacks walk back through the promotions.
    With `to_version`: `champion` <- that version, `previous_champion` <- the champion it replaces (so a plain
    rollback undoes it). Refuses (DeploymentRefused, nothing moved) when there is nothing to roll back to, or the
    target is not a READY version.
    """
    client = tracking.client()
    with _registry_lock(tracking):
        current = _alias_version(client, model_name, CHAMPION)
        previous = _alias_version(client, model_name, PREVIOUS)
        if to_version is None:
            if previous is None:
                raise DeploymentRefused(
                    f"model {model_name} has no {PREVIOUS!r} alias (champion: version {current or 'none'}): "
                    "nothing to roll back to; nothing was changed"
                )
            target = previous
        else:
            target = str(to_version)
        if target == current:
            raise DeploymentRefused(f"version {target} of {model_name} is already the champion; nothing was changed")
        found = _ready_version(client, model_name, target)
        if found is None:
            raise DeploymentRefused(
                f"{model_name} version {target} does not exist or is not READY: not making it the champion"
            )
        if to_version is None:
            older = found.tags.get(REPLACED_VERSION) or None
            if older in (current, target) or (older and _ready_version(client, model_name, older) is None):
                older = None
            if older:
                client.set_registered_model_alias(model_name, PREVIOUS, older)
            else:
                client.delete_registered_model_alias(model_name, PREVIOUS)
            client.set_registered_model_alias(model_name, CHAMPION, target)
            new_previous = older
        else:
            _make_champion(client, model_name, target, current)
            new_previous = current
        if current:
            client.set_model_version_tag(model_name, current, ROLLED_BACK_AT, _now())
    return {
        "model_name": model_name,
        "champion": target,
        "previous_champion": new_previous,
        "rolled_back_from": current,
        "former_previous_champion": previous,
    }


def registry_status(tracking, model_name: str) -> dict[str, dict | None]:
    """Each alias -> version, status, promotion time, source run and Dagster partition (None when unset)."""
    client = tracking.client()
    status: dict[str, dict | None] = {}
    for alias in (CHAMPION, PREVIOUS):
        version = _alias_version(client, model_name, alias)
        if version is None:
            status[alias] = None
            continue
        found = client.get_model_version(model_name, version)
        partition = None
        if found.run_id:
            with contextlib.suppress(Exception):  # the run may have been deleted; the version still stands
                partition = client.get_run(found.run_id).data.tags.get("dagster.partition") or None
        status[alias] = {
            "version": version,
            "status": found.status,
            "promoted_at": found.tags.get(PROMOTED_AT),
            "run_id": found.run_id,
            "partition": partition,
            **{k: v for k, v in found.tags.items() if k.startswith("holdout_")},
        }
    return status


@dataclass(frozen=True)
class BatchScore:
    rows: int
    model_version: str
    mean_prediction: float


def score_batch(tracking, settings, raw: pd.DataFrame, path: Path) -> BatchScore:
    """The champion scores `raw`; the result (Predictions contract) is written atomically as Parquet.

    The champion must record the hash of the raw contract it was trained with (tag manifest.contract_hash), and
    it must be the code's: a model trained under another contract, or one that records none, is refused.
    """
    import mlflow

    from mlops_assets.contracts import Predictions, RawRentals, contract_hash
    from mlops_assets.features import MODEL_INPUT_COLUMNS
    from mlops_assets.training import predict

    champion = current_champion(tracking, settings.model_name)
    if champion is None:
        raise RuntimeError(f"no model is registered as {settings.model_name}@{CHAMPION} yet: nothing scores")
    trained_with = champion.tags.get("manifest.contract_hash")
    if not trained_with:
        raise RuntimeError(
            f"champion version {champion.version} records no contract hash (version tag manifest.contract_hash): "
            "it was not registered by the deployed_model asset; refusing to score with a model of unknown contract"
        )
    if trained_with != contract_hash(RawRentals):
        raise RuntimeError(
            f"champion version {champion.version} was trained with contract {trained_with}, but the code's "
            f"RawRentals contract is {contract_hash(RawRentals)}: retrain before scoring with it"
        )
    rows = RawRentals.validate(raw, lazy=True)
    tracking.activate()  # models:/ URIs resolve through the process-wide URI
    model = mlflow.sklearn.load_model(champion.model_uri)  # the version pinned above, not the alias again
    scored = pd.DataFrame(
        {
            **{column: rows[column].to_numpy() for column in settings.row_key},
            "prediction": predict(model, rows[MODEL_INPUT_COLUMNS], settings.task).astype(float),
            "model_name": settings.model_name,
            "model_version": champion.version,
        }
    )
    scored = Predictions.validate(scored, lazy=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    scored.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    return BatchScore(rows=len(scored), model_version=champion.version, mean_prediction=float(scored.prediction.mean()))


def rows_not_trained_on(raw: pd.DataFrame, champion: Champion, settings) -> pd.DataFrame:
    """The rows of a version the champion never saw: newer than its training rows, or (hash split) held out."""
    from mlops_assets.features import row_time
    from mlops_assets.splitting import in_hash_holdout

    if settings.split.method == "hash":
        return raw[in_hash_holdout(raw, settings.row_key, settings.split.holdout_fraction)]
    if champion.train_until_time is None:
        raise RuntimeError(f"champion version {champion.version} does not record until when it trained")
    return raw[row_time(raw) > champion.train_until_time]


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def _version(version: str | None) -> str:
    return f"version {version}" if version else "none"


def _describe(entry: dict | None) -> str:
    if entry is None:
        return "none"
    metrics = ", ".join(f"{k.removeprefix('holdout_')} {float(v):.4g}" for k, v in entry.items() if k[:8] == "holdout_")
    details = [
        entry["status"],
        f"dataset version {entry['partition']}" if entry["partition"] else None,
        f"promoted {entry['promoted_at']}" if entry["promoted_at"] else None,
        f"holdout {metrics}" if metrics else None,
        f"run {entry['run_id']}" if entry["run_id"] else None,
    ]
    return f"version {entry['version']} ({'; '.join(d for d in details if d)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.deployment",
        description="The model registry's champion: show it, or roll it back. Uses the project's tracking store "
        "(MLFLOW_TRACKING_URI, else <MLOPS_STATE_DIR or state/>/mlflow.db).",
    )
    parser.add_argument("--model-name", help="registered model (default: ProjectSettings().model_name)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="print the champion and previous_champion versions")
    back = commands.add_parser(
        "rollback",
        help="champion <- previous_champion (refuses when there is none)",
        description="Move alias champion back to previous_champion; previous_champion moves to the version that "
        "one replaced. With --to, make that version the champion and keep the current one as previous_champion.",
    )
    back.add_argument("--to", metavar="VERSION", help="make this registered version the champion instead")
    args = parser.parse_args(argv)

    from mlops_assets.config import ProjectSettings
    from mlops_assets.resources import MLflowTracking

    tracking = MLflowTracking()
    model_name = args.model_name or ProjectSettings().model_name
    print(f"model {model_name} in {tracking.uri}")
    if args.command == "status":
        for alias, entry in registry_status(tracking, model_name).items():
            print(f"{alias}: {_describe(entry)}")
        return 0
    try:
        moved = rollback(tracking, model_name, to_version=args.to)
    except DeploymentRefused as refusal:
        print(f"rollback refused: {refusal}", file=sys.stderr)
        return 1
    print(f"champion: {_version(moved['rolled_back_from'])} -> {_version(moved['champion'])}")
    print(f"previous_champion: {_version(moved['former_previous_champion'])} -> {_version(moved['previous_champion'])}")
    print("A running model server resolved @champion when it started: restart it to serve the new champion.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
