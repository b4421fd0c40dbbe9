"""What every asset of the pipeline shares: one partition per dataset version, an owner, a group, a code version.

Bump an asset's code_version when the logic behind it changes; Dagster then shows its outputs as stale.
"""

from collections.abc import Callable

import dagster as dg

from ...partitions import dataset_version_partitions

# Who answers for these assets (the Dagster catalog shows it): a team or an e-mail address.
OWNERS = ["team:ml-platform"]


def pipeline_asset(group: str, code_version: str, kinds: set[str], description: str, **kwargs) -> Callable:
    """`dg.asset` for one stage of the pipeline, partitioned by dataset version and tagged with its stage."""
    return dg.asset(
        partitions_def=dataset_version_partitions,
        group_name=group,
        code_version=code_version,
        kinds=kinds,
        description=description,
        owners=OWNERS,
        tags={"stage": group},
        **kwargs,
    )
