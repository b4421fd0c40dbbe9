"""The dataset-version sensor against a real Dagster instance: new folders become partitions and run requests.

Versions are the configured data set's (its source cut into versions: `keys[0]` is the first); what a file holds
does not matter to the sensor, only that it changes.

A model added to a dataset that already has versions is adopted: one training run for the newest ingested version.

`build_sensor_context` does not apply a tick's partition requests or asset events; `tick` below applies them to
the instance as the daemon does (partitions first), so that the next tick sees what the daemon would leave.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.landing import land_version
from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.infra.sources import scanning
from mlops_assets.infra.sources.files import FileSource
from mlops_assets.infra.sources.scanning import scan_versions
from mlops_assets.infra.version_keys import LANDED_MANIFEST, LANDING_PREFIX, version_key_problem
from mlops_assets.stages.registry import current_champion
from mlops_assets.wiring.assets.ingestion import raw_dataset_asset
from mlops_assets.wiring.checks import VERSION_UNCHANGED
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from mlops_assets.wiring.records import latest_metadata, latest_record
from mlops_assets.wiring.resources import MLflowTracking
from mlops_assets.wiring.sensor_driver import SensorDriver, run_until_quiet
from mlops_assets.wiring.sensors.dataset_versions import dataset_version_sensor
from tests.conftest import DATASET, check_evaluations, land, make_project, settle, write_version

PARTITIONS = DATASET.partitions_name
CONTRACT = DATASET.contract
FILE = "rows.csv"  # the file name landing.land_version gives a version


@pytest.fixture(scope="module")
def mlflow_without_champion(tmp_path_factory) -> MLflowTracking:
    """An MLflow store with no model registered: the sensor asks it whether a champion exists.

    Shared by the module (a new store takes about a second to create); no test here writes to it.
    """
    state = tmp_path_factory.mktemp("mlflow_state")
    return MLflowTracking(state_dir=str(state), tracking_uri=f"sqlite:///{state / 'mlflow.db'}")


@dataclass
class Sensor:
    """The dataset's version sensor for some models, with the resources it runs with."""

    definition: dg.SensorDefinition
    resources: dict


def version_sensor(models, mlflow_tracking: MLflowTracking) -> Sensor:
    """The version sensor of the models' dataset (the first model's), serving `models`."""
    return Sensor(dataset_version_sensor(models[0].dataset, models), {"mlflow_tracking": mlflow_tracking})


@pytest.fixture
def sensor(settings, mlflow_without_champion) -> Sensor:
    """The version sensor of the test model's dataset (its folders under tmp_path), serving the test model."""
    return version_sensor([settings], mlflow_without_champion)


def tick(
    instance: dg.DagsterInstance, sensor: Sensor, cursor: str | None, log_handler: logging.Handler | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=sensor.resources)
    if log_handler is not None:
        # The sensor's logger is not part of the logging tree, so pytest's caplog must be attached to it.
        context.log.addHandler(log_handler)
    result = sensor.definition(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, dg.AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)
    return result


@pytest.fixture
def one(keys) -> str:
    """The first version of the configured cut (then `two` and `three`)."""
    return keys[0]


@pytest.fixture
def two(keys) -> str:
    return keys[1]


@pytest.fixture
def three(keys) -> str:
    return keys[2]


def added_keys(result: dg.SensorResult) -> list[str]:
    return [key for request in result.dynamic_partitions_requests for key in request.partition_keys]


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Refused dataset version")]


def ingest(instance, settings, key: str) -> dg.ExecuteInProcessResult:
    """Materialize raw_dataset for `key` for real (the instance then records its data_version), as a run would."""
    resources = {"notifier": Notifier()}  # the failure hook's (every pipeline asset alerts a failed step)
    return dg.materialize(
        [raw_dataset_asset(settings.dataset)],
        partition_key=key,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def test_new_versions_become_partitions_and_run_requests(instance, sensor, settings, versions, one, two, three):
    land(settings, versions, one, two)

    first = tick(instance, sensor, None)

    assert added_keys(first) == [one, two]
    assert [r.partition_key for r in first.run_requests] == [one, two]
    assert [r.run_key for r in first.run_requests] == [f"ingest:{one}", f"ingest:{two}"]
    for request in first.run_requests:
        assert request.asset_selection is None or settings.raw_key in request.asset_selection
    assert first.skip_reason is None
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == [one, two]

    second = tick(instance, sensor, first.cursor)

    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert second.skip_reason is not None
    assert second.asset_events == []

    land(settings, versions, three)
    third = tick(instance, sensor, second.cursor)

    assert added_keys(third) == [three]
    assert [r.run_key for r in third.run_requests] == [f"ingest:{three}"]
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == [one, two, three]


def test_no_versions_folder_yet_is_a_skip(instance, sensor, settings):
    assert not settings.versions_dir.exists()

    result = tick(instance, sensor, None)

    assert result.run_requests == []
    assert result.skip_reason is not None
    assert instance.get_dynamic_partitions(PARTITIONS) == []


BAD_FOLDER_NAMES = ["bad name", ".hidden", "-dash", "x" * 65, "...", "..x", "caf\u00e9", "a..b"]


def test_bad_folder_names_are_refused_once_and_never_added(instance, sensor, settings, versions, one, caplog):
    caplog.set_level(logging.ERROR)
    rows = versions[one]
    for name in BAD_FOLDER_NAMES:
        write_version(settings.versions_dir, name, {FILE: rows})
    land(settings, versions, one)
    assert sorted(os.listdir(settings.versions_dir)) == sorted([*BAD_FOLDER_NAMES, one])

    first = tick(instance, sensor, None, caplog.handler)

    assert added_keys(first) == [one]
    assert [r.partition_key for r in first.run_requests] == [one]
    assert instance.get_dynamic_partitions(PARTITIONS) == [one]
    messages = refusals(caplog)
    assert len(messages) == len(BAD_FOLDER_NAMES)
    for name in BAD_FOLDER_NAMES:
        [message] = [m for m in messages if m.startswith(f"Refused dataset version {name!r}:")]
        assert version_key_problem(name) in message
    assert sorted(json.loads(first.cursor)["refused"]) == sorted(BAD_FOLDER_NAMES)

    caplog.clear()
    second = tick(instance, sensor, first.cursor, caplog.handler)

    assert refusals(caplog) == [], "each refusal is reported once"
    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []
    assert instance.get_dynamic_partitions(PARTITIONS) == [one]


def test_a_refused_folder_renamed_to_a_good_name_is_picked_up(instance, sensor, settings, versions, one):
    settle(write_version(settings.versions_dir, "bad name", {FILE: versions[one]}))
    first = tick(instance, sensor, None)
    assert first.run_requests == []

    (settings.versions_dir / "bad name").rename(settings.versions_dir / "good-name")
    second = tick(instance, sensor, first.cursor)

    assert added_keys(second) == ["good-name"]
    assert [r.run_key for r in second.run_requests] == ["ingest:good-name"]


def append_a_row(folder: Path) -> None:
    path = folder / FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[-1]]) + "\n")


def add_a_file(folder: Path) -> None:
    (folder / "more.csv").write_text((folder / FILE).read_text())


def remove_a_file(folder: Path) -> None:
    (folder / FILE).unlink()


def rewrite_same_size(folder: Path) -> None:
    path = folder / FILE
    data = bytearray(path.read_bytes())
    data[-2] = ord("1") if data[-2] != ord("1") else ord("2")
    path.write_bytes(bytes(data))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


CHANGES = [append_a_row, add_a_file, remove_a_file, rewrite_same_size]
CHANGE_IDS = ["append", "add-file", "remove-file", "rewrite-same-size"]
# What the message of each change says about the files (the files source tells them apart by their own hashes).
CHANGED_FILES = [f"({FILE} changed)", "(more.csv added)", f"({FILE} removed)", f"({FILE} changed)"]


@pytest.mark.parametrize(("change", "files"), list(zip(CHANGES, CHANGED_FILES, strict=True)), ids=CHANGE_IDS)
def test_an_ingested_version_that_changes_is_verified_by_one_failing_run(
    instance, sensor, settings, versions, one, change, files, caplog
):
    caplog.set_level(logging.ERROR)
    land(settings, versions, one)
    first = tick(instance, sensor, None)
    assert added_keys(first) == [one]
    assert ingest(instance, settings, one).success
    [passed] = check_evaluations(instance, VERSION_UNCHANGED, one)
    assert passed.passed, "raw_dataset passes the check when it ingests"

    change(settings.versions_dir / one)
    second = tick(instance, sensor, first.cursor, caplog.handler)

    assert second.dynamic_partitions_requests == []
    [request] = second.run_requests
    assert request.partition_key == one
    assert request.run_key.startswith(f"verify:{one}:")
    assert request.asset_selection == [settings.raw_key]
    # The requested run refuses the changed version: a failed run and a failed check for this partition in the UI.
    verified = ingest(instance, settings, one)
    assert not verified.success
    latest = check_evaluations(instance, VERSION_UNCHANGED, one)[0]
    assert latest.passed is False
    assert f"changed after it was ingested {files}" in latest.description
    assert "land the changed data as a new version" in latest.description
    assert [m for m in caplog.messages if "changed after it was ingested" in m] == [latest.description]

    third = tick(instance, sensor, second.cursor)

    assert third.run_requests == [], "requested once per content"


@pytest.mark.parametrize("change", CHANGES, ids=CHANGE_IDS)
def test_a_version_that_never_ingested_is_requested_again_once_its_change_settles(
    instance, sensor, settings, versions, one, change
):
    land(settings, versions, one)
    first = tick(instance, sensor, None)  # requested, but its run has not ingested it (or failed)
    folder = settings.versions_dir / one
    (folder / LANDED_MANIFEST).unlink()  # fixed in place by hand: no manifest, so the quiet period applies

    change(folder)
    waiting = tick(instance, sensor, first.cursor)

    assert waiting.run_requests == [] and waiting.asset_events == []
    assert f"waiting for {one} to settle" in waiting.skip_reason.skip_message

    settle(folder)
    retried = tick(instance, sensor, waiting.cursor)

    [request] = retried.run_requests
    assert request.partition_key == one
    assert request.run_key.startswith(f"ingest:{one}:") and request.run_key != f"ingest:{one}"
    assert retried.dynamic_partitions_requests == [], "it is a partition already"
    assert tick(instance, sensor, retried.cursor).run_requests == []


def test_an_edit_that_keeps_size_and_time_is_found_by_the_content_hash(instance, sensor, settings, versions, one):
    land(settings, versions, one)
    first = tick(instance, sensor, None)
    assert ingest(instance, settings, one).success
    path = settings.versions_dir / one / FILE
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-2] = ord("1") if data[-2] != ord("1") else ord("2")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    source = FileSource(settings.versions_dir, CONTRACT)
    assert source.fingerprint(one).identity == first_identity(first, one), "stat-equal"

    second = tick(instance, sensor, first.cursor)

    [request] = second.run_requests
    assert request.run_key.startswith(f"verify:{one}:")


def first_identity(result: dg.SensorResult, key: str) -> str:
    return json.loads(result.cursor)["seen"][key]


def test_a_touch_that_keeps_the_content_is_not_a_change_and_a_restore_passes_again(
    instance, sensor, settings, versions, one
):
    land(settings, versions, one)
    cursor = tick(instance, sensor, None).cursor
    assert ingest(instance, settings, one).success
    path = settings.versions_dir / one / FILE
    original = path.read_bytes()

    os.utime(path)  # touched: the stat moved, the content did not
    touched = tick(instance, sensor, cursor)
    assert touched.run_requests == []

    append_a_row(path.parent)
    changed = tick(instance, sensor, touched.cursor)
    assert [r.run_key[: len(f"verify:{one}:")] for r in changed.run_requests] == [f"verify:{one}:"]
    assert not ingest(instance, settings, one).success

    path.write_bytes(original)
    restored = tick(instance, sensor, changed.cursor)
    [request] = restored.run_requests
    assert request.run_key != changed.run_requests[0].run_key
    assert ingest(instance, settings, one).success
    assert check_evaluations(instance, VERSION_UNCHANGED, one)[0].passed is True


def test_a_new_non_data_file_is_not_a_change(instance, sensor, settings, versions, one):
    land(settings, versions, one)
    first = tick(instance, sensor, None)
    (settings.versions_dir / one / "README.md").write_text("notes")

    second = tick(instance, sensor, first.cursor)

    assert second.asset_events == []
    assert second.run_requests == []


def test_a_lost_cursor_does_not_request_versions_that_are_already_partitions(
    instance, sensor, settings, versions, one, two, three
):
    land(settings, versions, one, two)
    first = tick(instance, sensor, None)
    assert len(first.run_requests) == 2

    lost = tick(instance, sensor, None)

    assert lost.run_requests == []
    assert lost.dynamic_partitions_requests == []
    assert sorted(json.loads(lost.cursor)["seen"]) == [one, two]

    land(settings, versions, three)
    after = tick(instance, sensor, None)

    assert added_keys(after) == [three]
    assert [r.run_key for r in after.run_requests] == [f"ingest:{three}"]


def test_in_progress_landing_folders_are_ignored(instance, sensor, settings, versions, one, caplog):
    caplog.set_level(logging.ERROR)
    staging = write_version(settings.versions_dir, f"{LANDING_PREFIX}{one}-1234", {FILE: versions[one]})

    first = tick(instance, sensor, None, caplog.handler)

    assert first.run_requests == []
    assert instance.get_dynamic_partitions(PARTITIONS) == []
    assert refusals(caplog) == [], "a landing folder is not a refused version"
    assert json.loads(first.cursor)["seen"] == {}
    assert json.loads(first.cursor)["refused"] == []

    # Landing finishes with a rename: now it is a version (written a while ago: settled).
    settle(staging).rename(settings.versions_dir / one)
    second = tick(instance, sensor, first.cursor)

    assert [r.partition_key for r in second.run_requests] == [one]


def test_files_in_the_versions_folder_are_not_versions(instance, sensor, settings, versions, one):
    land(settings, versions, one)
    (settings.versions_dir / "stray.csv").write_text("a,b\n1,2\n")

    result = tick(instance, sensor, None)

    assert added_keys(result) == [one]


def test_scan_versions_is_plain_and_remembers_what_it_reported(tmp_path, versions, one):
    root = tmp_path / "versions"
    land_version(root, one, versions[one])
    (root / "-dash").mkdir()

    first = scan_versions(FileSource(root, CONTRACT), {}, existing_partitions=lambda keys: set())
    second = scan_versions(FileSource(root, CONTRACT), first.cursor, existing_partitions=lambda keys: {one})

    assert first.new == [one]
    assert first.refused == {"-dash": version_key_problem("-dash")}
    assert second.new == [] and second.changed == {}
    assert second.refused == {}
    assert second.cursor == first.cursor


def test_every_seen_version_is_checked_for_changes_in_turn(tmp_path, versions, keys, monkeypatch):
    """A tick re-fingerprints a bounded window of seen versions, so its work does not grow with what exists."""
    monkeypatch.setattr(scanning, "CHANGE_CHECKS_PER_TICK", 2)
    monkeypatch.setattr(scanning, "HASH_CHECKS_PER_TICK", 0)
    root = tmp_path / "versions"
    rows = [versions[key] for key in keys]
    keys = [f"k{number}" for number in range(1, 6)]
    for number, key in enumerate(keys):
        land_version(root, key, rows[number % len(rows)])
    source = FileSource(root, CONTRACT)
    ingested = {key: source.content_hash(key) for key in keys}  # what the instance would have recorded
    cursor = scan_versions(source, {}, existing_partitions=set).cursor
    assert sorted(cursor["seen"]) == keys
    append_a_row(root / "k5")

    reported, ticks = {}, 0
    while not reported:
        ticks += 1
        scan = scan_versions(source, cursor, recorded_hash=ingested.get)
        reported, cursor = scan.changed, scan.cursor

    assert list(reported) == ["k5"]
    # Two per tick: the first scan's turn covered k1 and k2, then k3 and k4, then k5.
    assert ticks == 2
    for _ in range(3):  # a whole round more: reported once only
        scan = scan_versions(source, cursor, recorded_hash=ingested.get)
        assert scan.changed == {}
        cursor = scan.cursor


def test_content_hashes_rotate_within_their_own_bound(tmp_path, versions, one, monkeypatch):
    monkeypatch.setattr(scanning, "HASH_CHECKS_PER_TICK", 1)
    root = tmp_path / "versions"
    keys = ["a", "b", "c"]
    for key in keys:
        land_version(root, key, versions[one])
    source = FileSource(root, CONTRACT)
    hashed = []
    counting = type("Counting", (), {"__getattr__": lambda self, name: getattr(source, name)})()
    counting.content_hash = lambda key: hashed.append(key) or source.content_hash(key)
    cursor = scan_versions(source, {}, existing_partitions=set).cursor

    for _ in range(4):
        cursor = scan_versions(counting, cursor, recorded_hash=lambda key: "recorded").cursor

    assert len(hashed) == 4, "one version per tick"
    assert sorted(hashed[:3]) == keys, "each in turn"


def test_an_unchanged_versions_folder_is_not_listed_again_and_a_landing_is_still_seen(tmp_path, versions, one, two):
    root = tmp_path / "versions"
    land_version(root, one, versions[one])
    old = time.time() - 60
    os.utime(root, (old, old))  # landed a minute ago: the listing can be trusted
    source = FileSource(root, CONTRACT)
    first = scan_versions(source, {})
    assert first.new == [one]
    assert first.cursor["listed_mtime"] == pytest.approx(old)

    (root / "not a key").mkdir()
    os.utime(root, (old, old))  # a folder whose mtime did not move is not listed again
    assert scan_versions(source, first.cursor).refused == {}

    land_version(root, two, versions[two])  # landing moves the mtime
    second = scan_versions(source, first.cursor)

    assert second.new == [two]
    assert second.refused == {"not a key": version_key_problem("not a key")}
    assert second.cursor["listed_mtime"] is None, "a listing of a folder changed just now is not trusted"


# --- settled versions only -------------------------------------------------------------------------------------


def test_a_folder_still_being_copied_waits_for_the_quiet_period(instance, sensor, settings, versions, two):
    rows = versions[two]
    folder = settings.versions_dir / two
    folder.mkdir(parents=True)
    half = rows.to_csv(index=False)
    (folder / FILE).write_text(half[: len(half) // 2])  # a copy in progress

    first = tick(instance, sensor, None)

    assert first.run_requests == [] and instance.get_dynamic_partitions(PARTITIONS) == []
    assert f"waiting for {two} to settle (quiet period 30 s)" in first.skip_reason.skip_message

    (folder / FILE).write_text(half)  # the copy finishes ...
    assert tick(instance, sensor, first.cursor).run_requests == [], "... and was modified just now"
    settle(folder, seconds_ago=31)  # ... 31 s ago: settled
    done = tick(instance, sensor, first.cursor)

    assert [r.run_key for r in done.run_requests] == [f"ingest:{two}"]
    assert added_keys(done) == [two]


def test_a_manifest_settles_a_version_at_once_only_when_it_matches(instance, sensor, settings, versions, one):
    land(settings, versions, one)  # landing.py: data files, then the manifest, then the rename
    copied = settings.versions_dir / "copied"
    copied.mkdir()
    (copied / LANDED_MANIFEST).write_bytes((settings.versions_dir / one / LANDED_MANIFEST).read_bytes())
    (copied / FILE).write_bytes((settings.versions_dir / one / FILE).read_bytes()[:100])

    first = tick(instance, sensor, None)

    assert [r.partition_key for r in first.run_requests] == [one], "a manifest with other sizes: still copying"
    assert json.loads(first.cursor)["settling"] == {"copied": "new"}


def test_a_version_folder_that_is_a_symbolic_link_is_refused_and_never_read(
    instance, sensor, settings, versions, one, caplog, tmp_path
):
    caplog.set_level(logging.ERROR)
    elsewhere = settle(write_version(tmp_path / "elsewhere", "x", {FILE: versions[one]}))
    settings.versions_dir.mkdir(parents=True)
    (settings.versions_dir / "linked").symlink_to(elsewhere, target_is_directory=True)

    result = tick(instance, sensor, None, caplog.handler)

    assert result.run_requests == [] and instance.get_dynamic_partitions(PARTITIONS) == []
    [message] = refusals(caplog)
    assert message.startswith("Refused dataset version 'linked': it is a symbolic link")


def test_a_linked_version_folder_replaced_by_a_real_one_is_picked_up(
    instance, sensor, settings, versions, one, tmp_path
):
    rows = {FILE: versions[one]}
    elsewhere = settle(write_version(tmp_path / "elsewhere", "x", rows))
    settings.versions_dir.mkdir(parents=True)
    (settings.versions_dir / one).symlink_to(elsewhere, target_is_directory=True)
    first = tick(instance, sensor, None)
    assert first.run_requests == []

    (settings.versions_dir / one).unlink()
    settle(write_version(settings.versions_dir, one, rows))
    second = tick(instance, sensor, first.cursor)

    assert [r.run_key for r in second.run_requests] == [f"ingest:{one}"]
    assert json.loads(second.cursor)["refused"] == []


# --- a model added to a dataset that already has versions ----------------------------------------------------------


def added_later(settings):
    """Another model on the same dataset (a copy of the test model under another name), added after the first."""
    return settings.model_copy(update={"name": f"{settings.name}_added", "registered_model": None})


def test_a_model_added_later_trains_once_on_the_newest_ingested_version(
    instance, sensor, settings, mlflow_without_champion, versions, one, two, three
):
    land(settings, versions, one, two, three)
    first = tick(instance, sensor, None)
    assert [r.partition_key for r in first.run_requests] == [one, two, three]
    for key in (two, one):  # ingested out of order; three's run has not ingested it (or failed)
        assert ingest(instance, settings, key).success
    later = added_later(settings)
    both = version_sensor([settings, later], mlflow_without_champion)

    adopted = tick(instance, both, first.cursor)

    [request] = adopted.run_requests
    assert request.partition_key == two, "the newest version that was ingested"
    assert request.run_key == f"adopt:{later.name}:{two}"
    assert request.asset_selection == ingestion_selection(later) + training_selection(later)
    assert adopted.dynamic_partitions_requests == []
    assert json.loads(adopted.cursor)["models"] == [settings.name, later.name]

    assert tick(instance, both, adopted.cursor).run_requests == [], "adopted once"
    assert tick(instance, both, None).run_requests == [], "a lost cursor counts every model as served"


def test_a_model_on_the_sensor_from_its_first_tick_is_not_adopted(
    instance, settings, mlflow_without_champion, versions, one
):
    land(settings, versions, one)
    both = version_sensor([settings, added_later(settings)], mlflow_without_champion)
    first = tick(instance, both, None)
    assert ingest(instance, settings, one).success

    assert [r.run_key for r in first.run_requests] == [f"ingest:{one}"]
    assert tick(instance, both, first.cursor).run_requests == []


def test_a_model_added_while_the_first_version_is_not_ingested_yet_is_adopted_once_it_is(
    instance, sensor, settings, mlflow_without_champion, versions, one
):
    land(settings, versions, one)
    first = tick(instance, sensor, None)  # one's run is requested: still queued, or running
    later = added_later(settings)
    both = version_sensor([settings, later], mlflow_without_champion)

    waiting = tick(instance, both, first.cursor)

    assert waiting.run_requests == [], "nothing ingested to train on yet"
    assert ingest(instance, settings, one).success  # the run requested before the model was added
    adopted = tick(instance, both, waiting.cursor)

    assert [r.run_key for r in adopted.run_requests] == [f"adopt:{later.name}:{one}"]
    assert tick(instance, both, adopted.cursor).run_requests == []


def test_a_model_added_with_a_new_version_trains_in_that_version_s_run(
    instance, sensor, settings, mlflow_without_champion, versions, one
):
    first = tick(instance, sensor, None)  # no version yet
    later = added_later(settings)
    both = version_sensor([settings, later], mlflow_without_champion)
    land(settings, versions, one)

    second = tick(instance, both, first.cursor)

    [request] = second.run_requests
    assert request.run_key == f"ingest:{one}"
    assert set(training_selection(later)) <= set(request.asset_selection), "no champion yet: it trains"
    assert ingest(instance, settings, one).success
    assert tick(instance, both, second.cursor).run_requests == [], "not adopted again"


def test_the_sensor_trains_a_model_added_later_on_the_newest_version_once(tmp_path, instance, versions, one, two):
    """The real runs (the main job's SensorDriver): the added model gets one training run, for the newest version."""
    project = make_project(tmp_path)
    settings, later = project.settings, added_later(project.settings)
    sensors = [f"{DATASET.name}_version_sensor"]

    def driver(models) -> SensorDriver:  # one cursor file: the same sensor before and after the model was added
        defs = build_definitions(models=models, mlflow_tracking=project.tracking, notifier=Notifier())
        return SensorDriver(defs, instance, tmp_path / "cursors.json")

    land(settings, versions, one, two)
    first = run_until_quiet(driver([settings]), sensors)
    assert [(o["run_key"], o["status"]) for o in first] == [(f"ingest:{one}", "success"), (f"ingest:{two}", "success")]

    both = driver([settings, later])
    adopted = run_until_quiet(both, sensors)

    assert [(o["run_key"], o["status"]) for o in adopted] == [(f"adopt:{later.name}:{two}", "success")]
    assert latest_record(instance, later.key("candidate_model"), two) is not None
    assert latest_record(instance, later.key("candidate_model"), one) is None, "trained on the newest version only"
    assert current_champion(project.tracking, later.model_name) is not None
    assert latest_metadata(instance, later.key("deployed_model"), two)["promoted"] is True
    assert run_until_quiet(both, sensors) == [], "once"
