"""The scale benchmark's code location: the measured model with the replicated contract and search budget.

    dagster asset materialize -f bench/scale_definitions.py --select '*' --partition KEY

Everything else is the project's: `build_definitions` for that one model (assets, checks, jobs, sensors; the IO
manager, the in-process executor and the resources). The dataset's contract is `scale:ReplicatedRawData`, which
the steps import from bench/ (on sys.path here).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

from mlops_assets.definitions import build_definitions

defs = build_definitions(models=[scale.scale_model()])
