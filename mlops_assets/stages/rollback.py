"""Rollback: move `champion` back one promotion (or to a chosen version), and show what the aliases point at.

A rollback moves `champion` back to `previous_champion`, and `previous_champion` to the version that one had
replaced (none when it replaced nothing), so a second rollback goes further back instead of redeploying the version
just rolled back from. It refuses, and moves nothing, when there is no previous champion. The command line is
`python -m mlops_assets.commands.champion` (status, rollback, rollback --to VERSION).
"""

from __future__ import annotations

import contextlib

from mlops_assets.stages.registry import (
    CHAMPION,
    PREVIOUS,
    PROMOTED_AT,
    REPLACED_VERSION,
    ROLLED_BACK_AT,
    DeploymentRefused,
    alias_version,
    make_champion,
    now,
    ready_version,
    registry_lock,
)


def rollback(tracking, model_name: str, to_version: str | None = None) -> dict:
    """Move `champion` back to `previous_champion` (or to `to_version`); returns what moved.

    Default: `champion` <- `previous_champion`; `previous_champion` <- the version that one replaced when it was
    promoted, or removed when it replaced nothing, so repeated rollbacks walk back through the promotions.
    With `to_version`: `champion` <- that version, `previous_champion` <- the champion it replaces (so a plain
    rollback undoes it). Refuses (DeploymentRefused, nothing moved) when there is nothing to roll back to, or the
    target is not a READY version.
    """
    client = tracking.client()
    with registry_lock(tracking):
        current = alias_version(client, model_name, CHAMPION)
        previous = alias_version(client, model_name, PREVIOUS)
        if to_version is None:
            if previous is None:
                raise DeploymentRefused(
                    f"model {model_name} has no {PREVIOUS!r} alias (champion: version {current or 'none'}): "
                    "nothing to roll back to; nothing was changed"
                )
            target = previous
        else:
            target = str(to_version)
        if target == current:
            raise DeploymentRefused(f"version {target} of {model_name} is already the champion; nothing was changed")
        found = ready_version(client, model_name, target)
        if found is None:
            raise DeploymentRefused(
                f"{model_name} version {target} does not exist or is not READY: not making it the champion"
            )
        if to_version is None:
            older = found.tags.get(REPLACED_VERSION) or None
            if older in (current, target) or (older and ready_version(client, model_name, older) is None):
                older = None
            if older:
                client.set_registered_model_alias(model_name, PREVIOUS, older)
            else:
                client.delete_registered_model_alias(model_name, PREVIOUS)
            client.set_registered_model_alias(model_name, CHAMPION, target)
            new_previous = older
        else:
            make_champion(client, model_name, target, current)
            new_previous = current
        if current:
            client.set_model_version_tag(model_name, current, ROLLED_BACK_AT, now())
    return {
        "model_name": model_name,
        "champion": target,
        "previous_champion": new_previous,
        "rolled_back_from": current,
        "former_previous_champion": previous,
    }


def registry_status(tracking, model_name: str) -> dict[str, dict | None]:
    """Each alias -> version, status, promotion time, source run and Dagster partition (None when unset)."""
    client = tracking.client()
    status: dict[str, dict | None] = {}
    for alias in (CHAMPION, PREVIOUS):
        version = alias_version(client, model_name, alias)
        if version is None:
            status[alias] = None
            continue
        found = client.get_model_version(model_name, version)
        partition = None
        if found.run_id:
            with contextlib.suppress(Exception):  # the run may have been deleted; the version still stands
                partition = client.get_run(found.run_id).data.tags.get("dagster.partition") or None
        status[alias] = {
            "version": version,
            "status": found.status,
            "promoted_at": found.tags.get(PROMOTED_AT),
            "run_id": found.run_id,
            "partition": partition,
            **{k: v for k, v in found.tags.items() if k.startswith("holdout_")},
        }
    return status
