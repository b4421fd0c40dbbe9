"""The contracts' columns for the Dagster UI's Columns panel, cached so that loading the definitions needs no Pandera.

Assets carry their columns as `dagster/column_schema` definition metadata, which Dagster reads whenever it loads the
code location (the UI, the daemon, every run). Built from a Pandera model, that means importing pandas and Pandera
first, about 0.6 s of every load. So the schemas are built from the contracts (contracts.py stays the one source;
the predictions' columns come from config.py's row key and task) and kept in column_schemas.json with the SHA-256
of contracts.py and config.py. When either has changed since, they are built again, so the UI never shows stale
columns; `python -m mlops_assets.wiring.column_schemas` refreshes the file (a test fails while it is stale).
"""

import functools
import hashlib
import json
import warnings
from pathlib import Path

import dagster as dg

SOURCE_FILES = (Path(__file__).parent.parent / "contracts.py", Path(__file__).parent.parent / "config.py")
CACHE_FILE = Path(__file__).with_name("column_schemas.json")
CONTRACT_NAMES = ("RawData", "Features", "Predictions")


def sources_sha256() -> str:
    digest = hashlib.sha256()
    for path in SOURCE_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _contract(name: str):
    """The Pandera model (or, for the predictions, the schema derived from the configuration) called `name`."""
    if name == "Predictions":
        from mlops_assets.config import ProjectSettings
        from mlops_assets.stages.scoring import predictions_schema

        return predictions_schema(ProjectSettings())
    from mlops_assets import contracts

    return getattr(contracts, name)


def build(contract) -> dg.TableSchema:
    """A Pandera contract's columns, types and checks as a Dagster TableSchema (via dagster-pandera).

    dagster-pandera puts this TableSchema on the Dagster type only; the function is marked beta, and that one known
    warning is silenced here.
    """
    from dagster_pandera import pandera_schema_to_dagster_type

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(contract).metadata["schema"].schema


@functools.cache
def column_schema(contract_name: str) -> dg.TableSchema:
    """The columns of the contract `contract_name` (of CONTRACT_NAMES): from the cache when it is current."""
    cached = _cached_schemas()
    if contract_name in cached:
        return cached[contract_name]
    return build(_contract(contract_name))


@functools.cache
def _cached_schemas() -> dict[str, dg.TableSchema]:
    try:
        stored = json.loads(CACHE_FILE.read_text())
    except (OSError, ValueError):
        return {}
    if stored.get("sources_sha256") != sources_sha256():
        return {}
    return {name: dg.deserialize_value(json.dumps(value), dg.TableSchema) for name, value in stored["schemas"].items()}


def write_cache() -> Path:
    schemas = {name: json.loads(dg.serialize_value(build(_contract(name)))) for name in CONTRACT_NAMES}
    stored = {"sources_sha256": sources_sha256(), "schemas": schemas}
    CACHE_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    return CACHE_FILE


if __name__ == "__main__":
    print(f"wrote {write_cache()}")
