"""The dataset-version sensor against a real Dagster instance: new folders become partitions and run requests.

`build_sensor_context` does not apply a tick's partition requests or asset events; `tick` below applies them to
the instance as the daemon does (partitions first), so that the next tick sees what the daemon would leave.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.defs.sensors import dataset_versions as sensors
from mlops_assets.defs.sensors.dataset_versions import dataset_version_sensor, scan_versions
from mlops_assets.demo.versions import land_version, monthly_snapshot
from mlops_assets.partitions import LANDING_PREFIX, version_key_problem
from mlops_assets.resources import MLflowTracking
from tests.conftest import write_version

PARTITIONS = "dataset_version"


@pytest.fixture(scope="module")
def mlflow_without_champion(tmp_path_factory) -> MLflowTracking:
    """An MLflow store with no model registered: the sensor asks it whether a champion exists.

    Shared by the module (a new store takes about a second to create); no test here writes to it.
    """
    state = tmp_path_factory.mktemp("mlflow_state")
    return MLflowTracking(state_dir=str(state), tracking_uri=f"sqlite:///{state / 'mlflow.db'}")


@pytest.fixture
def resources(settings, mlflow_without_champion) -> dict:
    return {"settings": settings, "mlflow_tracking": mlflow_without_champion}


def tick(
    instance: dg.DagsterInstance, resources: dict, cursor: str | None, log_handler: logging.Handler | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    if log_handler is not None:
        # The sensor's logger is not part of the logging tree, so pytest's caplog must be attached to it.
        context.log.addHandler(log_handler)
    result = dataset_version_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, dg.AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)
    return result


def added_keys(result: dg.SensorResult) -> list[str]:
    return [key for request in result.dynamic_partitions_requests for key in request.partition_keys]


def land(settings, bikeshare: pd.DataFrame, *keys: str) -> None:
    for key in keys:
        land_version(settings.versions_dir, key, monthly_snapshot(bikeshare, key))


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Refused dataset version folder")]


def test_new_versions_become_partitions_and_run_requests(instance, resources, settings, bikeshare):
    land(settings, bikeshare, "2011-01", "2011-02")

    first = tick(instance, resources, None)

    assert added_keys(first) == ["2011-01", "2011-02"]
    assert [r.partition_key for r in first.run_requests] == ["2011-01", "2011-02"]
    assert [r.run_key for r in first.run_requests] == ["ingest:2011-01", "ingest:2011-02"]
    for request in first.run_requests:
        assert request.asset_selection is None or dg.AssetKey("raw_dataset") in request.asset_selection
    assert first.skip_reason is None
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == ["2011-01", "2011-02"]

    second = tick(instance, resources, first.cursor)

    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert second.skip_reason is not None
    assert second.asset_events == []

    land(settings, bikeshare, "2011-03")
    third = tick(instance, resources, second.cursor)

    assert added_keys(third) == ["2011-03"]
    assert [r.run_key for r in third.run_requests] == ["ingest:2011-03"]
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == ["2011-01", "2011-02", "2011-03"]


def test_no_versions_folder_yet_is_a_skip(instance, resources, settings):
    assert not settings.versions_dir.exists()

    result = tick(instance, resources, None)

    assert result.run_requests == []
    assert result.skip_reason is not None
    assert instance.get_dynamic_partitions(PARTITIONS) == []


BAD_FOLDER_NAMES = ["bad name", ".hidden", "-dash", "x" * 65, "...", "..x", "caf\u00e9", "a..b"]


def test_bad_folder_names_are_refused_once_and_never_added(instance, resources, settings, bikeshare, caplog):
    caplog.set_level(logging.ERROR)
    rows = monthly_snapshot(bikeshare, "2011-01")
    for name in BAD_FOLDER_NAMES:
        write_version(settings.versions_dir, name, {"rentals.csv": rows})
    land(settings, bikeshare, "2011-01")
    assert sorted(os.listdir(settings.versions_dir)) == sorted([*BAD_FOLDER_NAMES, "2011-01"])

    first = tick(instance, resources, None, caplog.handler)

    assert added_keys(first) == ["2011-01"]
    assert [r.partition_key for r in first.run_requests] == ["2011-01"]
    assert instance.get_dynamic_partitions(PARTITIONS) == ["2011-01"]
    messages = refusals(caplog)
    assert len(messages) == len(BAD_FOLDER_NAMES)
    for name in BAD_FOLDER_NAMES:
        [message] = [m for m in messages if m.startswith(f"Refused dataset version folder {name!r}:")]
        assert version_key_problem(name) in message
    assert sorted(json.loads(first.cursor)["refused"]) == sorted(BAD_FOLDER_NAMES)

    caplog.clear()
    second = tick(instance, resources, first.cursor, caplog.handler)

    assert refusals(caplog) == [], "each refusal is reported once"
    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert instance.get_dynamic_partitions(PARTITIONS) == ["2011-01"]


def test_a_refused_folder_renamed_to_a_good_name_is_picked_up(instance, resources, settings, bikeshare):
    write_version(settings.versions_dir, "bad name", {"rentals.csv": monthly_snapshot(bikeshare, "2011-01")})
    first = tick(instance, resources, None)
    assert first.run_requests == []

    (settings.versions_dir / "bad name").rename(settings.versions_dir / "good-name")
    second = tick(instance, resources, first.cursor)

    assert added_keys(second) == ["good-name"]
    assert [r.run_key for r in second.run_requests] == ["ingest:good-name"]


def append_a_row(folder: Path) -> None:
    path = folder / "rentals.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[-1]]) + "\n")


def add_a_file(folder: Path) -> None:
    (folder / "more.csv").write_text((folder / "rentals.csv").read_text())


def remove_a_file(folder: Path) -> None:
    (folder / "rentals.csv").unlink()


def rewrite_same_size(folder: Path) -> None:
    path = folder / "rentals.csv"
    data = bytearray(path.read_bytes())
    data[-2] = ord("1") if data[-2] != ord("1") else ord("2")
    path.write_bytes(bytes(data))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize(
    "change",
    [append_a_row, add_a_file, remove_a_file, rewrite_same_size],
    ids=["append", "add-file", "remove-file", "rewrite-same-size"],
)
def test_a_version_changed_after_it_was_seen_is_reported_once_and_not_requested(
    instance, resources, settings, bikeshare, change
):
    land(settings, bikeshare, "2011-01")
    first = tick(instance, resources, None)
    assert added_keys(first) == ["2011-01"]

    change(settings.versions_dir / "2011-01")
    second = tick(instance, resources, first.cursor)

    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    [event] = second.asset_events
    assert isinstance(event, dg.AssetObservation)
    assert event.asset_key == dg.AssetKey("raw_dataset")
    assert event.partition == "2011-01"
    assert "changed" in event.metadata["error"].value
    # Applied as the daemon does, the observation is on the instance for the UI.
    observations = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_dataset"), asset_partitions=["2011-01"]), limit=5
    ).records
    assert len(observations) == 1

    third = tick(instance, resources, second.cursor)

    assert third.asset_events == []
    assert third.run_requests == []


def test_a_new_non_data_file_is_not_a_change(instance, resources, settings, bikeshare):
    land(settings, bikeshare, "2011-01")
    first = tick(instance, resources, None)
    (settings.versions_dir / "2011-01" / "README.md").write_text("notes")

    second = tick(instance, resources, first.cursor)

    assert second.asset_events == []
    assert second.run_requests == []


def test_a_lost_cursor_does_not_request_versions_that_are_already_partitions(instance, resources, settings, bikeshare):
    land(settings, bikeshare, "2011-01", "2011-02")
    first = tick(instance, resources, None)
    assert len(first.run_requests) == 2

    lost = tick(instance, resources, None)

    assert lost.run_requests == []
    assert lost.dynamic_partitions_requests == []
    assert sorted(json.loads(lost.cursor)["seen"]) == ["2011-01", "2011-02"]

    land(settings, bikeshare, "2011-03")
    after = tick(instance, resources, None)

    assert added_keys(after) == ["2011-03"]
    assert [r.run_key for r in after.run_requests] == ["ingest:2011-03"]


def test_in_progress_landing_folders_are_ignored(instance, resources, settings, bikeshare, caplog):
    caplog.set_level(logging.ERROR)
    staging = write_version(
        settings.versions_dir, f"{LANDING_PREFIX}2011-01-1234", {"rentals.csv": monthly_snapshot(bikeshare, "2011-01")}
    )

    first = tick(instance, resources, None, caplog.handler)

    assert first.run_requests == []
    assert instance.get_dynamic_partitions(PARTITIONS) == []
    assert refusals(caplog) == [], "a landing folder is not a refused version"
    assert json.loads(first.cursor)["seen"] == {}
    assert json.loads(first.cursor)["refused"] == []

    # Landing finishes with a rename: now it is a version.
    staging.rename(settings.versions_dir / "2011-01")
    second = tick(instance, resources, first.cursor)

    assert [r.partition_key for r in second.run_requests] == ["2011-01"]


def test_files_in_the_versions_folder_are_not_versions(instance, resources, settings, bikeshare):
    land(settings, bikeshare, "2011-01")
    (settings.versions_dir / "stray.csv").write_text("a,b\n1,2\n")

    result = tick(instance, resources, None)

    assert added_keys(result) == ["2011-01"]


def test_scan_versions_is_plain_and_remembers_what_it_reported(tmp_path, bikeshare):
    versions = tmp_path / "versions"
    land_version(versions, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    (versions / "-dash").mkdir()

    first = scan_versions(versions, {}, existing_partitions=lambda keys: set())
    second = scan_versions(versions, first.cursor, existing_partitions=lambda keys: {"2011-01"})

    assert first.new == ["2011-01"]
    assert first.refused == {"-dash": version_key_problem("-dash")}
    assert second.new == second.changed == []
    assert second.refused == {}
    assert second.cursor == first.cursor


def test_every_seen_version_is_checked_for_changes_in_turn(tmp_path, bikeshare, monkeypatch):
    """A tick re-fingerprints a bounded window of seen versions, so its work does not grow with what exists."""
    monkeypatch.setattr(sensors, "CHANGE_CHECKS_PER_TICK", 2)
    versions = tmp_path / "versions"
    keys = [f"2011-0{month}" for month in range(1, 6)]
    for key in keys:
        land_version(versions, key, monthly_snapshot(bikeshare, key))
    cursor = scan_versions(versions, {}).cursor
    assert sorted(cursor["seen"]) == keys
    append_a_row(versions / "2011-05")

    reported, ticks = [], 0
    while not reported:
        ticks += 1
        scan = scan_versions(versions, cursor)
        reported, cursor = scan.changed, scan.cursor

    assert reported == ["2011-05"]
    # Two per tick: the first scan's turn covered 2011-01 and -02, then -03 and -04, then -05.
    assert ticks == 2
    for _ in range(3):  # a whole round more: reported once only
        scan = scan_versions(versions, cursor)
        assert scan.changed == []
        cursor = scan.cursor


def test_an_unchanged_versions_folder_is_not_listed_again_and_a_landing_is_still_seen(tmp_path, bikeshare):
    versions = tmp_path / "versions"
    land_version(versions, "2011-01", monthly_snapshot(bikeshare, "2011-01"))
    old = time.time_ns() - 60 * 1_000_000_000
    os.utime(versions, ns=(old, old))  # landed a minute ago: the listing can be trusted
    first = scan_versions(versions, {})
    assert first.new == ["2011-01"]
    assert first.cursor["listed_mtime"] == old

    (versions / "not a key").mkdir()
    os.utime(versions, ns=(old, old))  # a folder whose mtime did not move is not listed again
    assert scan_versions(versions, first.cursor).refused == {}

    land_version(versions, "2011-02", monthly_snapshot(bikeshare, "2011-02"))  # landing moves the mtime
    second = scan_versions(versions, first.cursor)

    assert second.new == ["2011-02"]
    assert second.refused == {"not a key": version_key_problem("not a key")}
    assert second.cursor["listed_mtime"] is None, "a listing of a folder changed just now is not trusted"
