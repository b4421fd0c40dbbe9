"""The target as the models and metrics see it: numbers for regression, 1 (positive) or 0 for classification.

Every stage reads the target through `target_values`, so a label column of any type (`"Yes"`/`"No"`, `"M"`/`"B"`,
booleans, 0/1) works once the model's defs.yaml names the positive label (or positive_at_least).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class TargetError(ValueError):
    """The target column cannot be used for the configured task."""


def target_values(
    frame: pd.DataFrame,
    task: str,
    target: str,
    positive_label: str | int | bool | None,
    positive_at_least: float | None = None,
) -> np.ndarray:
    """The target of `frame`'s rows: floats (regression) or 0/1 with 1 for `positive_label` (classification).

    Labels are compared as text, so `positive_label = "1"` matches an integer 1 read from a CSV file. With
    `positive_at_least`, a number at or above it is positive (a busy hour: at least 150 rentals). With neither,
    the labels must already be 0/1 or booleans. Classification is binary: a third
    label is an error that names the labels found.
    """
    if target not in frame.columns:
        raise TargetError(f"the target column {target!r} (the model's defs.yaml: target) is not among the columns")
    column = frame[target]
    if task == "regression":
        return column.to_numpy(dtype=float)
    if positive_at_least is not None:
        return (pd.to_numeric(column) >= positive_at_least).to_numpy(dtype=int)
    labels = pd.unique(column.dropna())
    if column.isna().any():
        raise TargetError(f"the target column {target!r} has missing labels: a classifier needs every label")
    if len(labels) > 2:
        shown = ", ".join(repr(label) for label in sorted(labels, key=str)[:10])
        raise TargetError(
            f"classification is binary, but the target column {target!r} has {len(labels)} labels ({shown}); "
            "map them to two classes in features.py or the contract"
        )
    if positive_label is None:
        if not set(labels.tolist()) <= {0, 1}:  # True == 1 and False == 0, so booleans pass too
            shown = ", ".join(repr(label) for label in labels)
            raise TargetError(
                f"the target column {target!r} has labels {shown}: set positive_label in the model's defs.yaml to "
                "the label that counts as positive (1), or give 0/1 labels"
            )
        return column.astype(int).to_numpy()
    return (column.astype(str) == str(positive_label)).to_numpy(dtype=int)


def label_names(
    positive_label: str | int | bool | None, target: str = "", positive_at_least: float | None = None
) -> tuple[str, str]:
    """(negative, positive) as they should read in plots and tables."""
    if positive_at_least is not None:
        return f"{target} < {positive_at_least:g}", f"{target} >= {positive_at_least:g}"
    if positive_label is None:
        return "0", "1"
    return f"not {positive_label}", str(positive_label)
