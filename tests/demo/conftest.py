"""Tests of the demo's own facts (bike rentals, monthly versions): marked `demo`, deleted with the demo.

Everything outside tests/demo/ runs on whatever data set, contract and features the project is configured with.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.demo.versions import SOURCE_CSV

DEMO = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if DEMO in Path(item.fspath).parents:
            item.add_marker(pytest.mark.demo)


@pytest.fixture(scope="session")
def bikeshare() -> pd.DataFrame:
    """The real hourly rentals of 2011, read once; tests copy it before changing it."""
    return pd.read_csv(SOURCE_CSV)


@pytest.fixture(scope="session")
def year(bikeshare: pd.DataFrame) -> pd.DataFrame:
    """The whole year, validated as the raw_dataset asset validates it (same dtypes as in the pipeline)."""
    from mlops_assets.defs.bikeshare.contract import RawData

    return RawData.validate(bikeshare.copy(), lazy=True)
