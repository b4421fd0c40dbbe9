"""Automation through Dagster's GraphQL API: the README's example, run as written against a real `dagster dev`.

The example (README.md, "Automation via GraphQL") adds the partition, launches the version's training run with
dagster-graphql's client, polls it to the end and reads model_evaluation's check results for that partition.
"""

from __future__ import annotations

import pytest
from dagster import DagsterRunStatus

from tests.demo.ui.expected import GATES

pytestmark = pytest.mark.slow


def test_the_readme_example_launches_a_partitioned_run_and_reads_its_gates(trained_version, dagster_ui):
    example = trained_version
    assert example.status == DagsterRunStatus.SUCCESS, dagster_ui.log()
    assert f"run {example.run_id}: SUCCESS" in example.printed

    # The four gates, by the names users see, each with this run's result for this version.
    assert sorted(example.gates) == sorted(GATES)
    for name, execution in example.gates.items():
        assert execution["status"] == "SUCCEEDED", (name, execution)
        assert execution["runId"] == example.run_id
        assert execution["evaluation"]["description"]
        assert f"{name}: SUCCEEDED (" in example.printed

    # The run is the partitioned run the example asked for: that version, that asset selection.
    run = dagster_ui.graphql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { jobName status tags { key value }
             assetSelection { path } } } }""",
        id=example.run_id,
    )["runOrError"]
    assert run["jobName"] == "version_pipeline" and run["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": example.key} in run["tags"]
    assert sorted("/".join(key["path"]) for key in run["assetSelection"]) == sorted(
        key.to_user_string() for key in example.INGESTION_ASSETS + example.TRAINING_ASSETS
    )

    # The example's partition step accepts a version that is already a partition (a rerun, or the sensor added it).
    added = dagster_ui.graphql(
        """mutation($key: String!) { addDynamicPartition(partitionsDefName: "dataset_version", partitionKey: $key,
             repositorySelector: {repositoryLocationName: "mlops_assets", repositoryName: "__repository__"})
           { __typename } }""",
        key=example.key,
    )["addDynamicPartition"]["__typename"]
    assert added == "DuplicateDynamicPartitionError"
