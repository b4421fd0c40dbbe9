"""Tests of the demo's own facts (bike rentals, monthly versions): marked `demo`, deleted with the demo.

Everything outside tests/demo/ runs on whatever data set, contract and features the project is configured with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if DEMO in Path(item.fspath).parents:
            item.add_marker(pytest.mark.demo)
