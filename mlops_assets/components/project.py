"""The project's datasets and models as their defs.yaml files declare them, for the commands and the tests.

Loaded through Dagster's own component tree (the same YAML, the same validation as `dg check defs`), without
building any definitions.
"""

from __future__ import annotations

import functools

import dagster as dg

from mlops_assets.components.dataset import DatasetComponent
from mlops_assets.components.model import ModelComponent
from mlops_assets.settings import PROJECT_ROOT, DatasetSettings, ModelSettings


@functools.cache
def _components() -> tuple[dict[str, DatasetComponent], dict[str, ModelComponent]]:
    tree = dg.ComponentTree.for_project(PROJECT_ROOT)
    datasets = {c.name: c for c in tree.get_all_components(DatasetComponent)}
    models = {c.name: c for c in tree.get_all_components(ModelComponent)}
    return dict(sorted(datasets.items())), dict(sorted(models.items()))


def project_datasets(**runtime) -> dict[str, DatasetSettings]:
    """Every dataset, by name (`runtime`: data_dir and state_dir, for tests)."""
    return {name: component.settings(**runtime) for name, component in _components()[0].items()}


def project_models(**runtime) -> dict[str, ModelSettings]:
    """Every model, by name, with its dataset resolved."""
    datasets = project_datasets(**runtime)
    return {name: component.settings(datasets[component.dataset]) for name, component in _components()[1].items()}


def model_named(name: str | None, **runtime) -> ModelSettings:
    """The model called `name` (None: the only model), or an error that lists the models there are."""
    models = project_models(**runtime)
    if name is None and len(models) == 1:
        return next(iter(models.values()))
    if name in models:
        return models[name]
    listed = ", ".join(models) or "none (add one: dg scaffold defs mlops_assets.components.ModelComponent NAME)"
    said = "no model was named" if name is None else f"there is no model {name!r}"
    raise SystemExit(f"{said}; the models are: {listed}")


def dataset_named(name: str | None, **runtime) -> DatasetSettings:
    """The dataset called `name` (None: the only dataset), or an error that lists the datasets there are."""
    datasets = project_datasets(**runtime)
    if name is None and len(datasets) == 1:
        return next(iter(datasets.values()))
    if name in datasets:
        return datasets[name]
    said = "no dataset was named" if name is None else f"there is no dataset {name!r}"
    raise SystemExit(f"{said}; the datasets are: {', '.join(datasets) or 'none'}")
