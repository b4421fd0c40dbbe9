"""Dataset versions are the partitions: one immutable folder `data/<dataset>/versions/<key>/` per partition key, one
partitions definition `<dataset>_versions` per dataset, shared by the dataset's ingestion and every model on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from mlops_assets.settings import DatasetSettings


def version_partitions(dataset: DatasetSettings) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=dataset.partitions_name)
