"""The scale benchmark's code location: the project's definitions with the replicated contract and search budget.

    dagster asset materialize -f bench/scale_definitions.py --select '*' --partition KEY

Everything else is the project's: `build_definitions` (the defs/ folder: assets, checks, jobs, sensors; the IO
manager, the in-process executor and the resources).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

scale.install()

from mlops_assets.definitions import build_definitions  # noqa: E402

defs = build_definitions(settings=scale.scale_settings())
