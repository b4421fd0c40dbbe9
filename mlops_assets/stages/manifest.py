"""The reproducibility manifest every model carries: code, data, contract, configuration, seeds, environment, runs.

Same version, configuration and code give the same model and metrics; the manifest records each of those inputs
so that a model can be audited or reproduced. It is logged as `manifest.json` with the model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path

from mlops_assets.settings import PROJECT_ROOT
from mlops_assets.stages.validation import contract_hash


@functools.cache
def git_commit() -> str | None:
    """The commit of the code that ran, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def build_manifest(
    code_version: str,
    data_hash: str | None,
    dataset_version: str,
    settings,
    dagster_run_id: str,
    mlflow_run_id: str,
    train_until_time: float | None,
) -> dict:
    """Everything needed to reproduce (and audit) a model."""
    return {
        "code_version": code_version,
        "git_commit": git_commit(),
        "data_hash": data_hash,
        "dataset_version": dataset_version,
        "contract_hash": contract_hash(settings.dataset.raw_contract()),
        "config_hash": config_hash(settings.model_dump(exclude={"dataset": {"data_dir", "state_dir"}})),
        "seed": settings.seed,
        "lock_file_hash": lock_file_hash(),
        "dagster_run_id": dagster_run_id,
        "mlflow_run_id": mlflow_run_id,
        "train_until_time": train_until_time,
    }


def file_hash(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def config_hash(settings_dict: dict) -> str:
    return hashlib.sha256(json.dumps(settings_dict, sort_keys=True, default=str).encode()).hexdigest()[:16]


def lock_file_hash() -> str | None:
    return file_hash(PROJECT_ROOT / "requirements.lock")
