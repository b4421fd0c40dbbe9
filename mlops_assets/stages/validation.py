"""Contract helpers that every contract and stage shares: validation with a bounded report, failure tables,
fingerprints, the model's input check. `keep_fractions_uncoercible` is for contracts to call (see RawData).

A failing version should cost about what a valid one costs, however many rows fail; Pandera reshapes and sorts every
failure case (a key repeated in a million rows took ten minutes and 3.7 GB). So `check_contract` runs Pandera, and
only the contract's rules, within three bounds:
- every check reports at most FAILURES_PER_RULE cases (`n_failure_cases`); its own output counts all of them;
- the row key (`Config.unique`, read from the schema) is checked here, in one vectorised pass;
- a value Pandera cannot cast to its numeric column's type (text; a missing or fractional value in an integer
  column) makes it test every value of the column in Python: such cells are found vectorised and shown to Pandera as
  the column's most frequent number (what it says about that is dropped); Pandera reports the first
  FAILURES_PER_RULE of each kind per column from the rows as delivered. If it reports one unlike the rest of its
  kind, or a cast failure this screen missed, the version is validated again without the screen.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

FAILURES_PER_RULE = 20  # failures shown per rule; every failure is counted


def keep_fractions_uncoercible(df: pd.DataFrame, model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """Turn fractional numbers in the model's integer columns into text, so that coercion reports them.

    With `coerce = True` Pandera casts 2.5 to the integer 2 without a word (an hour of 2.5 would become 2).
    As text, "2.5" cannot be cast, and the failure names the row and the value as delivered.
    """
    for name, column in model.to_schema().columns.items():
        if name not in df or not pd.api.types.is_integer_dtype(column.dtype.type):
            continue
        if pd.api.types.is_integer_dtype(df[name].dtype):  # integers already: nothing can be fractional
            continue
        numbers = as_numbers(df[name])
        fractional = numbers.notna() & numbers.ne(numbers.round())
        if fractional.any():
            df = df.assign(**{name: df[name].astype(object).where(~fractional, df[name].astype(str))})
    return df


def as_numbers(series: pd.Series) -> pd.Series:
    """`pd.to_numeric(series, errors="coerce")`, fast for text of few distinct values: pandas coerces each value
    that is not a number through an exception (half a second for a million cells), so here each distinct one once."""
    if series.dtype != object:
        return pd.to_numeric(series, errors="coerce")
    try:
        return pd.to_numeric(series)
    except (ValueError, TypeError):
        codes, uniques = pd.factorize(series)
        numbers = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype=float)
        return pd.Series(np.append(numbers, np.nan)[codes], index=series.index)


@cache
def contract_hash(model: type[pa.DataFrameModel]) -> str:
    """A stable fingerprint of a contract's source code, recorded with every model trained under it."""
    return hashlib.sha256(inspect.getsource(model).encode()).hexdigest()[:16]


def check_contract(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> tuple[pd.DataFrame | None, Failures]:
    """`frame` validated against `model` (in place: the frame must be the caller's), or None; and its failures."""
    fast = getattr(model, "validate_fast", None)  # a FastContract's vectorised path for rows that conform
    if fast is not None and (validated := fast(frame, inplace=True)) is not None:
        return validated, Failures()
    schema = model.to_schema()
    stand_ins = _uncastable_cells(schema, frame)
    hidden = {name: cells for name, (cells, _) in stand_ins.items()}
    originals = {name: frame[name] for name in hidden}
    # A cell Pandera cannot cast holds a missing value or another value: Pandera names the two differently.
    kinds = {name: [cells & originals[name].isna(), cells & originals[name].notna()] for name, cells in hidden.items()}
    first = sorted({i for parts in kinds.values() for cells in parts for i in cells.index[cells][:FAILURES_PER_RULE]})
    confirm = frame.loc[first].copy()
    for name, (cells, value) in stand_ins.items():
        frame[name] = frame[name].where(~cells, value)
    validated, failures = _pandera(model, frame, hidden, capped=True)
    if hidden and failures is not None:
        failures = _confirmed(model, confirm, kinds, failures)
    if failures is None:  # the screen and Pandera disagree: Pandera sees every value as delivered
        for name, series in originals.items():
            frame[name] = series
        hidden = {}
        validated, failures = _pandera(model, frame, hidden, capped=False)
    failures.add(*_duplicate_rows(schema, frame if validated is None else validated, hidden))
    return (validated if not failures.counts else None), failures


class Failures:
    """The failures shown (the first FAILURES_PER_RULE of each rule) and how many each rule has, (column, check)."""

    def __init__(self):
        self.pieces: list[pd.DataFrame] = []
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, shown: pd.DataFrame, counts: dict) -> None:
        self.pieces.append(shown)
        for rule, count in counts.items():
            self.counts[rule] = self.counts.get(rule, 0) + count

    def table(self) -> pd.DataFrame:
        """column, check, index, value: sorted by row (the failures without one first), then column."""
        frame = pd.concat([FAILURE_FRAME, *self.pieces], ignore_index=True)
        order = pd.to_numeric(frame["index"], errors="coerce").fillna(-1)
        frame = frame.assign(_order=order).sort_values(["_order", "column"], kind="stable").drop(columns="_order")
        return frame.groupby(["column", "check"], sort=False).head(FAILURES_PER_RULE).reset_index(drop=True)


FAILURE_FRAME = pd.DataFrame({"column": [], "check": [], "index": [], "value": []}, dtype=object)


@cache
def _schema(model: type[pa.DataFrameModel], capped: bool) -> pa.DataFrameSchema:
    """The contract's schema without its row key (`_duplicate_rows` checks it); `capped`: every check reports at most
    FAILURES_PER_RULE failure cases."""
    schema = copy.deepcopy(model.to_schema())
    schema.unique = None
    for check in [*schema.checks, *(c for column in schema.columns.values() for c in column.checks)] if capped else []:
        check.n_failure_cases = FAILURES_PER_RULE
    return schema


def _pandera(model, frame: pd.DataFrame, hidden: dict[str, pd.Series], capped: bool):
    """Pandera's verdict: (validated frame, no failures) or (None, failures). Failures at a `hidden` cell (a stand-in
    value) are dropped. (None, None) when `capped` and a value could not be cast: that column's checks then ran on
    text, and their counts would count every row."""
    try:
        return _schema(model, capped).validate(frame, lazy=True, inplace=True), Failures()
    except pa.errors.SchemaErrors as error:
        cases, errors = contract_failures(error), error.schema_errors
    if capped and cases["check"].str.startswith(("coerce_dtype", "dtype(")).any():
        return None, None
    any_hidden = _any_of(hidden.values(), frame.index)
    stand_in = cases["column"].eq("(table)") & cases["index"].isin(any_hidden.index[any_hidden])
    for name, cells in hidden.items():
        stand_in |= cases["column"].eq(name) & cases["index"].isin(cells.index[cells])
    cases = cases[~stand_in]
    counts = cases.groupby(["column", "check"]).size().to_dict()
    for failure in errors if capped else []:  # a capped check counts its failures in its own output
        if isinstance(failure.check, pa.Check) and isinstance(failure.check_output, pd.Series):
            column = failure.column_name if failure.column_name in frame.columns else None
            failed = ~failure.check_output.astype(bool) & ~(hidden.get(column, False) if column else any_hidden)
            check = failure.check.error or failure.check.name or str(failure.check)
            counts[(column or "(table)", check)] = int(failed.sum())
    failures = Failures()
    failures.add(cases, {rule: count for rule, count in counts.items() if count})
    return None, failures


def _any_of(masks, index: pd.Index) -> pd.Series:
    return pd.DataFrame(dict(enumerate(masks)), index=index).any(axis=1)


def _uncastable_cells(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[str, tuple[pd.Series, float]]:
    """Per numeric column to be coerced, the cells Pandera could not cast (only columns that have any) and a value
    to show Pandera instead: the column's most frequent number, on which few of its checks fail."""
    found: dict[str, tuple[pd.Series, float]] = {}
    for name, column in schema.columns.items() if frame.columns.is_unique else []:
        kind = getattr(column.dtype, "type", None)
        numeric = kind is not None and pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)
        if name not in frame or not (schema.coerce or column.coerce) or not numeric:
            continue
        series, integer = frame[name], pd.api.types.is_integer_dtype(kind)
        if not (series.dtype == object or (integer and pd.api.types.is_float_dtype(series.dtype))):
            continue  # numbers already (a missing value in a float column is Pandera's not_nullable)
        numbers = as_numbers(series)
        cells = numbers.isna() | numbers.ne(numbers.round()) if integer else numbers.isna() & series.notna()
        if cells.any():
            typical = numbers[~cells].mode()
            found[name] = (cells, typical.iloc[0] if len(typical) else 0)
    return found


def _confirmed(model, confirm: pd.DataFrame, kinds: dict[str, list[pd.Series]], failures: Failures):
    """`failures` with Pandera's own failures of the first cells of each kind, as delivered, the kind's count being
    its rule's. None unless Pandera reports each of those cells as exactly one failure, the same for the kind."""
    _, found = _pandera(model, confirm, {}, capped=False)
    cases = pd.concat([FAILURE_FRAME, *(found.pieces if found else [])], ignore_index=True)
    for name, parts in kinds.items():
        for cells in parts:
            first = cells.index[cells][:FAILURES_PER_RULE]
            shown = cases[cases["column"].eq(name) & cases["index"].isin(first)]
            if len(shown) != len(first) or shown["index"].nunique() != len(first) or shown["check"].nunique() > 1:
                return None
            if len(first):
                failures.add(shown, {(name, shown["check"].iloc[0]): int(cells.sum())})
    return failures


def _duplicate_rows(schema: pa.DataFrameSchema, data: pd.DataFrame, hidden: dict) -> tuple[pd.DataFrame, dict]:
    """The rows whose key repeats (`Config.unique`; Pandera's `report_duplicates` says which), one failure each:
    column `(day, hr)`, check `unique`, value the key `(1, 8)`. A key with a cell that could not be read is no key."""
    groups = schema.unique or []
    groups = [groups] if all(isinstance(name, str) for name in groups) else groups
    keep = {"exclude_first": "first", "exclude_last": "last"}.get(schema.report_duplicates, False)
    shown, counts = [FAILURE_FRAME], {}
    for key in ([name for name in group if name in data] for group in groups):
        unreadable = [hidden[name] for name in key if name in hidden]
        keys = data.loc[~_any_of(unreadable, data.index), key] if unreadable else data[key]
        rows = keys.duplicated(keep=keep) if key else pd.Series(dtype=bool)
        rows = rows.index[rows]
        if len(rows):
            label, first = f"({', '.join(key)})", data.loc[rows[:FAILURES_PER_RULE], key].astype(str)
            value = "(" + first.agg(", ".join, axis=1) + ")"
            shown.append(pd.DataFrame({"column": label, "check": "unique", "index": first.index, "value": value}))
            counts[(label, "unique")] = len(rows)
    return pd.concat(shown, ignore_index=True), counts


def contract_failures(error: pa.errors.SchemaErrors) -> pd.DataFrame:
    """Pandera's failure cases as one row per failure: column, check, row index and failing value.

    A missing or unexpected column is put back in `column` (Pandera names the schema). A row-wise dataframe check
    (such as `total == a + b`), which Pandera reports once per column of the row, is one `(table)` failure per row
    whose value is the whole row. A column with values that cannot be read as its type reports only those (below).
    """
    cases = _only_type_failures_where_a_type_failed(error.failure_cases.reset_index(drop=True))
    column = cases["column"].astype(object)
    schema_level = column.isna() | column.eq(error.schema.name)
    presence = schema_level & cases["check"].isin(["column_in_dataframe", "column_in_schema"])
    column = column.mask(schema_level, "(table)").mask(presence, cases["failure_case"])
    frame = pd.DataFrame(
        {
            "column": column.astype(str),
            "check": cases["check"].astype(str),
            "index": cases["index"],
            "value": cases["failure_case"].astype(str),
        }
    )
    row_wise = (
        cases["schema_context"].eq("DataFrameSchema")
        & cases["check_number"].notna()
        & cases["index"].notna()
        & ~schema_level
    )
    pieces = [frame[~row_wise]]
    if row_wise.any():
        folded = (
            frame[row_wise]
            .assign(value=frame["column"] + "=" + frame["value"])
            .groupby(["check", "index"], sort=False)["value"]
            .agg(", ".join)
            .reset_index()
            .assign(column="(table)")
        )
        pieces.append(folded[frame.columns])
    return pd.concat(pieces, ignore_index=True)


def _only_type_failures_where_a_type_failed(cases: pd.DataFrame) -> pd.DataFrame:
    """Drop the failures that only repeat a type failure.

    A value that cannot be read as its column's type (text in a numeric column) leaves the column as text, and its
    other checks fail on valid rows (an `isin` of numbers fails for "3" as for "abc"), so such a column reports only
    its type and missing values. A missing integer fails coercion, the dtype and `not_nullable`: `not_nullable` says
    it best; a value not of the column's type fails coercion and the dtype: coercion says it.
    """
    check = cases["check"].astype(str)
    coercion, missing = check.str.startswith("coerce_dtype"), cases["failure_case"].isna()
    typed = set(cases.loc[coercion & ~missing, "column"])
    keep = ~(cases["column"].isin(typed) & ~coercion & check.ne("not_nullable"))
    cells = pd.Series(list(zip(cases["column"], cases["index"], strict=True)), index=cases.index)
    nulls = set(cells[check.eq("not_nullable")])
    keep &= ~(coercion & missing & cells.isin(nulls))
    keep &= ~(check.str.startswith("dtype(") & cells.isin(nulls | set(cells[coercion])))
    return cases[keep].reset_index(drop=True)


def validate_model_input(rows: pd.DataFrame, contract: str, columns: list[str]) -> pd.DataFrame:
    """The first step of every logged model: the raw contract, restricted to the model's input columns.

    The model signature checks column names and types at the HTTP server; this checks what the signature cannot:
    ranges, categories, nulls. A violation raises MLflow's invalid-parameter error, which the model server answers
    with 400 and this message.
    """
    try:
        return _model_input_schema(contract, tuple(columns)).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as error:
        from mlflow.exceptions import MlflowException

        cases = error.failure_cases.head(10)
        found = "; ".join(f"{c.column}: {c.check} (value {c.failure_case!r})" for c in cases.itertuples())
        raise MlflowException.invalid_parameter_value(f"input rows break the model's contract: {found}") from None


@cache
def _model_input_schema(contract: str, inputs: tuple[str, ...]) -> pa.DataFrameSchema:
    """The dataset's contract (`module:Class`) on the model's input columns only."""
    from mlops_assets.settings.paths import load_object

    columns = load_object(contract).to_schema().columns
    return pa.DataFrameSchema({name: columns[name] for name in inputs}, coerce=True, strict=False)
