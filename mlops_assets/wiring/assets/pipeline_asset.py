"""What every asset of the pipeline shares: one partition per dataset version, an owner, a group, a code version.

Bump an asset's code_version when the logic behind it changes; Dagster then shows its outputs as stale.
Steps that talk to MLflow declare `talks_to_mlflow=True`: they get `MLFLOW_RETRY`, and only a transient error (the
tracking server or its database unreachable) is retried; any other error fails the step at once, as before.
"""

import functools
from collections.abc import Callable

import dagster as dg

from mlops_assets.infra.transient import is_transient
from mlops_assets.wiring.partitions import dataset_version_partitions

# Who answers for these assets (the Dagster catalog shows it): a team or an e-mail address.
OWNERS = ["team:ml-platform"]

# Waits of about 5, 15, 35 and 75 s (exponential, +-5 s of jitter so that steps of concurrent runs do not all come
# back at once): a tracking server restarted by its supervisor or moved by a deployment is back within that.
# MLflow's HTTP client retries each request before that (MLFLOW_HTTP_REQUEST_MAX_RETRIES).
MLFLOW_RETRY = dg.RetryPolicy(max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def pipeline_asset(
    group: str, code_version: str, kinds: set[str], description: str, talks_to_mlflow: bool = False, **kwargs
) -> Callable:
    """`dg.asset` for one stage of the pipeline, partitioned by dataset version and tagged with its stage."""
    asset = dg.asset(
        partitions_def=dataset_version_partitions,
        group_name=group,
        code_version=code_version,
        kinds=kinds,
        description=description,
        owners=OWNERS,
        tags={"stage": group},
        **({"retry_policy": MLFLOW_RETRY} if talks_to_mlflow else {}),
        **kwargs,
    )
    return (lambda fn: asset(retry_only_transient(fn))) if talks_to_mlflow else asset


def retry_only_transient(fn: Callable) -> Callable:
    """A retry policy retries every exception: anything not transient becomes a Failure that is not retried."""

    @functools.wraps(fn)  # Dagster reads the parameters (inputs, resources) through __wrapped__
    def compute(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except dg.Failure as failure:
            if not is_transient(failure):
                failure.allow_retries = False
            raise
        except Exception as error:
            if is_transient(error):
                raise
            raise dg.Failure(f"{type(error).__name__}: {error}", allow_retries=False) from error

    return compute
