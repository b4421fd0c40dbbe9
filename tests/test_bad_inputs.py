"""Bad input never gets past ingestion and never costs anything that worked before.

One champion is trained on a good version first. Then each malformed version goes through the same run the
dataset-version sensor would request (ingestion and training) and must: fail at raw_dataset with a message naming
the file, the column and the rule; materialize nothing for its partition; and leave the champion, the registry and
the good partition exactly as they were.
"""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.alerts import Notifier
from mlops_assets.config import ProjectSettings
from mlops_assets.definitions import build_definitions
from mlops_assets.defs.jobs import INGESTION_ASSETS, TRAINING_ASSETS
from mlops_assets.demo.versions import land_version, monthly_snapshot
from mlops_assets.resources import MLflowTracking
from mlops_assets.stages.registry import CHAMPION, current_champion
from tests.conftest import FAST_SEARCH, write_version

GOOD = "2011-02"
ASSETS = [key.to_user_string() for key in INGESTION_ASSETS + TRAINING_ASSETS]


@pytest.fixture(scope="module")
def world(tmp_path_factory, bikeshare):
    """A persistent instance and MLflow store with a champion trained on the good version."""
    root = tmp_path_factory.mktemp("bad_inputs")
    settings = ProjectSettings(
        data_dir=str(root / "data"),
        state_dir=str(root / "state"),
        search=FAST_SEARCH,
    )
    tracking = MLflowTracking(state_dir=settings.state_dir)
    defs = build_definitions(settings, tracking, Notifier())
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        land_version(settings.versions_dir, GOOD, monthly_snapshot(bikeshare, GOOD))
        instance.add_dynamic_partitions("dataset_version", [GOOD])
        result = run_version(defs, instance, GOOD)
        assert result.success
        champion = current_champion(tracking, settings.model_name)
        assert champion is not None
        yield {"settings": settings, "tracking": tracking, "defs": defs, "instance": instance, "rows": bikeshare}


def run_version(defs, instance, key):
    return defs.resolve_job_def("version_pipeline").execute_in_process(
        instance=instance,
        partition_key=key,
        asset_selection=INGESTION_ASSETS + TRAINING_ASSETS,
        raise_on_error=False,
    )


def snapshot(world) -> dict:
    """Everything a bad version must not change."""
    instance, settings, tracking = world["instance"], world["settings"], world["tracking"]
    client = tracking.client()
    materializations = {
        asset: [
            record.storage_id
            for record in instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[GOOD]), limit=10
            ).records
        ]
        for asset in ASSETS
    }
    stored = {
        path.relative_to(settings.state_dir).as_posix(): path.read_bytes()
        for path in Path(settings.state_dir, "assets").rglob("*")
        if path.is_file()
    }
    return {
        "champion": client.get_model_version_by_alias(settings.model_name, CHAMPION).version,
        "versions": sorted(v.version for v in client.search_model_versions(f"name = '{settings.model_name}'")),
        "materializations": materializations,
        "stored": stored,
        "predictions": (settings.predictions_dir / f"{GOOD}.parquet").read_bytes(),
    }


def rows(world, n=200) -> pd.DataFrame:
    return monthly_snapshot(world["rows"], "2011-01").head(n).copy()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def case_renamed_column(world):
    return {"rentals.csv": rows(world).rename(columns={"temp": "temperature"})}, (
        "rentals.csv",
        "temp",
        "column_in_dataframe",
    )


def case_unparseable_number(world):
    frame = rows(world).astype({"temp": object})
    frame.loc[5, "temp"] = "0,5"
    return {"rentals.csv": frame}, ("rentals.csv", "temp", "float64")


def case_truncated_file(world):
    text = csv_bytes(rows(world))
    return {"rentals.csv": text[: len(text) // 2]}, ("rentals.csv", "not_nullable", "row ")


def case_mixed_files_disagree(world):
    frame = rows(world, 400)
    parquet = frame.iloc[200:].astype({"hr": str})  # the Parquet file says hr is text
    parquet["hr"] = "h" + parquet["hr"]
    return {"a.csv": frame.iloc[:200], "b.parquet": parquet}, ("b.parquet", "hr", "int64")


def case_infinity(world):
    frame = rows(world)
    frame.loc[3, "windspeed"] = np.inf
    return {"rentals.csv": frame}, ("rentals.csv", "windspeed", "less_than_or_equal_to")


def case_huge_count(world):
    frame = rows(world)
    frame.loc[7, ["registered", "bikers"]] = [10**12, 10**12 + frame.loc[7, "casual"]]
    return {"rentals.csv": frame}, ("rentals.csv", "registered", "less_than_or_equal_to")


def case_target_leak_column(world):
    frame = rows(world)
    frame["bikers_tomorrow"] = frame["bikers"]
    return {"rentals.csv": frame}, ("rentals.csv", "bikers_tomorrow", "column_in_schema")


def case_empty_file(world):
    return {"rentals.csv": b""}, ("rentals.csv", "(file)", "not empty")


def case_header_only(world):
    return {"rentals.csv": csv_bytes(rows(world).head(0))}, ("rentals.csv", "", "at least one row")


def case_non_utf8(world):
    return {"rentals.csv": csv_bytes(rows(world)).replace(b"clear", b"cl\xe9ar", 1)}, ("rentals.csv", "(file)", "UTF-8")


def case_no_data_files(world):
    return {"notes.txt": b"nothing here"}, ("(none)", "(file)", "has data files")


CASES = {
    name.removeprefix("case_"): case for name, case in globals().items() if name.startswith("case_") and callable(case)
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_version_fails_clearly_and_loses_nothing(world, name):
    files, (file, column, rule) = CASES[name](world)
    key = f"bad-{name.replace('_', '-')}"
    before = snapshot(world)
    write_version(world["settings"].versions_dir, key, files)
    world["instance"].add_dynamic_partitions("dataset_version", [key])

    result = run_version(world["defs"], world["instance"], key)

    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["raw_dataset"]
    message = failures[0].event_specific_data.error.message
    for expected in (file, column, rule):
        assert expected in message, f"{expected!r} not in the failure message: {message}"
    for asset in ASSETS:
        assert (
            not world["instance"]
            .fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
            )
            .records
        ), f"{asset} was materialized for the bad version {key}"
    assert snapshot(world) == before
