"""The model component: one model's pipeline (features, split, training, gated evaluation, deployment, predictions,
monitoring, retraining decisions) and its retraining sensor, from its defs.yaml."""

from __future__ import annotations

import dagster as dg

from mlops_assets.components.scaffolding import ModelScaffolder
from mlops_assets.settings.dataset import DatasetFields, DatasetSettings
from mlops_assets.settings.model import ModelFields, ModelSettings


@dg.scaffold_with(ModelScaffolder)
class ModelComponent(dg.Component, ModelFields):
    """A model of one dataset: its own asset keys (`<name>/...`), registered model, gates, monitoring history,
    retraining decisions, cooldown, cap and predictions. Any scikit-learn-compatible estimator."""

    def settings(self, dataset: DatasetSettings) -> ModelSettings:
        if dataset.name != self.dataset:
            raise ValueError(f"model {self.name!r} reads dataset {self.dataset!r}, not {dataset.name!r}")
        return ModelSettings(**{**self.model_dump(), "dataset": dataset})

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from mlops_assets.wiring.pipelines import model_definitions

        # The dataset components, found by their fields' type (no import of the dataset component).
        datasets = {d.name: d for d in context.component_tree.get_all_components(DatasetFields)}
        if self.dataset not in datasets:
            raise ValueError(
                f"model {self.name!r} names dataset {self.dataset!r}, which no defs.yaml defines; the datasets are: "
                f"{', '.join(sorted(datasets)) or 'none'}"
            )
        return model_definitions(self.settings(datasets[self.dataset].settings()))
