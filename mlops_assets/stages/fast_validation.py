"""An opt-in fast path for Pandera validation of big versions: vectorised checks of rows that already conform.

At a million rows Pandera spends most of its time checking, value by value in Python, that text columns hold text.
`FastContract.validate` first tries `validate_vectorised`: when every rule of the schema is one this module knows
and holds, and every column already has the schema's dtype, it returns the frame as Pandera would. Anything else
(another dtype to coerce, any failed rule, a rule it does not know) goes to Pandera itself, so every failure report
is Pandera's.

It reads Pandera's private attributes (`_parser_fn`, `_check_fn` and their kwargs) to call table-wide parsers and
checks as Pandera does. If those change in a later Pandera, the fast path hands over to Pandera (never a wrong
verdict, only the speed is lost); tests/test_fast_validation.py checks that both agree on every contract.
Opt in by deriving a dataset's contract (defs/<dataset>/contract.py) from FastContract instead of `pa.DataFrameModel`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import numpy_engine, pandas_engine


def validate_vectorised(schema: pa.DataFrameSchema, frame: pd.DataFrame, inplace: bool = False) -> pd.DataFrame | None:
    """`frame` validated against `schema` by vectorised code, or None when Pandera must decide.

    Returns a frame only when every rule of the schema is known here and holds, and every column already has the
    schema's dtype (so coercion would change nothing): then Pandera would return the same values. Returns None
    (never raises a validation error) for everything else: a dtype to coerce, a missing value, any failed rule,
    options or checks this function does not implement. The caller then runs Pandera, which reports.
    """
    if (
        not isinstance(frame, pd.DataFrame)
        or schema.index is not None
        or schema.dtype is not None
        or schema.drop_invalid_rows
        or schema.add_missing_columns
        or schema.strict == "filter"
        or not frame.columns.is_unique
    ):
        return None
    columns = schema.columns
    if any(c.regex or c.parsers or c.default is not None or c.drop_invalid_rows for c in columns.values()):
        return None
    if not inplace:
        frame = frame.copy()
    for parser in schema.parsers:  # as Pandera's parser backend calls a table parser
        function = getattr(parser, "_parser_fn", None)
        if parser.element_wise or function is None:
            return None
        frame = function(frame, **getattr(parser, "_parser_kwargs", {}))
    names = list(frame.columns)
    if not set(columns) <= set(names) or (schema.strict and len(names) != len(columns)):
        return None
    if schema.ordered and [n for n in names if n in columns] != list(columns):
        return None
    for name, column in columns.items():
        series = frame[name]
        if not _has_dtype(series, column.dtype):
            return None
        if column.unique and series.duplicated().any():
            return None
        if not all(_column_check_holds(check, series) for check in column.checks):
            return None
    if schema.unique and frame.duplicated(subset=list(schema.unique)).any():
        return None
    if not all(_frame_check_holds(check, frame) for check in schema.checks):
        return None
    if hasattr(frame, "pandera"):
        frame.pandera.add_schema(schema)
    return frame


def _has_dtype(series: pd.Series, dtype) -> bool:
    """The column's values already are of the schema's dtype, with no missing value."""
    if isinstance(dtype, pandas_engine.NpString):  # Series[str]: Python strings in an object column
        return series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string"
    if type(dtype) in (numpy_engine.Int64, numpy_engine.Float64, numpy_engine.Bool) and series.dtype == dtype.type:
        return not (series.dtype.kind == "f" and np.isnan(series.to_numpy()).any())
    return False


_BOUNDS = {
    "greater_than": lambda lo, hi, s: lo > s["min_value"],
    "greater_than_or_equal_to": lambda lo, hi, s: lo >= s["min_value"],
    "less_than": lambda lo, hi, s: hi < s["max_value"],
    "less_than_or_equal_to": lambda lo, hi, s: hi <= s["max_value"],
    "in_range": lambda lo, hi, s: (
        (lo >= s["min_value"] if s.get("include_min", True) else lo > s["min_value"])
        and (hi <= s["max_value"] if s.get("include_max", True) else hi < s["max_value"])
    ),
    "equal_to": lambda lo, hi, s: lo == s["value"] and hi == s["value"],
}


def _column_check_holds(check: pa.Check, series: pd.Series) -> bool:
    if check.element_wise or check.groupby is not None:
        return False
    stats = check.statistics or {}
    if check.name in _BOUNDS and series.dtype.kind in "iuf":  # no missing values here (see _has_dtype)
        if len(series) == 0:
            return True
        values = series.to_numpy()
        return bool(_BOUNDS[check.name](values.min(), values.max(), stats))
    if check.name == "isin":
        allowed = list(stats["allowed_values"])
        if series.dtype.kind in "iufb" and len(allowed) <= 16:  # a few comparisons beat hashing every value
            values = series.to_numpy()
            return bool(np.logical_or.reduce([values == value for value in allowed]).all()) if allowed else False
        return bool(series.isin(allowed).all())
    if check.name == "notin":
        return not series.isin(stats["forbidden_values"]).any()
    return _pandera_verdict(check, series)  # any other check: Pandera's own, on this column


def _frame_check_holds(check: pa.Check, frame: pd.DataFrame) -> bool:
    """A table-wide check (`@pa.dataframe_check`): its function's verdict, all True when it returns booleans."""
    if check.element_wise or check.groupby is not None:
        return False
    function = getattr(check, "_check_fn", None)
    if function is None:
        return _pandera_verdict(check, frame)
    out = function(frame, **getattr(check, "_check_kwargs", {}))  # as Pandera's check backend calls it
    if isinstance(out, bool | np.bool_):
        return bool(out)
    if isinstance(out, pd.Series | pd.DataFrame):
        dtypes = [out.dtype] if isinstance(out, pd.Series) else list(out.dtypes)
        if all(pd.api.types.is_bool_dtype(dtype) for dtype in dtypes):
            return bool(out.to_numpy().all())
    return _pandera_verdict(check, frame)


def _pandera_verdict(check: pa.Check, data) -> bool:
    """Pandera's own verdict on one check; False (so that Pandera validates) when it cannot be asked here."""
    try:
        return bool(check(data).check_passed)
    except Exception:
        return False


class FastContract(pa.DataFrameModel):
    """A Pandera model whose `validate` takes the vectorised path first (see `validate_vectorised`).

    Subclass it like `pa.DataFrameModel`. `head`, `tail` and `sample` always go to Pandera.
    """

    @classmethod
    def validate(
        cls,
        check_obj: pd.DataFrame,
        head: int | None = None,
        tail: int | None = None,
        sample: int | None = None,
        random_state: int | None = None,
        lazy: bool = False,
        inplace: bool = False,
    ):
        if head is None and tail is None and sample is None:
            validated = cls.validate_fast(check_obj, inplace=inplace)
            if validated is not None:
                return validated
        return super().validate(check_obj, head, tail, sample, random_state, lazy, inplace)

    @classmethod
    def validate_fast(cls, check_obj: pd.DataFrame, inplace: bool = False) -> pd.DataFrame | None:
        """The vectorised path alone: the frame validated, or None when Pandera must decide (see `validate`)."""
        try:
            return validate_vectorised(cls.to_schema(), check_obj, inplace=inplace)
        except Exception:  # Pandera's private API changed under us: Pandera decides, as without this class
            return None
