"""mlops_assets: the whole life of a team's tabular ML models as Dagster software-defined assets and Components."""
