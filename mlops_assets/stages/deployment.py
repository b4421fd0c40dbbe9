"""Deployment: promote a candidate that passed its gates to `champion` in the MLflow registry (registry.py).

`deploy` is what the `deployed_model` asset calls: it checks the evaluation's gates and the champion the candidate
was compared with, then `promote` registers the candidate (once) and moves the aliases under the registry lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import EllipsisType
from typing import TYPE_CHECKING

from mlops_assets.stages.registry import (
    CHAMPION,
    PREVIOUS,
    PROMOTED_AT,
    Champion,
    DeploymentRefused,
    alias_version,
    current_champion,
    make_champion,
    not_found,
    now,
    registry_lock,
    wait_until_ready,
)

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings
    from mlops_assets.stages.evaluation import Evaluation
    from mlops_assets.stages.training import Candidate

# Manifest entries copied to the registry version: scoring checks the contract, deployment the training window and
# says which dataset version it came from. The whole manifest is an artifact of the candidate's run.
VERSION_TAGS = ("contract_hash", "dataset_version", "train_until_time")


class GatesFailed(DeploymentRefused):
    """The candidate failed a promotion gate; nothing in the registry was changed."""


@dataclass(frozen=True)
class Promotion:
    """What a deployment did: the candidate's registry version, the aliases afterwards, and why when unchanged."""

    version: str
    champion_version: str | None
    previous_version: str | None
    changed: bool
    reason: str | None = None

    def to_metadata(self, model_name: str) -> dict:
        return {
            "model_name": model_name,
            "candidate_version": self.version,
            "candidate_model_uri": f"models:/{model_name}/{self.version}",
            "outcome": self.reason or ("promoted" if self.changed else "already champion"),
            "promoted": self.changed,
            "champion_version": self.champion_version or "none",
            "previous_champion_version": self.previous_version or "none",
            "champion_model_uri": f"models:/{model_name}@{CHAMPION}",
        }


def deploy(tracking, settings: ModelSettings, candidate: Candidate, evaluation: Evaluation, run_id: str) -> Promotion:
    """Promote the evaluated candidate if every gate passed and the champion is still the one it was compared with.

    The gates are checked here again because a deployment-only run is not blocked by Dagster's blocking checks.
    When the champion changed after the evaluation: a deployment-only run (`run_id` is not the evaluation's) is
    refused; in the run that evaluated, another run won a race, and the candidate is registered, not promoted.
    """
    if not evaluation.passed:
        raise GatesFailed(f"not deploying: the candidate failed the gate(s) {', '.join(evaluation.failed_gates)}")
    metric = evaluation.primary_metric  # what monitoring compares the realized metric with
    return promote(
        tracking,
        settings.model_name,
        candidate,
        tags={f"holdout_{metric}": str(evaluation.metrics["candidate"][metric])},
        expected_champion=evaluation.champion_version,
        champion_changed_meanwhile=evaluation.dagster_run_id == run_id,
    )


def promote(
    tracking,
    model_name: str,
    candidate,
    tags: dict[str, str],
    expected_champion: str | EllipsisType | None = ...,
    champion_changed_meanwhile: bool = False,
) -> Promotion:
    """Register the candidate (once) and make it the champion; idempotent on rerun.

    Aliases move only after the version exists completely; `previous_champion` is set before `champion`
    moves, so at every moment both aliases point at complete versions.

    expected_champion: the champion version the candidate was evaluated against (None: there was none). When
    the champion has changed since, the candidate was never compared with the model it would replace, and the
    promotion is refused (DeploymentRefused). Leave it out to skip that check. With `champion_changed_meanwhile`
    (the evaluation was made in this same run, and another run promoted while it ran) the candidate is registered
    and not promoted instead: a race between runs, recorded, not an error.

    A candidate that was champion before and was replaced since is not made champion again by a rerun: when the
    champion trained on newer data the rerun changes nothing, otherwise (after a rollback) it is refused. Going
    back to it is `rollback --to VERSION`, a decision of its own.

    The champion is never replaced by a model trained on older data (an older `train_until_time`: versions run out
    of order, or concurrently): such a candidate is registered, so nothing is lost, and the aliases stay.
    Returns the candidate's registry version, the champion and previous champion after the call, whether the
    aliases changed, and the reason when they did not.
    """
    client = tracking.client()
    with registry_lock(tracking):
        _ensure_registered_model(client, model_name)
        current = current_champion(tracking, model_name)
        current_version = current.version if current else None
        existing = client.search_model_versions(f"name = '{model_name}' and run_id = '{candidate.run_id}'")
        version = existing[0] if existing else None
        if version is not None:
            wait_until_ready(client, model_name, version.version)
            if current_version == str(version.version):
                if PROMOTED_AT not in version.tags:  # a promotion interrupted between the alias and this tag
                    client.set_model_version_tag(model_name, version.version, PROMOTED_AT, now())
                return _outcome(client, model_name, version.version, current_version, "already the champion")
        stays = _trained_on_older_data(candidate, current)
        if not stays and champion_changed_meanwhile and expected_champion not in (..., current_version):
            stays = (
                f"another run made version {current_version} champion while this candidate was compared with "
                f"{_version(expected_champion)}: registered, not promoted (materialize model_evaluation and "
                "deployed_model again to compare it with the current champion)"
            )
        if not stays:
            _refuse_unsafe_promotion(model_name, candidate, version, current_version, expected_champion)
        if version is None:
            version = _register(client, model_name, candidate, tags)
        if stays:
            return _outcome(client, model_name, version.version, current_version, stays)
        make_champion(client, model_name, str(version.version), current_version)
    return Promotion(str(version.version), str(version.version), current_version, changed=True)


def _ensure_registered_model(client, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException as error:
        if not not_found(error):
            raise
        client.create_registered_model(model_name, description="Promoted by mlops_assets' deployed_model asset.")


def _refuse_unsafe_promotion(model_name: str, candidate, version, current: str | None, expected) -> None:
    """Raise DeploymentRefused for a promotion that would be unsafe (see `promote`)."""
    if version is not None and PROMOTED_AT in version.tags:
        raise DeploymentRefused(
            f"{model_name} version {version.version} (run {candidate.run_id}) was champion before "
            f"(promoted {version.tags[PROMOTED_AT]}) and has been replaced since; the champion is version "
            f"{current or 'none'}. Not promoting it again from a rerun: to go back to it, run "
            f"`python -m mlops_assets.commands.champion rollback --to {version.version}`"
        )
    if expected is not ... and current != expected:
        raise DeploymentRefused(
            f"the candidate (run {candidate.run_id}) was evaluated against champion {_version(expected)}, "
            f"but the champion is now {_version(current)}: evaluate it again (materialize model_evaluation) "
            "before deploying it"
        )


def _version(version: str | None) -> str:
    return f"version {version}" if version else "none (no champion)"


def _register(client, model_name: str, candidate, tags: dict[str, str]):
    """A new READY registry version of the candidate, tagged with what deployment and scoring need."""
    version_tags = {
        **tags,
        **{key: str(candidate.manifest.get(key)) for key in VERSION_TAGS},
    }
    model_id = candidate.model_uri.removeprefix("models:/")  # a logged model's URI: models:/<model id>
    # Given a models:/ source, MLflow's SQL registry looks the logged model up through the process-wide tracking
    # URI (a TODO in MLflow 3.17), which a fresh step process has not set ("Logged model ... not found"): hand it
    # the model's artifact location, looked up through this client's URI.
    source = client.get_logged_model(model_id).artifact_location
    version = client.create_model_version(
        model_name, source=source, run_id=candidate.run_id, tags=version_tags, model_id=model_id
    )
    wait_until_ready(client, model_name, version.version)
    return version


def _outcome(client, model_name: str, version, champion: str | None, reason: str) -> Promotion:
    """promote's answer when the aliases stay where they are."""
    return Promotion(str(version), champion, alias_version(client, model_name, PREVIOUS), changed=False, reason=reason)


def _trained_on_older_data(candidate, champion: Champion | None) -> str | None:
    """Why the champion stays, when it trained on newer rows than the candidate (time split); else None."""
    until = candidate.manifest.get("train_until_time")
    if champion is None or champion.train_until_time is None or until in (None, "", "None"):
        return None
    if float(until) >= champion.train_until_time:
        return None
    theirs = champion.tags.get("dataset_version") or "a newer dataset version"
    ours = candidate.manifest.get("dataset_version") or "this version"
    return (
        f"champion version {champion.version} trained on newer data ({theirs}) than the candidate ({ours}): "
        "registered, not promoted"
    )
