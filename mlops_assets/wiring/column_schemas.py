"""The contracts' columns for the Dagster UI's Columns panel, cached so that loading the definitions needs no Pandera.

Assets carry their columns as `dagster/column_schema` definition metadata, which Dagster reads whenever it loads the
code location (the UI, the daemon, every run). Built from a Pandera model, that means importing pandas and Pandera
first, about 0.6 s of every load. So each schema is built from its contract (a dataset's raw contract, a model's
Features, the predictions derived from the row key and task) and kept in column_schemas.json with the SHA-256 of
the source it came from. When that source has changed since, the schema is built again, so the UI never shows stale
columns; `python -m mlops_assets.commands.column_schemas` refreshes the file (a test fails while it is stale).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from mlops_assets.settings import DatasetSettings, ModelSettings

CACHE_FILE = Path(__file__).with_name("column_schemas.json")


def _module_bytes(path: str) -> bytes:
    """The source of the module a `module:attribute` setting names, found without importing it."""
    spec = importlib.util.find_spec(path.partition(":")[0])
    return Path(spec.origin).read_bytes() if spec and spec.origin else path.encode()


def _entry(kind: str, owner: DatasetSettings | ModelSettings) -> tuple[str, str]:
    """The cache key of one schema and the SHA-256 of everything it is built from."""
    digest = hashlib.sha256()
    if kind == "raw":
        digest.update(_module_bytes(owner.contract))
        return f"raw:{owner.contract}", digest.hexdigest()
    if kind == "features":
        digest.update(_module_bytes(owner.features))
        return f"features:{owner.features}", digest.hexdigest()
    digest.update(_module_bytes(owner.dataset.contract))
    digest.update(json.dumps([owner.row_key, owner.task, owner.gates.decision_threshold]).encode())
    return f"predictions:{owner.name}", digest.hexdigest()


def _contract(kind: str, owner):
    from mlops_assets.settings.paths import load_object

    if kind == "raw":
        return load_object(owner.contract)
    if kind == "features":
        return owner.feature_code().Features
    from mlops_assets.stages.scoring import predictions_schema as derive

    return derive(owner)


def build(contract) -> dg.TableSchema:
    """A Pandera contract's columns, types and checks as a Dagster TableSchema (via dagster-pandera).

    dagster-pandera puts this TableSchema on the Dagster type only; the function is marked beta, and that one known
    warning is silenced here.
    """
    from dagster_pandera import pandera_schema_to_dagster_type

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(contract).metadata["schema"].schema


def _schema(kind: str, owner) -> dg.TableSchema:
    name, sha = _entry(kind, owner)
    cached = _cached_schemas().get(name)
    if cached is not None and cached[0] == sha:
        return cached[1]
    return build(_contract(kind, owner))


def raw_schema(dataset: DatasetSettings) -> dg.TableSchema:
    return _schema("raw", dataset)


def features_schema(model: ModelSettings) -> dg.TableSchema:
    return _schema("features", model)


def predictions_schema(model: ModelSettings) -> dg.TableSchema:
    return _schema("predictions", model)


@functools.cache
def _cached_schemas() -> dict[str, tuple[str, dg.TableSchema]]:
    try:
        stored = json.loads(CACHE_FILE.read_text())
        return {
            name: (entry["sha256"], dg.deserialize_value(json.dumps(entry["schema"]), dg.TableSchema))
            for name, entry in stored["schemas"].items()
        }
    except (OSError, ValueError, KeyError, TypeError):  # no cache, or one of another layout: build the schemas
        return {}


def stale_entries(datasets: list[DatasetSettings], models: list[ModelSettings]) -> list[str]:
    """The schemas of these datasets and models that the cache lacks or holds out of date."""
    cached = _cached_schemas()
    wanted = [_entry("raw", d) for d in datasets]
    wanted += [_entry(kind, m) for m in models for kind in ("features", "predictions")]
    return [name for name, sha in wanted if cached.get(name, ("",))[0] != sha]


def write_cache(datasets: list[DatasetSettings], models: list[ModelSettings]) -> Path:
    """Build every schema of these datasets and models and store them (the file holds nothing else)."""
    owners = [("raw", d) for d in datasets] + [(kind, m) for m in models for kind in ("features", "predictions")]
    schemas = {}
    for kind, owner in owners:
        name, sha = _entry(kind, owner)
        schemas[name] = {"sha256": sha, "schema": json.loads(dg.serialize_value(build(_contract(kind, owner))))}
    CACHE_FILE.write_text(json.dumps({"schemas": dict(sorted(schemas.items()))}, indent=1) + "\n")
    _cached_schemas.cache_clear()
    return CACHE_FILE
