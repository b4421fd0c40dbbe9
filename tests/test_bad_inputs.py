"""Bad input never gets past ingestion and never costs anything that worked before.

One champion is trained on a good version first (the configured cut's second version). Then:
- each malformed version goes through the same run the dataset-version sensor would request (ingestion and
  training) and must fail at raw_dataset with a message naming the file, the column and the rule (and quoting nothing
  of the file but contract cells), materialize nothing for its partition, and leave the champion, the registry and
  the good partition exactly as they were;
- versions that are linked, half-copied, fixed in place, changed after ingestion, one row long or made only of rows
  the champion trained on go through the real sensors (`main.SensorDriver`, as the daemon would drive them), each in
  a versions folder of its own over the same instance and champion.
Every bad version is built from the configured data set's rows and its contract (tests/configured_data.py); "rows the
champion trained on" and "a row it never saw" are read from the good version's stored split.
Alerts go to a real webhook on loopback, so that what they carry is checked too.
"""

import gzip
import json
import os
import pickle
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.commands.landing import land_version
from mlops_assets.definitions import build_definitions
from mlops_assets.infra.alerts import Notifier
from mlops_assets.stages.registry import CHAMPION, current_champion
from mlops_assets.wiring.checks import VERSION_UNCHANGED
from mlops_assets.wiring.jobs import ingestion_selection, training_selection
from mlops_assets.wiring.sensor_driver import SensorDriver, failure_messages, run_until_quiet
from mlops_assets.wiring.sensors.alerts import run_failure_alert_sensor
from tests.configured_data import (
    CONTRACT_COLUMNS,
    KEY,
    UNIQUE,
    UNIQUE_COLUMN,
    a_break,
    bounded_columns,
    csv_bytes,
    cut_in_the_middle,
    dtype_text,
    first_column_of_kind,
    key_text,
    no_rows_checks,
    swap_two_rows,
    with_invalid_utf8,
)
from tests.conftest import (
    DATASET,
    MODEL,
    asset_keys,
    check_evaluations,
    make_project,
    model_settings,
    pipeline_job,
    settle,
    webhook,
    write_version,
)

FILE = "rows.csv"  # the file name landing.land_version gives a version
SELECTION = ingestion_selection(MODEL) + training_selection(MODEL)  # what the sensor requests for a first version
ASSETS = [key.to_user_string() for key in SELECTION]
SENSORS = [f"{DATASET.name}_version_sensor", f"{MODEL.name}_retraining_sensor"]
RAW_STEP = MODEL.raw_key.to_python_identifier()  # the step key of raw_dataset: `<dataset>__raw_dataset`
SECRET = "TOP-SECRET-LINE"  # in files that must never be quoted: not in failures, messages or alerts


@pytest.fixture(scope="module")
def world(tmp_path_factory, versions, keys):
    """A persistent instance and MLflow store with a champion trained on the good version; alerts to a webhook."""
    good = keys[1]
    root = tmp_path_factory.mktemp("bad_inputs")
    project = make_project(root)
    settings, tracking = project.settings, project.tracking
    (root / "dagster").mkdir()
    with webhook() as hook, dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        notifier = Notifier(webhook_url=hook.url)
        defs = build_definitions(models=[settings], mlflow_tracking=tracking, notifier=notifier)
        land_version(settings.versions_dir, good, versions[good])
        instance.add_dynamic_partitions(settings.dataset.partitions_name, [good])
        result = run_version(defs, instance, good)
        assert result.success
        champion = current_champion(tracking, settings.model_name)
        assert champion is not None
        # The champion's own split of the good version, as the pipeline stored it: the rows it trained on, and
        # the rows it held out (never trained on, by either split method).
        split = pickle.loads(stored_path(settings, "dataset_split", good).read_bytes())
        yield {
            "good": good,
            "trained": split.train,
            "held_out": split.holdout,
            "root": root,
            "settings": settings,
            "tracking": tracking,
            "notifier": notifier,
            "defs": defs,
            "instance": instance,
            "hook": hook,
        }


def run_version(defs, instance, key):
    return defs.resolve_job_def(pipeline_job(MODEL)).execute_in_process(
        instance=instance,
        partition_key=key,
        asset_selection=SELECTION,
        raise_on_error=False,
    )


def stored_path(settings, asset: str, key: str) -> Path:
    """Where the IO manager stored an asset's value for a partition: state/assets/<asset key path>/<key>."""
    [asset_key] = asset_keys(settings, [asset])
    return Path(settings.state_dir, "assets", *asset_key.path, key)


def snapshot(world) -> dict:
    """Everything a bad version must not change."""
    instance, settings, tracking, good = world["instance"], world["settings"], world["tracking"], world["good"]
    client = tracking.client()
    materializations = {
        asset: [
            record.storage_id
            for record in instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(asset), asset_partitions=[good]),
                limit=10,
            ).records
        ]
        for asset in ASSETS
    }
    stored = {
        path.relative_to(settings.state_dir).as_posix(): path.read_bytes()
        for path in Path(settings.state_dir, "assets").rglob(good)
        if path.is_file()
    }
    return {
        "champion": client.get_model_version_by_alias(settings.model_name, CHAMPION).version,
        "versions": sorted(v.version for v in client.search_model_versions(f"name = '{settings.model_name}'")),
        "materializations": materializations,
        "stored": stored,
        "predictions": (settings.predictions_dir / f"{good}.parquet").read_bytes(),
    }


def rows(world, n=200) -> pd.DataFrame:
    """Real rows of the configured data set (rows the champion trained on), indexed 0..n-1."""
    return world["trained"].head(n).reset_index(drop=True).copy()


def case_renamed_column(world):
    column = next(name for name in CONTRACT_COLUMNS if name not in KEY)
    return {FILE: rows(world).rename(columns={column: f"{column}_renamed"})}, (FILE, column, "column_in_dataframe")


def case_unparseable_number(world):
    column = first_column_of_kind("f", "float")
    frame = rows(world).astype({column: object})
    frame.loc[5, column] = "0,5"
    return {FILE: frame}, (FILE, column, dtype_text(column))


def case_truncated_file(world):
    return {FILE: cut_in_the_middle(csv_bytes(rows(world)))}, (FILE, "complete last line", "looks truncated")


def case_header_repeated_mid_file(world):
    lines = csv_bytes(rows(world)).splitlines()
    data = b"\n".join([*lines[:50], lines[0], *lines[50:]]) + b"\n"
    return {FILE: data}, (FILE, "header only once", "line 51 repeats the header")


def case_semicolon_separated(world):
    return {FILE: csv_bytes(rows(world)).replace(b",", b";")}, (FILE, "comma-separated", "semicolon")


def case_duplicate_row_key(world):
    if not UNIQUE:
        pytest.skip("the contract declares no unique row key (Config.unique)")
    frame = rows(world)
    frame.loc[9, UNIQUE] = frame.loc[8, UNIQUE].to_numpy()
    return {FILE: frame}, (FILE, UNIQUE_COLUMN, f"value '{key_text(frame, 8)}'")


def case_not_a_csv(world):
    text = f"{SECRET}:x:0:0:root:/root:/bin/bash\nsecond {SECRET} line\n".encode()
    return {FILE: text}, (FILE, "header row", "names none of the contract's"), [SECRET]


def case_file_linked_outside(world):
    outside = world["root"] / "outside" / "secret.csv"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text(f"{','.join(CONTRACT_COLUMNS[:2])}\n{SECRET},x\n")
    files = {"a.csv": rows(world), "b.csv": outside}
    return files, ("b.csv", "not a symbolic link", "refused unread"), [SECRET]


def case_mixed_files_disagree(world):
    column = first_column_of_kind("iuf", "numeric")
    frame = rows(world, 400)
    half = len(frame) // 2
    parquet = frame.iloc[half:].astype({column: str})  # the Parquet file says the column is text
    parquet[column] = "x" + parquet[column]
    return {"a.csv": frame.iloc[:half], "b.parquet": parquet}, ("b.parquet", column, dtype_text(column))


def case_infinity(world):
    frame = rows(world)
    above, below = bounded_columns("f", "max_value"), bounded_columns("f", "min_value")
    if not above + below:
        pytest.skip("the contract bounds no float column: it accepts infinity")
    column, value, rule = (above[0], np.inf, "less_than_or_equal_to") if above else (below[0], -np.inf, "greater_")
    frame.loc[3, column] = value
    return {FILE: frame}, (FILE, column, rule)


def case_huge_number(world):
    frame = rows(world)
    above, below = bounded_columns("iu", "max_value"), bounded_columns("iu", "min_value")
    if not above + below:
        pytest.skip("the contract bounds no integer column")
    column, value, rule = (above[0], 10**12, "less_than_or_equal_to") if above else (below[0], -(10**12), "greater_")
    frame.loc[7, column] = value
    return {FILE: frame}, (FILE, column, rule)


def case_target_leak_column(world):
    frame = rows(world)
    target = world["settings"].target
    frame[f"{target}_tomorrow"] = frame[target]
    return {FILE: frame}, (FILE, f"{target}_tomorrow", "column_in_schema")


def case_empty_file(world):
    return {FILE: b""}, (FILE, "(file)", "not empty")


def case_header_only(world):
    return {FILE: csv_bytes(rows(world).head(0))}, (FILE, "", no_rows_checks()[0])


def case_non_utf8(world):
    return {FILE: with_invalid_utf8(csv_bytes(rows(world)))}, (FILE, "(file)", "UTF-8")


def case_gzip_named_csv(world):
    return {FILE: gzip.compress(csv_bytes(rows(world)))}, (FILE, "(file)", f"gzip-compressed: name it {FILE}.gz")


def case_no_data_files(world):
    return {"notes.txt": b"nothing here"}, ("(none)", "(file)", "has data files")


CASES = {
    name.removeprefix("case_"): case for name, case in globals().items() if name.startswith("case_") and callable(case)
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_version_fails_clearly_and_loses_nothing(world, name):
    files, (file, column, rule), *hidden = CASES[name](world)
    key = f"bad-{name.replace('_', '-')}"
    before = snapshot(world)
    write_version(world["settings"].versions_dir, key, files)
    world["instance"].add_dynamic_partitions(DATASET.partitions_name, [key])

    result = run_version(world["defs"], world["instance"], key)

    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == [RAW_STEP]
    message = failures[0].event_specific_data.error.message
    for expected in (file, column, rule):
        assert expected in message, f"{expected!r} not in the failure message: {message}"
    for secret in hidden[0] if hidden else []:
        table = failures[0].step_failure_data.user_failure_data.metadata["failure_table"].value
        assert secret not in message + table, "the report quotes the file"
        assert secret not in alert_text(world, result), "the alert quotes the file"
    for asset in ASSETS:
        assert (
            not world["instance"]
            .fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(asset), asset_partitions=[key]),
                limit=1,
            )
            .records
        ), f"{asset} was materialized for the bad version {key}"
    assert snapshot(world) == before


def alert_text(world, result) -> str:
    """What was posted for a failed run (to the real webhook): one alert, sent by the failed step, and none more
    when the run-failure alert sensor sees the run too."""
    instance = world["instance"]
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"notifier": world["notifier"]},
    ).for_run_failure()
    run_failure_alert_sensor(context)
    [alert] = [post for post in world["hook"].posts if result.run_id in post["text"]]
    assert alert["severity"] == "error"
    return json.dumps(alert)


# --- through the real sensors --------------------------------------------------------------------------------------


class Project:
    """A versions folder of its own, over the world's instance, MLflow store and champion, driven by the sensors."""

    def __init__(self, world, name: str):
        self.world, self.instance = world, world["instance"]
        self.root = world["root"] / name
        world_settings = world["settings"]
        self.settings = model_settings(
            data_dir=str(self.root / "data"),
            state_dir=world_settings.state_dir,
            search=world_settings.search,
            estimator=world_settings.estimator,
        )
        self.defs = build_definitions(
            models=[self.settings], mlflow_tracking=world["tracking"], notifier=world["notifier"]
        )
        self.driver = SensorDriver(self.defs, self.instance, self.root / "cursors.json")
        self.versions = self.settings.versions_dir
        self.versions.mkdir(parents=True)

    def run(self) -> list[tuple[str, str]]:
        self.outcomes = run_until_quiet(self.driver, SENSORS)
        return [(o["run_key"], o["status"]) for o in self.outcomes]

    def partitions(self) -> list[str]:
        return self.instance.get_dynamic_partitions(self.settings.dataset.partitions_name)

    def metadata(self, asset: str, key: str) -> dict:
        from mlops_assets.wiring.records import latest_metadata

        return latest_metadata(self.instance, asset_keys(self.settings, [asset])[0], key)


def trained(world) -> pd.DataFrame:
    """Rows the champion trained on (its split's training rows): monitoring has nothing to judge, so no model is
    loaded."""
    return world["trained"].copy()


def test_a_linked_version_folder_is_refused_and_never_read(world):
    project, before = Project(world, "linked"), snapshot(world)
    elsewhere = settle(write_version(world["root"] / "elsewhere", "x", {FILE: trained(world)}))
    (project.versions / "linked-version").symlink_to(elsewhere, target_is_directory=True)

    assert project.run() == []
    assert "linked-version" not in project.partitions()
    assert json.loads(project.driver.cursors[SENSORS[0]])["refused"] == ["linked-version"]
    assert snapshot(world) == before


def test_a_half_copied_version_is_ingested_only_whole(world):
    project, before = Project(world, "half"), snapshot(world)
    key, text = "half-copied", trained(world).to_csv(index=False)
    folder = project.versions / key
    folder.mkdir()
    (folder / FILE).write_text(text[: len(text) // 3])  # the copy is still running

    assert project.run() == []
    assert key not in project.partitions()

    (folder / FILE).write_text(text)
    settle(
        folder, seconds_ago=project.settings.dataset.data_source.quiet_period_seconds + 1
    )  # finished, and quiet since

    assert project.run() == [(f"ingest:{key}", "success")]
    assert project.metadata("raw_dataset", key)["dagster/row_count"] == len(trained(world))
    assert snapshot(world) == before


def test_a_version_fixed_in_place_after_it_failed_is_retried(world):
    project, before = Project(world, "fixed"), snapshot(world)
    key, good, broken = "fixed-in-place", trained(world), a_break()
    bad = broken.apply(good, 5)
    settle(write_version(project.versions, key, {FILE: bad}))

    assert project.run() == [(f"ingest:{key}", "failure")]
    message = failure_messages(project.instance, project.outcomes[0]["run_id"])[0]
    assert broken.column in message and broken.check in message

    good.to_csv(project.versions / key / FILE, index=False)
    settle(project.versions / key)
    [(run_key, status)] = project.run()

    assert run_key.startswith(f"ingest:{key}:") and status == "success"
    assert project.metadata("raw_dataset", key)["dagster/row_count"] == len(good)
    assert project.run() == [], "retried once"
    assert snapshot(world) == before


def keep_size_and_time(path: Path) -> None:
    """An edit that keeps the file's size and modification time: only the content hash sees it."""
    stat = path.stat()
    path.write_bytes(swap_two_rows(path.read_bytes()))
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def append_rows(path: Path) -> None:
    path.write_text(path.read_text() + path.read_text().splitlines()[-1] + "\n")


@pytest.mark.parametrize("edit", [append_rows, keep_size_and_time], ids=["append", "same-size-and-time"])
def test_a_version_changed_after_ingestion_is_a_visible_error_and_loses_nothing(world, edit):
    project, before = Project(world, f"changed-{edit.__name__}"), snapshot(world)
    key = f"changed-{edit.__name__.replace('_', '-')}"
    land_version(project.versions, key, trained(world))
    assert project.run() == [(f"ingest:{key}", "success")]
    ingested = project.metadata("raw_dataset", key)
    stored = stored_path(project.settings, "raw_dataset", key).read_bytes()

    edit(project.versions / key / FILE)
    [(run_key, status)] = project.run()

    assert run_key.startswith(f"verify:{key}:") and status == "failure"
    [message] = failure_messages(project.instance, project.outcomes[0]["run_id"])
    assert "changed after it was ingested" in message and "land the changed data as a new version" in message
    check = check_evaluations(project.instance, VERSION_UNCHANGED, key)[0]
    assert check.passed is False and "land the changed data as a new version" in check.description
    assert project.metadata("raw_dataset", key) == ingested, "not re-ingested"
    assert stored_path(project.settings, "raw_dataset", key).read_bytes() == stored
    assert project.run() == [], "reported once"
    assert snapshot(world) == before


def test_a_one_row_version_records_too_few_rows_and_does_not_retrain(world):
    project, before = Project(world, "one-row"), snapshot(world)
    never_seen = world["held_out"].head(1)  # a row the champion held out: it never trained on it
    land_version(project.versions, "one-row", never_seen)
    alerts_before = len(world["hook"].posts)

    assert project.run() == [("ingest:one-row", "success")]
    monitoring = project.metadata("model_monitoring", "one-row")
    assert monitoring["status"] == "too few rows"
    assert monitoring["rows_monitored"] == 1
    assert monitoring["drifted_share"] is None and monitoring["dataset_drift"] is False
    assert "monitoring.min_rows" in monitoring["note"]
    decision = project.metadata("retraining_decision", "one-row")
    assert decision["retrain"] is False and decision["voted"] is False
    assert "too few rows" in decision["reasons"]
    assert world["hook"].posts[alerts_before:] == [], "no drift alert"
    assert snapshot(world) == before


def test_a_version_of_rows_the_champion_trained_on_is_a_recorded_no_op(world):
    project, before = Project(world, "seen-rows"), snapshot(world)
    land_version(project.versions, "seen-rows", trained(world))
    alerts_before = len(world["hook"].posts)

    assert project.run() == [("ingest:seen-rows", "success")]
    monitoring = project.metadata("model_monitoring", "seen-rows")
    assert monitoring["status"] == "nothing to monitor"
    assert monitoring["rows_monitored"] == 0
    decision = project.metadata("retraining_decision", "seen-rows")
    assert decision["retrain"] is False and decision["voted"] is False
    assert world["hook"].posts[alerts_before:] == []
    assert snapshot(world) == before
