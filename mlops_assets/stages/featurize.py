"""Features of a version: the feature code of features.py on every row, checked by the `Features` contract."""

from __future__ import annotations

import pandas as pd


def feature_table(raw: pd.DataFrame) -> pd.DataFrame:
    """`features.make_features(raw)`, validated (lazily) against `contracts.Features`."""
    from mlops_assets.contracts import Features
    from mlops_assets.features import make_features

    return Features.validate(make_features(raw), lazy=True)
