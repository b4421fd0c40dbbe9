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


def _named(kind: str, name: str | None, found: dict, hint: str = ""):
    """The entry of `found` called `name` (None: the only one), or an error that lists the names there are."""
    if name is None and len(found) == 1:
        return next(iter(found.values()))
    if name in found:
        return found[name]
    said = f"no {kind} was named" if name is None else f"there is no {kind} {name!r}"
    raise SystemExit(f"{said}; the {kind}s are: {', '.join(found) or 'none' + hint}")


def model_named(name: str | None, **runtime) -> ModelSettings:
    """The model called `name` (None: the only model), or an error that lists the models there are."""
    hint = " (add one: dg scaffold defs mlops_assets.components.ModelComponent NAME)"
    return _named("model", name, project_models(**runtime), hint)


def dataset_named(name: str | None, **runtime) -> DatasetSettings:
    """The dataset called `name` (None: the only dataset), or an error that lists the datasets there are."""
    return _named("dataset", name, project_datasets(**runtime))
