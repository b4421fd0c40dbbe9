"""The typed settings of datasets and models: the fields of their `defs.yaml` files, validated by Pydantic.

`DatasetSettings` is what a dataset component's YAML says, `ModelFields` what a model component's YAML says, and
`ModelSettings` is one model at run time: its fields with its dataset's settings resolved. The stages receive a
`ModelSettings` (or, for ingestion, a `DatasetSettings`) and read nothing global.
"""

from mlops_assets.settings.dataset import DatasetSettings, DataSourceSettings, SourceSettings
from mlops_assets.settings.model import (
    DriftSettings,
    EstimatorSettings,
    GateSettings,
    ModelFields,
    ModelSettings,
    MonitoringSettings,
    Range,
    RetrainSettings,
    SearchSettings,
    SplitSettings,
)
from mlops_assets.settings.paths import PROJECT_ROOT

__all__ = [
    "PROJECT_ROOT",
    "DataSourceSettings",
    "DatasetSettings",
    "DriftSettings",
    "EstimatorSettings",
    "GateSettings",
    "ModelFields",
    "ModelSettings",
    "MonitoringSettings",
    "Range",
    "RetrainSettings",
    "SearchSettings",
    "SourceSettings",
    "SplitSettings",
]
