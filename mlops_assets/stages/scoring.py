"""Batch scoring: a model's champion scores a version's rows into `data/predictions/<model>/<version>.parquet`.

The predictions' contract is derived from the configuration, not written by hand: the row key columns (typed as in
the raw contract), `prediction` (the value, or the positive-class probability for classification), for
classification `predicted_positive` (the probability at or above the decision threshold), and the model's name and
registry version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pandera.pandas as pa

from mlops_assets.stages.registry import CHAMPION, current_champion

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings


def predictions_schema(settings: ModelSettings) -> pa.DataFrameSchema:
    """The batch predictions' contract of this model."""
    raw = settings.dataset.raw_contract().to_schema().columns
    columns = {name: raw[name] for name in settings.row_key}
    columns["prediction"] = pa.Column(float, nullable=False, description="the predicted value or probability")
    if settings.task == "classification":
        columns["predicted_positive"] = pa.Column(
            bool, description=f"prediction >= {settings.gates.decision_threshold:g} (the decision threshold)"
        )
    columns["model_name"] = pa.Column(str, description="the registered model")
    columns["model_version"] = pa.Column(str, description="its registry version")
    return pa.DataFrameSchema(columns, strict=True, name="Predictions")


@dataclass(frozen=True)
class BatchScore:
    rows: int
    model_version: str
    mean_prediction: float
    path: Path

    def to_metadata(self, schema) -> dict:
        import dagster as dg

        return {
            "dagster/row_count": self.rows,
            "dagster/column_schema": schema,
            "path": dg.MetadataValue.path(str(self.path)),
            "model_version": self.model_version,
            "mean_prediction": round(self.mean_prediction, 4),
        }


def score_batch(tracking, settings: ModelSettings, raw: pd.DataFrame, path: Path) -> BatchScore:
    """The champion scores `raw`; the result (`predictions_schema`) is written atomically as Parquet.

    The champion must record the hash of the raw contract it was trained with (version tag contract_hash), and it
    must be the code's: a model trained under another contract, or one that records none, is refused.
    """
    import mlflow

    from mlops_assets.stages.training import predict
    from mlops_assets.stages.validation import contract_hash

    contract = settings.dataset.raw_contract()
    champion = current_champion(tracking, settings.model_name)
    if champion is None:
        raise RuntimeError(f"no model is registered as {settings.model_name}@{CHAMPION} yet: nothing scores")
    trained_with = champion.tags.get("contract_hash")
    if not trained_with:
        raise RuntimeError(
            f"champion version {champion.version} records no contract hash (version tag contract_hash): it was not "
            "registered by the deployed_model asset; refusing to score with a model of unknown contract"
        )
    if trained_with != contract_hash(contract):
        raise RuntimeError(
            f"champion version {champion.version} was trained with contract {trained_with}, but the code's "
            f"{settings.dataset.contract} is {contract_hash(contract)}: retrain before scoring with it"
        )
    rows = contract.validate(raw, lazy=True)
    tracking.activate()  # models:/ URIs resolve through the process-wide URI
    model = mlflow.sklearn.load_model(champion.model_uri)  # the version pinned above, not the alias again
    prediction = predict(model, rows[settings.input_columns], settings.task).astype(float)
    scored = pd.DataFrame({column: rows[column].to_numpy() for column in settings.row_key})
    scored["prediction"] = prediction
    if settings.task == "classification":
        scored["predicted_positive"] = prediction >= settings.gates.decision_threshold
    scored["model_name"] = settings.model_name
    scored["model_version"] = champion.version
    scored = predictions_schema(settings).validate(scored, lazy=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    scored.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    return BatchScore(len(scored), champion.version, float(prediction.mean()) if len(prediction) else 0.0, path)
