"""The opt-in fast path (stages/fast_validation.py) against plain Pandera, on every contract of the project.

The fast path returns rows that already have the contract's dtypes and pass every rule without asking Pandera;
anything else goes to Pandera. These tests pin, for each contract: it never accepts what Pandera rejects, it returns
what Pandera returns when it accepts, failures are Pandera's own reports, and if Pandera's private API it relies on
changes, validation falls back to plain Pandera.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets.components.project import project_models
from mlops_assets.stages import fast_validation as _fast_validation
from mlops_assets.stages.fast_validation import FastContract, validate_vectorised
from mlops_assets.stages.scoring import predictions_schema
from tests.conftest import DATASET
from tests.contract_cases import broken_versions

# Every model on the test dataset: each has its own Features and Predictions contracts.
MODELS = [model for model in project_models().values() if model.dataset.name == DATASET.name]
NAMES = ["RawData"] + [f"{model.name}:{contract}" for model in MODELS for contract in ("Features", "Predictions")]


@pytest.fixture(scope="module")
def contracts(source) -> dict[str, tuple[pa.DataFrameSchema, pd.DataFrame]]:
    """Every contract of the project (the dataset's, and each of its models') with valid rows for it."""
    raw = source.head(300).copy()
    found = {"RawData": (DATASET.raw_contract().to_schema(), raw)}
    for settings in MODELS:
        code = settings.feature_code()
        scored = raw[settings.row_key].assign(prediction=0.5)
        if settings.task == "classification":
            scored["predicted_positive"] = True
        scored = scored.assign(model_name="m", model_version="1")
        found[f"{settings.name}:Features"] = (code.Features.to_schema(), code.make_features(raw))
        found[f"{settings.name}:Predictions"] = (predictions_schema(settings), scored)
    return found


def pandera_verdict(schema: pa.DataFrameSchema, frame: pd.DataFrame):
    try:
        return schema.validate(frame.copy(), lazy=True), None
    except pa.errors.SchemaErrors as error:
        return None, error


@pytest.mark.parametrize("name", NAMES)
def test_valid_rows_take_the_fast_path_and_equal_what_pandera_returns(contracts, name):
    schema, rows = contracts[name]
    fast = validate_vectorised(schema, rows.copy())
    assert fast is not None
    pd.testing.assert_frame_equal(fast, pandera_verdict(schema, rows)[0])


@pytest.mark.parametrize("name", NAMES)
def test_the_fast_path_never_accepts_what_pandera_rejects(contracts, name):
    schema, rows = contracts[name]
    cases = broken_versions(schema, rows)
    assert len(cases) >= 5
    for case, frame in cases.items():
        accepted, _ = pandera_verdict(schema, frame)
        fast = validate_vectorised(schema, frame.copy())
        if accepted is None:
            assert fast is None, f"{name}: {case}"
        elif fast is not None:
            pd.testing.assert_frame_equal(fast, accepted, obj=f"{name}: {case}")


class FastRows(FastContract):
    """A small contract that opts in to the fast path."""

    key: pa.typing.Series[int] = pa.Field(ge=0)
    label: pa.typing.Series[str] = pa.Field(isin=["a", "b"])

    class Config:
        strict = True
        unique = ["key"]


ROWS = pd.DataFrame({"key": range(20), "label": ["a", "b"] * 10})


def test_a_fast_contract_reports_failures_exactly_as_pandera_does():
    plain = FastRows.to_schema()
    cases = {case: frame for case, frame in broken_versions(plain, ROWS).items() if case != "no rows"}  # allowed here
    for case, frame in cases.items():
        _, expected = pandera_verdict(plain, frame)
        assert expected is not None, case
        with pytest.raises(pa.errors.SchemaErrors) as raised:
            FastRows.validate(frame.copy(), lazy=True)
        pd.testing.assert_frame_equal(raised.value.failure_cases, expected.failure_cases, obj=case)


def test_a_fast_contract_falls_back_to_pandera_when_its_private_api_changes(monkeypatch):
    def changed_api(*args, **kwargs):
        raise AttributeError("'Check' object has no attribute '_check_fn'")  # as a later Pandera might

    monkeypatch.setattr(_fast_validation, "validate_vectorised", changed_api)
    pd.testing.assert_frame_equal(FastRows.validate(ROWS.copy(), lazy=True), FastRows.to_schema().validate(ROWS))
    with pytest.raises(pa.errors.SchemaErrors):
        FastRows.validate(ROWS.assign(label="c"), lazy=True)


def test_validate_copies_unless_inplace():
    frame = ROWS.copy()
    assert FastRows.validate(frame, lazy=True) is not frame
    assert FastRows.validate(frame, lazy=True, inplace=True) is frame


def test_coercible_rows_go_to_pandera_and_are_coerced(contracts):
    schema, rows = contracts["RawData"]
    first = rows.columns[0]
    text = rows.assign(**{first: rows[first].astype(str)})  # as CSV files quote some numbers
    assert validate_vectorised(schema, text) is None
    assert schema.validate(text)[first].dtype == rows[first].dtype
