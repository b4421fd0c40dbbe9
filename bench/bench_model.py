"""The model the benchmarks measure: the demo's regression model `bike_rentals` on the `bikeshare` dataset, as
their defs.yaml files configure them.

Every benchmark measures this one model unless it says otherwise (bench/many_models.py measures how the project
grows with many). A code location that should hold only this model (so that it measures what it measured when the
project had one) builds its definitions with `build_definitions(models=[bench_model()])`: bench/model_definitions.py.
Folders come from the environment, as the project's do (MLOPS_DATA_DIR, and MLOPS_STATE_DIR or DAGSTER_HOME), unless
`data_dir` and `state_dir` are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_assets.settings import ModelSettings

BENCH_MODEL = "bike_rentals"


def bench_model(model: str = BENCH_MODEL, **overrides) -> ModelSettings:
    """The model's settings with `overrides`, each routed to the model or to its dataset (contract, row_key,
    data_dir, state_dir, ...), validated again."""
    from mlops_assets.components.project import project_models
    from mlops_assets.settings import DatasetSettings, ModelSettings
    from mlops_assets.settings.dataset import DatasetFields

    settings = project_models()[model]
    dataset_fields = set(DatasetFields.model_fields) | {"data_dir", "state_dir"}
    dataset = DatasetSettings(
        **{**settings.dataset.model_dump(), **{k: v for k, v in overrides.items() if k in dataset_fields}}
    )
    fields = {k: v for k, v in overrides.items() if k not in dataset_fields}
    return ModelSettings(**{**settings.model_dump(exclude={"dataset"}), **fields, "dataset": dataset})
