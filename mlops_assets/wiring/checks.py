"""Asset checks: the promotion gates (blocking checks of `model_evaluation`, one per gate of stages/gates.py), and
`version_unchanged` on `raw_dataset` (the version still holds what was ingested).

They are declared with `check_specs` on the evaluation asset and returned with its materialization: a plain
`@asset_check` on a partitioned asset would load every partition. The specs are partitioned (a Dagster 1.13
preview, its one warning silenced deliberately) so that each dataset version keeps its own gate results. A failing
blocking check skips deployment in the same run; a later deployment-only run is not blocked by Dagster, so
deployment checks the gates again itself (stages/deployment.py).
"""

import warnings

import dagster as dg

from mlops_assets.stages.gates import GATES


def partitioned_check_spec(name: str, **kwargs) -> dg.AssetCheckSpec:
    """An AssetCheckSpec per dataset version. Silenced here, where it is raised (Dagster's component loader resets
    module-level filters): the preview warning that partitioned check specs may change in a patch release."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")
        return dg.AssetCheckSpec(name, **kwargs)


def gate_check_specs(asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    return [
        partitioned_check_spec(name, asset=asset, blocking=True, description=description, partitions_def=partitions_def)
        for name, description in GATES.items()
    ]


def gate_check_results(gates) -> list[dg.AssetCheckResult]:
    """The gates' verdicts (stages/gates.GateResult) as the checks' results, with their reasons and numbers."""
    return [
        dg.AssetCheckResult(
            check_name=gate.name,
            passed=gate.passed,
            description=gate.description,
            metadata={k: round(v, 4) if isinstance(v, float) else v for k, v in gate.metadata.items()},
            severity=dg.AssetCheckSeverity.ERROR,
        )
        for gate in gates
    ]


VERSION_UNCHANGED = "version_unchanged"


def version_unchanged_spec(asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        VERSION_UNCHANGED,
        asset=asset,
        description="The version's data still has the content hash recorded as its data_version. raw_dataset "
        "evaluates it on every run: passed when it ingests, failed (and the run fails) when the data changed since "
        "it was ingested. The dataset-version sensor requests such a run when it sees a change. Versions are "
        "immutable: land changed data as a new version.",
        partitions_def=partitions_def,
    )


def version_unchanged_result(passed: bool, content_hash: str, description: str | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=VERSION_UNCHANGED,
        passed=passed,
        description=description,
        metadata={"content_hash": content_hash},
        severity=dg.AssetCheckSeverity.ERROR,
    )
