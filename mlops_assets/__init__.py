"""mlops_assets: the whole life of a tabular ML model as Dagster software-defined assets."""
