"""Automation through Dagster's GraphQL API: the documented example, run as written against a real `dagster dev`.

The example (docs/automation.md, "Dagster's GraphQL API", linked from the README) adds the partition of the bikeshare
dataset, launches the version's run of the dataset's pipeline job with dagster-graphql's client (the version ingested
once, each model trained in it), polls it to the end and reads each model's model_evaluation check results for that
partition.
"""

from __future__ import annotations

import pytest
from dagster import DagsterRunStatus

from tests.demo.ui.expected import DATASET, GATES, MODEL_ASSETS, MODELS

pytestmark = pytest.mark.slow

# What a first version's run materializes: the dataset's ingestion, and each model's features and training.
TRAINING_RUN_ASSETS = [
    f"{DATASET}/raw_dataset",
    *(
        f"{model}/{asset}"
        for model in MODELS
        for asset in MODEL_ASSETS
        if asset not in ("model_monitoring", "retraining_decision")
    ),
]


def test_the_documented_example_launches_a_partitioned_run_and_reads_its_gates(trained_version, dagster_ui):
    example = trained_version
    assert example.status == DagsterRunStatus.SUCCESS, dagster_ui.log()
    assert f"run {example.run_id}: SUCCESS" in example.printed

    # The four gates of each model, by the names users see, each with this run's result for this version.
    assert sorted(example.gates) == sorted(MODELS)
    for model, gates in example.gates.items():
        assert sorted(gates) == sorted(GATES), model
        for name, execution in gates.items():
            assert execution["status"] == "SUCCEEDED", (model, name, execution)
            assert execution["runId"] == example.run_id
            assert execution["evaluation"]["description"]
            assert f"{model} {name}: SUCCEEDED (" in example.printed

    # The run is the partitioned run the example asked for: that version, that asset selection, the dataset's job.
    run = dagster_ui.graphql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { jobName status tags { key value }
             assetSelection { path } } } }""",
        id=example.run_id,
    )["runOrError"]
    assert run["jobName"] == f"{DATASET}_pipeline" and run["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": example.key} in run["tags"]
    selected = sorted("/".join(key["path"]) for key in run["assetSelection"])
    assert selected == sorted(key.to_user_string() for key in example.selection) == sorted(TRAINING_RUN_ASSETS)

    # The example's partition step accepts a version that is already a partition (a rerun, or the sensor added it).
    added = dagster_ui.graphql(
        """mutation($partitions: String!, $key: String!) { addDynamicPartition(partitionsDefName: $partitions,
             partitionKey: $key,
             repositorySelector: {repositoryLocationName: "mlops_assets", repositoryName: "__repository__"})
           { __typename } }""",
        partitions=f"{DATASET}_versions",
        key=example.key,
    )["addDynamicPartition"]["__typename"]
    assert added == "DuplicateDynamicPartitionError"
