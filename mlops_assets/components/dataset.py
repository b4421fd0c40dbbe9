"""The dataset component: one dataset's ingestion asset, version partitions, version_unchanged check, jobs and
dataset-version sensor, from its defs.yaml."""

from __future__ import annotations

import dagster as dg

from mlops_assets.components.scaffolding import DatasetScaffolder
from mlops_assets.settings.dataset import DatasetFields, DatasetSettings
from mlops_assets.settings.model import ModelFields


@dg.scaffold_with(DatasetScaffolder)
class DatasetComponent(dg.Component, DatasetFields):
    """A dataset: versions of rows landed under data/<name>/versions/<key>/, validated against a Pandera contract.

    Several models may read it; it is ingested once per version for all of them.
    """

    def settings(self, **runtime) -> DatasetSettings:
        """The dataset at run time (`runtime`: data_dir, state_dir; tests pass folders of their own)."""
        return DatasetSettings(**self.model_dump(), **runtime)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from mlops_assets.wiring.pipelines import dataset_definitions

        dataset = self.settings()
        models = [  # the model components, found by their fields' type (no import of the model component)
            model.settings(dataset)
            for model in context.component_tree.get_all_components(ModelFields)
            if model.dataset == self.name
        ]
        return dataset_definitions(dataset, models)
