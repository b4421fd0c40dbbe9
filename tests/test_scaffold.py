"""The scaffold (mlops_assets/commands/scaffold.py): a first contract and feature code inferred from a data file.

The generated modules are imported and used as the pipeline uses them: the contract validates the file it was
inferred from and refuses what it never saw, the features satisfy the `Features` contract.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_assets.commands import scaffold


def _load(package: Path, name: str):
    """Import `package/<name>.py` (name: defs/cells/contract) as a module of `package` (the contract imports
    <package>.stages.validation)."""
    dotted = ".".join([package.name, *name.split("/")])
    spec = importlib.util.spec_from_file_location(dotted, package / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


CONTRACT, FEATURES = "defs/cells/contract", "defs/cell_class/features"


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """A package folder `scaffolded` whose contracts and features are generated from a small CSV file."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Mean Radius": rng.uniform(5, 30, 60).round(3),
            "class": rng.choice(["malignant", "benign"], 60),
            "colour": rng.choice(["red", "green"], 60),
            "count": rng.integers(0, 10, 60),
            "flag": rng.integers(0, 2, 60),
            "comment": [f"note {i}" for i in range(60)],  # too many values to be a category
            "2nd": rng.normal(size=60),
        }
    )
    frame.loc[5, "Mean Radius"] = np.nan
    source = tmp_path / "cells.csv"
    frame.to_csv(source, index=False)
    package = tmp_path / "scaffolded"
    package.mkdir()
    # The contract imports `<package>.stages.validation`: give the package the template's stages.
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    written = scaffold.write(
        source, package, "cells", "cell_class", target="class", row_key=[scaffold.GENERATED_ROW_KEY]
    )
    stages = Path(scaffold.__file__).parents[1] / "stages"
    (package / "stages").symlink_to(stages, target_is_directory=True)
    yield source, package, written
    for name in [m for m in sys.modules if m.startswith("scaffolded")]:
        del sys.modules[name]


def test_identifiers_are_python_names_and_unique():
    taken: set[str] = set()
    assert scaffold.identifier("Mean Radius", taken) == "mean_radius"
    assert scaffold.identifier("mean-radius", taken) == "mean_radius_2"
    assert scaffold.identifier("2nd", taken) == "c_2nd"
    assert scaffold.identifier("class", taken) == "c_class"
    assert scaffold.identifier("%", taken) == "column"


def test_the_inferred_contract_validates_its_own_file_and_refuses_what_it_never_saw(generated):
    source, package, written = generated
    assert [str(p.relative_to(package)) for p in written] == ["defs/cells/contract.py", "defs/cell_class/features.py"]
    contracts = _load(package, CONTRACT)
    rows = pd.read_csv(source)
    rows.insert(0, "row_id", range(len(rows)))  # as landing.read_source adds the generated row key
    valid = contracts.RawData.validate(rows, lazy=True)
    schema = contracts.RawData.to_schema()
    assert schema.columns["Mean Radius"].nullable and not schema.columns["count"].nullable
    assert schema.unique == ["row_id"]
    bad = rows.assign(**{"class": rows["class"].where(rows.index != 3, "unknown")})
    with pytest.raises(pa.errors.SchemaErrors) as refused:
        contracts.RawData.validate(bad, lazy=True)
    assert "isin" in str(refused.value.failure_cases["check"].tolist())
    with pytest.raises(pa.errors.SchemaErrors, match="at least one row"):
        contracts.RawData.validate(rows.iloc[:0], lazy=True)
    with pytest.raises(pa.errors.SchemaErrors):
        contracts.RawData.validate(rows.drop(columns=["colour"]), lazy=True)  # strict: a missing column
    assert len(valid) == len(rows)


def test_the_generated_features_are_numeric_inputs_and_one_hot_categories(generated):
    source, package, _ = generated
    contracts, features = _load(package, CONTRACT), _load(package, FEATURES)
    rows = contracts.RawData.validate(pd.read_csv(source).assign(row_id=range(60)), lazy=True)
    # Never the target or the row key; text with too many values is left out (and said so in features.py).
    assert features.MODEL_INPUT_COLUMNS == ["Mean Radius", "count", "flag", "2nd", "colour"]
    assert "comment" in (package / f"{FEATURES}.py").read_text()
    made = features.make_features(rows)
    features.Features.validate(made, lazy=True)
    assert list(made.columns) == features.FEATURE_COLUMNS
    assert made[["colour_green", "colour_red"]].sum(axis=1).eq(1).all()
    assert made["mean_radius"].isna().sum() == 1
    assert not hasattr(contracts, "row_time")  # no time column: the dataset has no row_time, models split by hash


def test_a_time_column_orders_rows_and_a_missing_column_is_refused(tmp_path):
    frame = pd.DataFrame({"when": ["2024-01-02", "2024-01-01", "2024-01-03"], "id": [1, 2, 3], "y": [1.0, 2, 3]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    package = tmp_path / "timed"
    package.mkdir()
    scaffold.write(tmp_path / "t.csv", package, "timed", "y_model", target="y", row_key=["id"], time_column="when")
    contract = (package / "defs" / "timed" / "contract.py").read_text()
    assert 'pd.to_datetime(raw["when"])' in contract and "def row_time" in contract
    features = (package / "defs" / "y_model" / "features.py").read_text()
    namespace: dict = {}
    exec(compile(features, "features.py", "exec"), namespace)
    assert namespace["MODEL_INPUT_COLUMNS"] == []  # the key, the time and the target are not inputs
    start = contract.index("def row_time")
    exec(compile("import pandas as pd\n" + contract[start:], "contract.py", "exec"), namespace)
    assert list(namespace["row_time"](frame).argsort()) == [1, 0, 2]
    with pytest.raises(ValueError, match="no column 'label'"):
        scaffold.write(tmp_path / "t.csv", package, "timed", "y_model", target="label", row_key=["id"])
