"""The project's Dagster Components: a dataset and a model, each instance one `defs.yaml` under defs/.

`dg scaffold defs mlops_assets.components.ModelComponent <name>` writes a model's defs.yaml with every field, its
default and its description; `dg list components` lists both.
"""

from mlops_assets.components.dataset import DatasetComponent
from mlops_assets.components.model import ModelComponent

__all__ = ["DatasetComponent", "ModelComponent"]
