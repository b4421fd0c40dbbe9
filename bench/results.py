"""How every measuring script hands back its numbers: JSON to `--out` (bench/run.py collects them), else stdout."""

from __future__ import annotations

import json
from pathlib import Path


def emit(results: dict, out: Path | None) -> int:
    text = json.dumps(results, indent=1)
    if out:
        out.write_text(text)
    else:
        print(text)
    return 0
