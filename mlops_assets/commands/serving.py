"""Online scoring: MLflow's model server in front of the registry's champion.

    python -m mlops_assets.commands.serving --model bike_rentals   # models:/bike_rentals@champion on 127.0.0.1:5001
    python -m mlops_assets.commands.serving --model busy_hours --port 5002
    python -m mlops_assets.commands.serving --model-uri models:/bike_rentals/3   # a pinned version instead

`--model` names a model component (defs/<model>/defs.yaml); it may be left out when the project has one model.

It runs `mlflow models serve -m models:/<model_name>@champion --env-manager local -h HOST -p PORT` against the
project's tracking store (MLflowTracking().uri: MLFLOW_TRACKING_URI, else state/mlflow.db), with this
environment's `bin` directory first on PATH: MLflow starts `uvicorn` by name, and without `--env-manager local` it
would try to build a fresh environment from PyPI (no good offline). The model takes raw contract rows (the
feature code is inside it):

    curl -s http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d '{"dataframe_records":
      [{"hr": 8, "weekday": 1, "weathersit": "clear", "temp": 0.3, "atemp": 0.3, "hum": 0.5, "windspeed": 0.1,
        "holiday": 0, "workingday": 1}]}'
    {"predictions": [179.2]}

MLflow enforces the model signature: a missing column or a value that cannot be converted to the column's type
gets 400 with a message naming the column. The server resolves `@champion` once, when it starts: after a
promotion or a rollback, restart it. It binds to 127.0.0.1 by default; it has no authentication, so put a proxy
in front of it before binding it to another interface.
"""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def scripts_dir() -> Path:
    """This environment's `bin` directory (the virtualenv's, when running from one)."""
    return Path(sysconfig.get_path("scripts"))


def serve_command(model_uri: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """The `mlflow models serve` command line for `model_uri`, using this environment (no new one is built)."""
    mlflow = scripts_dir() / "mlflow"
    return [
        str(mlflow) if mlflow.exists() else "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        host,
        "-p",
        str(int(port)),
    ]


def serving_env(tracking_uri: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: `base` (default os.environ) with the tracking URI set and this `bin` first on PATH.

    tracking_uri: default the project's, MLflowTracking().uri.
    """
    if tracking_uri is None:
        from mlops_assets.wiring.resources import MLflowTracking

        tracking_uri = MLflowTracking().uri
    env = dict(os.environ if base is None else base)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["PATH"] = os.pathsep.join([str(scripts_dir()), *[p for p in env.get("PATH", "").split(os.pathsep) if p]])
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return env


def champion_uri(model_name: str) -> str:
    from mlops_assets.stages.registry import CHAMPION

    return f"models:/{model_name}@{CHAMPION}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_assets.commands.serving",
        description="Serve the registry's champion over HTTP (MLflow's scoring server: POST /invocations).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--model", help="the model (its defs.yaml name); needed when the project has several")
    parser.add_argument("--model-uri", help="serve this model URI instead of models:/<model name>@champion")
    args = parser.parse_args(argv)

    from mlops_assets.components.project import model_named
    from mlops_assets.stages.registry import current_champion
    from mlops_assets.wiring.resources import MLflowTracking

    tracking = MLflowTracking()
    model_uri = args.model_uri
    model_name = model_named(args.model).model_name if model_uri is None else None
    if model_uri is None:
        champion = current_champion(tracking, model_name)
        if champion is None:
            print(
                f"no model is registered as {model_name}@champion in {tracking.uri}: train and deploy one first "
                f"(materialize {args.model or model_name}/deployed_model), or pass --model-uri",
                file=sys.stderr,
            )
            return 1
        model_uri = champion_uri(model_name)
        print(f"serving {model_uri} (version {champion.version}, run {champion.run_id}) from {tracking.uri}")
        print("The alias is resolved now, once: restart this server after a promotion or a rollback.")
    else:
        print(f"serving {model_uri} from {tracking.uri}")
    if args.host not in LOOPBACK:
        print(f"warning: binding {args.host}: the server has no authentication", file=sys.stderr)
    print(f"POST http://{args.host}:{args.port}/invocations", flush=True)
    command = serve_command(model_uri, args.host, args.port)
    os.execvpe(command[0], command, serving_env(tracking.uri))  # the server replaces this process: Ctrl-C stops it
    return 0  # not reached: the server replaced this process


if __name__ == "__main__":
    sys.exit(main())
