"""Drift statistics: a reference profile of the data a model trained on, and how new data drifts from it.

The reference profile is built from the champion's training rows when it is trained and logged with the model, so
monitoring compares new data against what *that* model saw, not against whatever version happens to precede it.
Per feature: the population stability index (PSI) for every column, a normalised Wasserstein distance for
numerical ones and the Jensen-Shannon distance for categorical ones. SciPy is imported where it is used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

PROFILE_FORMAT = 1
PREDICTION = "prediction"
MISSING_KEY = "<missing>"
DRIFT_COLUMNS = ["feature", "kind", "psi", "wasserstein_norm", "js_distance", "status", "drifted"]


# --- reference profile --------------------------------------------------------------------------------------


def build_reference_profile(
    features: pd.DataFrame,
    predictions: np.ndarray,
    categorical: list[str],
    bins: int = 10,
    *,
    sample_size: int = 1000,
    max_categories: int = 50,
    seed: int = 0,
) -> dict:
    """A small JSON-serialisable profile of the training features and the model's predictions on them.

    Columns listed in `categorical`, and any non-numeric column, get category shares; the others quantile
    bins, a sorted seeded sample (for the Wasserstein distance) and summary statistics. The predictions get
    the same treatment under the key "prediction".
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    unknown = [name for name in categorical if name not in features.columns]
    if unknown:
        raise ValueError(f"categorical columns not in the features: {unknown}")
    predictions = _as_1d(predictions, len(features))
    columns: dict[str, dict] = {}
    for name in features.columns:
        column = features[name]
        if name in categorical or not _is_numeric(column):
            columns[str(name)] = _categorical_profile(column, max_categories)
        else:
            columns[str(name)] = _numerical_profile(column, bins, sample_size, seed)
    prediction = pd.Series(predictions, name=PREDICTION)
    return {
        "format": PROFILE_FORMAT,
        "rows": len(features),
        "bins": bins,
        "columns": columns,
        PREDICTION: (
            _numerical_profile(prediction, bins, sample_size, seed)
            if _is_numeric(prediction)
            else _categorical_profile(prediction, max_categories)
        ),
    }


def _as_1d(predictions: Any, rows: int) -> np.ndarray:
    array = np.asarray(predictions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"predictions must be one-dimensional, got shape {array.shape}")
    if len(array) != rows:
        raise ValueError(f"{len(array)} predictions for {rows} feature rows: they must describe the same rows")
    return array


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _finite(column: pd.Series) -> tuple[np.ndarray, int]:
    """The finite values as floats, and how many rows there were. NaN and ±inf count as missing."""
    try:
        values = pd.to_numeric(column, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"column {column.name!r} must be numerical (as in the reference profile): {error}") from None
    return values[np.isfinite(values)], len(values)


def _cut_points(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner cut points of right-closed bins, (-inf, c0], (c0, c1], ..., (c_last, inf).

    Quantile cuts alone merge a heavily tied value (a constant column, zeros in wind speed) with whatever
    lies next to it, so a shift into or out of that value is missed. A value holding more than one bin's
    share gets a bin of its own, (nextafter(v, -inf), v], which holds exactly v. Open end bins mean values
    outside the reference range fall into the first or last bin.
    """
    if len(values) == 0:
        return np.array([])
    cuts = set(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]).tolist())
    unique, counts = np.unique(values, return_counts=True)
    for value in unique[counts > len(values) / bins]:
        cuts.update((float(value), float(np.nextafter(value, -np.inf))))
    return np.array(sorted(cuts))


def _bin_shares(values: np.ndarray, cuts: np.ndarray, rows: int) -> np.ndarray:
    """Shares of all `rows` per bin (missing rows are the rest); side='left' makes the bins right-closed."""
    counts = np.bincount(np.searchsorted(cuts, values, side="left"), minlength=len(cuts) + 1)
    return counts / rows if rows else counts.astype(float)


def _numerical_profile(column: pd.Series, bins: int, sample_size: int, seed: int) -> dict:
    values, rows = _finite(column)
    cuts = _cut_points(values, bins)
    if len(values) > sample_size:
        sample = np.random.default_rng(seed).choice(values, size=sample_size, replace=False)
    else:
        sample = values
    defined = len(values) > 0
    return {
        "kind": "numerical",
        "edges": cuts.tolist(),
        "shares": _bin_shares(values, cuts, rows).tolist(),
        "missing_share": (rows - len(values)) / rows if rows else 0.0,
        "mean": float(values.mean()) if defined else None,
        "std": float(values.std()) if defined else None,
        "min": float(values.min()) if defined else None,
        "max": float(values.max()) if defined else None,
        # Six significant digits are plenty for a distance and keep the JSON about half the size.
        "sample": [float(f"{value:.6g}") for value in np.sort(sample)],
    }


def _category_key(value: Any) -> str:
    """A category as a string (JSON keys), stable across dtypes: 1, 1.0 and "1" are one category."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _category_shares(column: pd.Series) -> pd.Series:
    """Each category's share of the rows, most frequent first, keyed by _category_key (missing: MISSING_KEY).

    Counted per distinct value, not per row: a million rows of a few categories take milliseconds.
    """
    counts = column.value_counts(dropna=False, sort=False)
    keys = [MISSING_KEY if pd.isna(value) else _category_key(value) for value in counts.index]
    shares = counts.groupby(keys, sort=False).sum() / len(column)
    return shares.sort_values(ascending=False, kind="stable")


def _categorical_profile(column: pd.Series, max_categories: int) -> dict:
    shares = _category_shares(column)
    kept = shares.iloc[:max_categories]  # the most frequent; the rest share one "other" bucket
    return {
        "kind": "categorical",
        "shares": {key: float(share) for key, share in kept.items()},
        "other_share": float(shares.iloc[max_categories:].sum()),
    }


# --- drift --------------------------------------------------------------------------------------------------


def population_stability_index(ref_shares: Any, cur_shares: Any, eps: float = 1e-4) -> float:
    """PSI = sum((cur - ref) * ln(cur / ref)) over bins; shares below eps are raised to eps (no log(0))."""
    ref = np.clip(np.asarray(ref_shares, dtype=float), eps, None)
    cur = np.clip(np.asarray(cur_shares, dtype=float), eps, None)
    if ref.shape != cur.shape:
        raise ValueError(f"share vectors differ in length: {ref.shape} vs {cur.shape}")
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(p: Any, q: Any) -> float:
    """Jensen-Shannon distance, base 2: 0 for the same distribution, 1 for disjoint ones (SciPy's)."""
    from scipy.spatial.distance import jensenshannon

    # Clipped because rounding can make the distance of identical vectors a hair off zero (or NaN).
    return float(min(max(np.nan_to_num(jensenshannon(p, q, base=2)), 0.0), 1.0))


def _numerical_drift(reference: dict, column: pd.Series) -> tuple[float, float]:
    from scipy.stats import wasserstein_distance

    values, rows = _finite(column)
    cuts = np.asarray(reference["edges"], dtype=float)
    ref = [*reference["shares"], reference["missing_share"]]
    cur = [*_bin_shares(values, cuts, rows), (rows - len(values)) / rows]
    psi = population_stability_index(ref, cur)
    if len(values) == 0 or not reference["sample"]:
        return psi, math.nan
    std = reference["std"] or 1.0  # a constant reference column: the distance in the column's own units
    return psi, float(wasserstein_distance(reference["sample"], values)) / std


def _categorical_drift(reference: dict, column: pd.Series) -> tuple[float, float]:
    current = _category_shares(column)
    known = list(reference["shares"])
    # Categories the reference did not keep (unseen, or beyond max_categories) share one extra bucket.
    ref = [*reference["shares"].values(), reference["other_share"]]
    cur = [
        *(float(current.get(key, 0.0)) for key in known),
        float(current.drop(known, errors="ignore").sum()),
    ]
    return population_stability_index(ref, cur), js_distance(ref, cur)


def _status(psi: float, psi_warn: float, psi_alert: float) -> str:
    if psi >= psi_alert:
        return "alert"
    return "warn" if psi >= psi_warn else "ok"


def feature_drift(
    profile: dict, features: pd.DataFrame, predictions: np.ndarray, psi_warn: float, psi_alert: float
) -> pd.DataFrame:
    """Drift of each profiled feature and of the predictions against the reference profile, one row each.

    Columns in `features` that the profile does not know are ignored; profiled columns that are missing
    raise a ValueError.
    """
    if psi_warn > psi_alert:
        raise ValueError(f"psi_warn ({psi_warn}) must not exceed psi_alert ({psi_alert})")
    missing = [name for name in profile["columns"] if name not in features.columns]
    if missing:
        raise ValueError(f"columns of the reference profile missing from the current features: {missing}")
    if len(features) == 0:
        raise ValueError("no current rows to compare with the reference profile")
    predictions = _as_1d(predictions, len(features))

    rows = []
    targets = [(name, reference, features[name]) for name, reference in profile["columns"].items()]
    targets.append((PREDICTION, profile[PREDICTION], pd.Series(predictions, name=PREDICTION)))
    for name, reference, column in targets:
        wasserstein = js = math.nan
        if reference["kind"] == "numerical":
            psi, wasserstein = _numerical_drift(reference, column)
        else:
            psi, js = _categorical_drift(reference, column)
        status = _status(psi, psi_warn, psi_alert)
        kind = PREDICTION if name == PREDICTION else reference["kind"]
        rows.append((name, kind, psi, wasserstein, js, status, status == "alert"))
    drift = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    return drift.astype({"psi": float, "wasserstein_norm": float, "js_distance": float, "drifted": bool})


def drift_summary(drift: pd.DataFrame, dataset_drift_share: float) -> dict:
    """Dataset-level view of `feature_drift`: which share of the features (not the prediction) drifted."""
    is_feature = drift["kind"] != PREDICTION
    features = drift[is_feature]
    drifted = features.loc[features["status"] == "alert", "feature"].tolist()
    share = len(drifted) / len(features) if len(features) else 0.0
    prediction = drift[~is_feature]
    top = features.loc[features["psi"].idxmax()] if len(features) else None
    return {
        "n_features": len(features),
        "drifted_share": share,
        "drifted_features": drifted,
        "dataset_drift": bool(len(features) > 0 and share >= dataset_drift_share),
        "prediction_psi": float(prediction["psi"].iloc[0]) if len(prediction) else None,
        "prediction_status": str(prediction["status"].iloc[0]) if len(prediction) else None,
        "max_psi": float(top["psi"]) if top is not None else None,
        "max_psi_feature": str(top["feature"]) if top is not None else None,
    }
