"""The smallest Dagster project: one asset. `dagster definitions validate -w workspace.yaml` here is the reference
that bench/run.py times the project's own `dagster definitions validate` against."""

import dagster as dg


@dg.asset
def one_asset() -> int:
    return 1


defs = dg.Definitions(assets=[one_asset])
