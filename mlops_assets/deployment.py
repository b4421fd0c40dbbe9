"""Deployment: the MLflow model registry with aliases (not stages).

`champion` points at the model that scores; `previous_champion` keeps the one before it for rollback. An alias
is moved only after its version is fully registered (status READY), so it never points at a half-written one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

CHAMPION = "champion"
PREVIOUS = "previous_champion"


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


def current_champion(tracking, model_name: str) -> Champion | None:
    """The model version behind alias `champion`, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None
    until = version.tags.get("train_until_time")
    return Champion(
        version=str(version.version),
        model_uri=f"models:/{model_name}/{version.version}",
        run_id=version.run_id,
        train_until_time=float(until) if until not in (None, "", "None") else None,
        tags=dict(version.tags),
    )


def promote(tracking, model_name: str, candidate, tags: dict[str, str]) -> dict:
    """Register the candidate (once) and make it the champion; idempotent on rerun.

    Aliases move only after the version exists completely; `previous_champion` is set before `champion`
    moves, so at every moment both aliases point at complete versions.
    """
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(model_name, description="Promoted by mlops_assets' deployed_model asset.")
    existing = client.search_model_versions(f"name = '{model_name}' and run_id = '{candidate.run_id}'")
    if existing:
        version = existing[0]
    else:
        version_tags = {
            **tags,
            "train_until_time": str(candidate.manifest.get("train_until_time")),
            "candidate_run_id": candidate.run_id,
            **{f"manifest.{k}": str(v) for k, v in candidate.manifest.items()},
        }
        model_id = candidate.model_uri.removeprefix("models:/")  # a logged model's URI: models:/<model id>
        version = client.create_model_version(
            model_name, source=candidate.model_uri, run_id=candidate.run_id, tags=version_tags, model_id=model_id
        )
    _wait_until_ready(client, model_name, version.version)

    current = current_champion(tracking, model_name)
    if current and current.version == str(version.version):
        return {
            "version": str(version.version),
            "previous_version": _alias_version(client, model_name, PREVIOUS),
            "changed": False,
        }
    if current:
        client.set_registered_model_alias(model_name, PREVIOUS, current.version)
    client.set_registered_model_alias(model_name, CHAMPION, version.version)
    return {
        "version": str(version.version),
        "previous_version": current.version if current else None,
        "changed": True,
    }


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
    except MlflowException:
        return None


def rollback(tracking, model_name: str) -> dict:
    """Move `champion` back to `previous_champion` (and keep the rolled-back one as `previous_champion`)."""
    client = tracking.client()
    previous = _alias_version(client, model_name, PREVIOUS)
    current = _alias_version(client, model_name, CHAMPION)
    if previous is None:
        raise RuntimeError(f"model {model_name} has no {PREVIOUS!r} alias: nothing to roll back to")
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    if current is not None:
        client.set_registered_model_alias(model_name, PREVIOUS, current)
    return {"champion": previous, "previous_champion": current}


@dataclass(frozen=True)
class BatchScore:
    rows: int
    model_version: str
    mean_prediction: float


def score_batch(tracking, settings, raw: pd.DataFrame, path: Path) -> BatchScore:
    """The champion scores `raw`; the result (Predictions contract) is written atomically as Parquet."""
    import mlflow

    from mlops_assets.contracts import Predictions, RawRentals, contract_hash
    from mlops_assets.features import MODEL_INPUT_COLUMNS
    from mlops_assets.training import predict

    champion = current_champion(tracking, settings.model_name)
    if champion is None:
        raise RuntimeError(f"no model is registered as {settings.model_name}@{CHAMPION} yet: nothing scores")
    trained_with = champion.tags.get("manifest.contract_hash")
    if trained_with and trained_with != contract_hash(RawRentals):
        raise RuntimeError(
            f"champion version {champion.version} was trained with contract {trained_with}, but the code's "
            f"RawRentals contract is {contract_hash(RawRentals)}: retrain before scoring with it"
        )
    rows = RawRentals.validate(raw, lazy=True)
    model = mlflow.sklearn.load_model(champion.model_uri)
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
