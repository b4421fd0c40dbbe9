"""The registry's champion from a shell: who it is, and rollback (stages/rollback.py).

    python -m mlops_assets.commands.champion --model bike_rentals status           # champion and previous_champion
    python -m mlops_assets.commands.champion --model bike_rentals rollback         # champion <- previous_champion
    python -m mlops_assets.commands.champion --model bike_rentals rollback --to 3  # champion <- version 3

`--model` names a model component (defs/<model>/defs.yaml); it may be left out when the project has one model.

It uses the project's tracking store (MLFLOW_TRACKING_URI, else state/mlflow.db under MLOPS_STATE_DIR). A running
`python -m mlops_assets.commands.serving` server resolved `@champion` when it started: restart it after a rollback.
"""

from __future__ import annotations

import argparse
import sys


def _version(version: str | None) -> str:
    return f"version {version}" if version else "none"


def _describe(entry: dict | None) -> str:
    if entry is None:
        return "none"
    metrics = ", ".join(f"{k.removeprefix('holdout_')} {float(v):.4g}" for k, v in entry.items() if k[:8] == "holdout_")
    details = [
        entry["status"],
        f"dataset version {entry['partition']}" if entry["partition"] else None,
        f"promoted {entry['promoted_at']}" if entry["promoted_at"] else None,
        f"holdout {metrics}" if metrics else None,
        f"run {entry['run_id']}" if entry["run_id"] else None,
    ]
    return f"version {entry['version']} ({'; '.join(d for d in details if d)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.commands.champion",
        description="The model registry's champion: show it, or roll it back. Uses the project's tracking store "
        "(MLFLOW_TRACKING_URI, else <MLOPS_STATE_DIR or state/>/mlflow.db).",
    )
    parser.add_argument("--model", help="the model (its defs.yaml name); needed when the project has several")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="print the champion and previous_champion versions")
    back = commands.add_parser(
        "rollback",
        help="champion <- previous_champion (refuses when there is none)",
        description="Move alias champion back to previous_champion; previous_champion moves to the version that "
        "one replaced. With --to, make that version the champion and keep the current one as previous_champion.",
    )
    back.add_argument("--to", metavar="VERSION", help="make this registered version the champion instead")
    args = parser.parse_args(argv)

    from mlops_assets.components.project import model_named
    from mlops_assets.stages.registry import DeploymentRefused
    from mlops_assets.stages.rollback import registry_status, rollback
    from mlops_assets.wiring.resources import MLflowTracking

    tracking = MLflowTracking()
    model_name = model_named(args.model).model_name
    print(f"model {model_name} in {tracking.uri}")
    if args.command == "status":
        for alias, entry in registry_status(tracking, model_name).items():
            print(f"{alias}: {_describe(entry)}")
        return 0
    try:
        moved = rollback(tracking, model_name, to_version=args.to)
    except DeploymentRefused as refusal:
        print(f"rollback refused: {refusal}", file=sys.stderr)
        return 1
    print(f"champion: {_version(moved['rolled_back_from'])} -> {_version(moved['champion'])}")
    print(f"previous_champion: {_version(moved['former_previous_champion'])} -> {_version(moved['previous_champion'])}")
    print("A running model server resolved @champion when it started: restart it to serve the new champion.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
