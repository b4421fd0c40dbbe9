"""What every asset of the pipeline shares: its dataset's version partitions, a key prefix and group (its model's, or
its dataset's), a stage tag, an owner and a code version.

Bump an asset's code_version when the logic behind it changes; Dagster then shows its outputs as stale.
Steps that talk to MLflow declare `talks_to_mlflow=True`: they get `MLFLOW_RETRY`, and only a transient error (the
tracking server or its database unreachable) is retried; any other error fails the step at once, as before.
"""

import functools
from collections.abc import Callable

import dagster as dg

from mlops_assets.infra.transient import is_transient
from mlops_assets.settings import DatasetSettings, ModelSettings
from mlops_assets.wiring.partitions import version_partitions
from mlops_assets.wiring.sensors.alerts import failed_run_alert_hook

# Who answers for these assets (the Dagster catalog shows it): a team or an e-mail address.
OWNERS = ["team:ml-platform"]

# Waits of about 5, 15, 35 and 75 s (exponential, +-5 s of jitter so that steps of concurrent runs do not all come
# back at once): a tracking server restarted by its supervisor or moved by a deployment is back within that.
# MLflow's HTTP client retries each request before that (MLFLOW_HTTP_REQUEST_MAX_RETRIES).
MLFLOW_RETRY = dg.RetryPolicy(max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def owner_tags(owner: ModelSettings | DatasetSettings, stage: str) -> dict[str, str]:
    """The tags that select an asset by stage, dataset and model (the dataset's job selects by `dataset`)."""
    if isinstance(owner, ModelSettings):
        return {"stage": stage, "dataset": owner.dataset.name, "model": owner.name}
    return {"stage": stage, "dataset": owner.name}


def pipeline_asset(
    owner: ModelSettings | DatasetSettings,
    stage: str,
    code_version: str,
    kinds: set[str],
    description: str,
    talks_to_mlflow: bool = False,
    **kwargs,
) -> Callable:
    """`dg.asset` for one stage of a model's (or a dataset's) pipeline: key `<owner>/<name>`, its group, its
    dataset's version partitions, tagged with its stage."""
    dataset = owner.dataset if isinstance(owner, ModelSettings) else owner
    asset = dg.asset(
        key_prefix=[owner.name],
        partitions_def=version_partitions(dataset),
        group_name=owner.name,
        code_version=code_version,
        kinds=kinds,
        description=description,
        owners=OWNERS,
        tags=owner_tags(owner, stage),
        hooks={failed_run_alert_hook},  # a failed step alerts from inside its run, whichever path launched it
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
