"""Which errors are transient: the MLflow tracking server (or a database behind a store) was unreachable.

Such an error says nothing about the data or the model, so the step is worth running again later (the retry policy
of the steps that talk to MLflow, wiring/assets/pipeline_asset.py); every other error would fail the same way again.
"""

from __future__ import annotations

# What MLflow's REST client says when its own retries ran out against a server that did not answer.
TRANSIENT_MESSAGES = (
    "Max retries exceeded",
    "Connection refused",
    "Connection reset",
    "Remote end closed connection",
    "Temporary failure in name resolution",
    "TEMPORARILY_UNAVAILABLE",
)


def is_transient(error: BaseException | None) -> bool:
    """True when the error, or any error it was raised from, is a connection failure."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _connection_error(error) or any(message in str(error) for message in TRANSIENT_MESSAGES):
            return True
        error = error.__cause__ or error.__context__
    return False


def _connection_error(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError):  # builtins: refused, reset, aborted
        return True
    # requests' and SQLAlchemy's own connection errors, matched by name: neither package is needed to import this.
    kind = type(error)
    return (kind.__module__.split(".")[0], kind.__name__) in {
        ("requests", "ConnectionError"),
        ("requests", "ConnectTimeout"),
        ("urllib3", "MaxRetryError"),
        ("urllib3", "NewConnectionError"),
        ("sqlalchemy", "OperationalError"),
        ("psycopg2", "OperationalError"),
    }
