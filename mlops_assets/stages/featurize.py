"""Features of a version: a model's feature code on every row, checked by its `Features` contract."""

from __future__ import annotations

import pandas as pd


def feature_table(raw: pd.DataFrame, settings) -> pd.DataFrame:
    """The model's `make_features(raw)`, validated (lazily) against its `Features` contract."""
    code = settings.feature_code()
    return code.Features.validate(code.make_features(raw), lazy=True)
