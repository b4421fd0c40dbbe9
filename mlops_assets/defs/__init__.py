"""The project's datasets and models: one folder each, a `defs.yaml` (a dataset or model component) with the code it
names beside it (a dataset's contract; a model's feature code). `dg.load_from_defs_folder` (definitions.py) loads
them all; the core under mlops_assets/ never imports from here.

Add a model: `dg scaffold defs mlops_assets.components.ModelComponent <name>`, then set its target, task and
estimator in the defs.yaml it writes.
"""
