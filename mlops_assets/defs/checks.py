"""The promotion gates as blocking asset checks of `model_evaluation`, one per gate of stages/gates.py.

They are declared with `check_specs` on the evaluation asset and returned with its materialization: a plain
`@asset_check` on a partitioned asset would load every partition. The specs are partitioned (a Dagster 1.13
preview, its one warning silenced deliberately) so that each dataset version keeps its own gate results. A failing
blocking check skips deployment in the same run; a later deployment-only run is not blocked by Dagster, so
deployment checks the gates again itself (stages/deployment.py).
"""

import warnings

import dagster as dg

from ..partitions import dataset_version_partitions
from ..stages.gates import GATES

warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def gate_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name, asset=asset, blocking=True, description=description, partitions_def=dataset_version_partitions
        )
        for name, description in GATES.items()
    ]


def gate_check_results(gates) -> list[dg.AssetCheckResult]:
    """The gates' verdicts (stages/gates.GateResult) as the checks' results, with their reasons and numbers."""
    return [
        dg.AssetCheckResult(
            check_name=gate.name,
            passed=gate.passed,
            description=gate.description,
            metadata=gate.metadata,
            severity=dg.AssetCheckSeverity.ERROR,
        )
        for gate in gates
    ]
