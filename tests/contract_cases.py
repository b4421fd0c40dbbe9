"""Rows that break a contract, derived from the contract itself: the tests' bad inputs for any data set.

For each column of a Pandera schema: a missing value, a value outside each range or set the column's checks
declare, a fraction in an integer column; and for the table: an extra column, a missing column, a duplicated row
key and no rows. Nothing here names a column of the demo.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa


def violating_value(check: pa.Check, series: pd.Series):
    """A value that `check` rejects, or None when this helper cannot tell one."""
    stats = check.statistics or {}
    numeric = pd.api.types.is_numeric_dtype(series)
    if check.name in ("greater_than_or_equal_to", "greater_than") and numeric:
        return stats["min_value"] - 1
    if check.name in ("less_than_or_equal_to", "less_than") and numeric:
        return stats["max_value"] + 1
    if check.name == "in_range" and numeric:
        return stats["max_value"] + 1
    if check.name == "isin":
        allowed = list(stats["allowed_values"])
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in allowed):
            return max(allowed) + 1
        return "__not_an_allowed_value__"
    return None


def broken_versions(schema: pa.DataFrameSchema, rows: pd.DataFrame, at: int = 3) -> dict[str, pd.DataFrame]:
    """Copies of `rows` that each break one rule of `schema` at row position `at` (named by the rule)."""
    rows = rows.reset_index(drop=True)
    cases: dict[str, pd.DataFrame] = {}
    for name, column in schema.columns.items():
        if not column.nullable:
            cases[f"{name}: missing value"] = rows.assign(**{name: rows[name].astype(object).where(rows.index != at)})
        for check in column.checks:
            bad = violating_value(check, rows[name])
            if bad is not None:
                cases[f"{name}: {check.name}"] = rows.assign(
                    **{name: rows[name].astype(object).where(rows.index != at, bad)}
                )
        if pd.api.types.is_integer_dtype(column.dtype.type):
            cases[f"{name}: fraction"] = rows.assign(
                **{name: rows[name].astype(float).where(rows.index != at, rows[name].iloc[at] + 0.5)}
            )
    first = next(iter(schema.columns))
    cases["extra column"] = rows.assign(__extra_column__=1)
    cases["missing column"] = rows.drop(columns=[first])
    cases["no rows"] = rows.iloc[:0]
    if schema.unique:
        cases["duplicate row key"] = pd.concat([rows, rows.iloc[[at]]], ignore_index=True)
    return cases
