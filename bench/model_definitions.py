"""The benchmarks' code location: the project's definitions for the measured model alone (bench/bench_model.py).

    dagster asset materialize -f bench/model_definitions.py --select '*' --partition KEY

The demo project has two models on its dataset (bike_rentals and busy_hours); `--select '*'` here runs the
dataset's ingestion and bike_rentals' pipeline, the same steps as bench/plain_script.py. Everything else is the
project's `build_definitions` (assets, checks, jobs, sensors, the IO manager, the in-process executor and the
resources). Importing mlops_assets.definitions also loads the project's own defs folder (its `defs`), so loading
this location costs that plus building one model's definitions: a little more than the project's own location.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import bench_model

from mlops_assets.definitions import build_definitions

defs = build_definitions(models=[bench_model()])
