"""The Dagster UI as a user meets it, in a real browser (Debian's Chromium) against a real `dagster dev`.

The demo's bikeshare dataset feeds two models, bike_rentals (a regression) and busy_hours (a classification): the
asset graph has a group for the dataset and one per model, and each model has its own gates, plots and retraining
sensor. Each test asserts what is on the screen (text, check statuses, tables, images that decoded) and saves a
screenshot to test-artifacts/ui/. They share one server (conftest.py) and run in file order: the first version is
trained through the GraphQL example of docs/automation.md, a broken version is materialized from the UI while the
bikeshare_version_sensor is still off, and the last test lands a new version and turns the sensor on.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from mlops_assets.defs.bikeshare.contract import RawData
from mlops_assets.demo.versions import land_demo_versions, land_version, monthly_snapshot
from tests.demo.ui.conftest import ARTIFACTS
from tests.demo.ui.expected import (
    DATASET,
    EVALUATION_PLOTS,
    GATES,
    GROUPS,
    MODELS,
    MONITORING_PLOTS,
    RETRAINING_SENSORS,
    VERSION_SENSOR,
)

pytestmark = pytest.mark.slow

ASSETS = sorted({asset for assets in GROUPS.values() for asset in assets})  # a model's assets are named alike
RUN_TIMEOUT = 300_000  # ms: a run on two busy cores, queued behind another, takes well under a minute
expect.set_options(timeout=60_000)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '_')}.png"))


def visible_text(page: Page, text: str) -> Locator:
    """Elements showing exactly `text` that are visible (Dagster also renders hidden copies to measure text)."""
    return page.get_by_text(text, exact=True).filter(visible=True)


def show_markdown(scope: Locator | Page, page: Page, key: str) -> Locator:
    """The rendered Markdown of the metadata entry `key` in a metadata table.

    The UI renders short Markdown in the table and puts longer Markdown behind a "[Show Markdown]" link that opens
    a dialog; returns the table row, or the dialog after clicking that link.
    """
    row = scope.locator("tr", has=page.get_by_text(key, exact=True)).first
    expect(row).to_be_visible()
    link = row.get_by_text("[Show Markdown]")
    if link.count() == 0:
        return row
    link.first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(key, exact=True).first).to_be_visible()
    return dialog


# An image renders when it decodes and paints every pixel: a broken data URI does not decode (naturalWidth 0), and a
# truncated PNG still reports its size from its header but leaves rows unpainted. (The plots have an opaque
# background: matplotlib's default.)
RENDERED_IMAGE = """async img => {
    try { await img.decode(); } catch (error) { return {width: img.naturalWidth, painted: 0, error: String(error)}; }
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const alpha = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < alpha.length; i += 4) if (alpha[i] > 0) painted++;
    return {width: img.naturalWidth, painted: painted / (alpha.length / 4), error: null};
}"""


def rendered_images(markdown: Locator) -> dict[str, dict]:
    """alt text -> {width (naturalWidth), painted (share of pixels), error} of every image shown."""
    images = markdown.locator("img")
    expect(images.first).to_be_attached()
    return {img.get_attribute("alt"): img.evaluate(RENDERED_IMAGE) for img in images.all()}


def assert_linked_to_mlflow(markdown: Locator, names: list[str]) -> None:
    """Each plot links to its copy, an artifact of the step's MLflow run."""
    anchors = markdown.locator("a:has(img)").all()
    links = {anchor.locator("img").get_attribute("alt"): anchor.get_attribute("href") for anchor in anchors}
    assert sorted(links) == sorted(names)
    for name, href in links.items():
        assert f"/artifacts/plots/{name}" in href, (name, href)


def assert_plots_shown(page: Page, dagster_ui, asset: str, key: str, loaded: str, names: list[str]) -> None:
    """The `plots` metadata of an asset's ("model/asset") partition: every plot renders and links to MLflow
    (screenshot taken)."""
    page.goto(f"{dagster_ui.url}/assets/{asset}?view=partitions&partition={key}")
    expect(visible_text(page, loaded)).to_be_visible()  # a metadata key: the partition's event has loaded
    dialog = show_markdown(page, page, "plots")
    images = rendered_images(dialog)
    shot(page, f"{asset}_plots")
    assert_rendered(images, names)
    assert_linked_to_mlflow(dialog, names)


def assert_rendered(images: dict[str, dict], names: list[str]) -> None:
    assert sorted(images) == sorted(names)
    for name, image in images.items():
        assert image["error"] is None and image["width"] > 0 and image["painted"] > 0.99, (name, image)


# The drawn boxes (SVG foreignObjects) of the graph nodes whose label shows one of `names`: name -> every box showing
# it (each model's group has a node of each model asset, labelled with the asset's name alone). At the zoom that fits
# the whole graph a node shows its name middle-truncated when it is too long for the box ("retraini…_decision"),
# with no other copy of the full name in the page.
GRAPH_BOXES = """names => {
    const shows = (label, name) => {
        if (label === name) return true;
        const [head, tail] = label.split('…');
        return tail !== undefined && head.length > 0 && tail.length > 0 && name.startsWith(head) && name.endsWith(tail);
    };
    const boxes = {};
    for (const node of document.querySelectorAll('svg foreignObject')) {
        const r = node.getBoundingClientRect();
        for (const name of names) {
            const labels = [...node.querySelectorAll('*')]
                .filter(el => el.children.length === 0)
                .map(el => el.textContent.trim())
                .filter(label => shows(label, name));
            if (labels.length > 0) {
                (boxes[name] = boxes[name] || []).push(
                    {x: r.x, y: r.y, right: r.right, bottom: r.bottom, label: labels[0]});
            }
        }
    }
    return boxes;
}"""


def graph_boxes(page: Page, names: list[str]) -> dict[str, list[dict]]:
    return page.evaluate(GRAPH_BOXES, names)


# Whether a visible element shows `name`, in full or middle-truncated as the UI shortens long names in narrow places
# ("bikeshare_…ion_sensor"; the full name is then only in a hidden copy, for measuring). `within` (optional): only
# inside the parent of the span that reads exactly that label (a run's "Launched by" tag).
NAME_SHOWN = """([name, within]) => {
    const shows = (label, name) => {
        if (label === name) return true;
        const [head, tail] = label.split('…');
        return tail !== undefined && head.length > 0 && tail.length > 0 && name.startsWith(head) && name.endsWith(tail);
    };
    const visible = el => el.checkVisibility({visibilityProperty: true, opacityProperty: true});
    const scopes = within === null ? [document.body] : [...document.querySelectorAll('span')]
        .filter(span => span.textContent.replace(/\u00a0/g, ' ').trim() === within && visible(span))
        .map(span => span.parentElement);
    return scopes.some(scope => [...scope.querySelectorAll('*')].some(
        el => el.children.length === 0 && visible(el) && shows(el.textContent.trim(), name)));
}"""


def expect_name_shown(page: Page, name: str, within: str | None = None) -> None:
    """Wait until `name` is on the screen (full or middle-truncated), inside the `within` label's tag if given."""
    page.wait_for_function(NAME_SHOWN, arg=[name, within])


def inside(inner: dict, outer: dict) -> bool:
    return (
        outer["x"] <= inner["x"]
        and inner["right"] <= outer["right"]
        and outer["y"] <= inner["y"]
        and inner["bottom"] <= outer["bottom"]
    )


def open_expanded_graph(page: Page, dagster_ui) -> None:
    page.goto(f"{dagster_ui.url}/asset-groups")
    for group in GROUPS:  # the sidebar lists the groups; the graph starts with them collapsed
        expect(visible_text(page, group).first).to_be_visible()
    page.keyboard.press("Alt+e")  # the graph's "Expand all groups" (its settings menu names this shortcut)
    names = [*GROUPS, *ASSETS]
    drawn = sum(len(assets) for assets in GROUPS.values())  # every asset node, in its group
    page.wait_for_function(
        f"""names => {{
            const boxes = ({GRAPH_BOXES})(names);
            const assets = names.slice({len(GROUPS)}).reduce((n, name) => n + (boxes[name] || []).length, 0);
            return Object.keys(boxes).length === names.length && assets >= {drawn};
        }}""",
        arg=names,
    )
    # Until the layout animation has settled: the same boxes twice in a row, a quarter of a second apart.
    page.wait_for_function(
        f"""names => {{
            const now = JSON.stringify(({GRAPH_BOXES})(names));
            const settled = window.__lastGraphBoxes === now;
            window.__lastGraphBoxes = now;
            return settled;
        }}""",
        arg=names,
        polling=250,
    )


def test_the_asset_graph_shows_the_dataset_and_each_model_as_a_group_with_every_asset(page, dagster_ui):
    open_expanded_graph(page, dagster_ui)
    shot(page, "asset_graph")

    # Exactly three groups in the lineage sidebar: the dataset's and one per model (an asset that lost its group
    # would add "default").
    assert sorted(GROUPS) == sorted([DATASET, *MODELS])
    sidebar = [line for line in page.locator("button").all_inner_texts() if line.split("\n")[0] in GROUPS]
    assert len(sidebar) == len(GROUPS)
    expect(visible_text(page, "default")).to_have_count(0)

    # In the graph every asset is drawn inside the box of its group: a model asset once in each model's group, and
    # nowhere else.
    boxes = graph_boxes(page, [*GROUPS, *ASSETS])
    groups = {}
    for group in GROUPS:
        assert group in boxes, f"group {group} is not drawn"
        [groups[group]] = boxes[group]  # its name once: the title of its box
    for asset in ASSETS:
        assert asset in boxes, f"asset {asset} is not drawn"
        owners = sorted(group for group in GROUPS for box in boxes[asset] if inside(box, groups[group]))
        expected = sorted(group for group, assets in GROUPS.items() if asset in assets)
        assert owners == expected, f"{asset} is drawn inside the groups {owners}, not {expected}"
        assert len(boxes[asset]) == len(expected), f"{asset} is drawn {len(boxes[asset])} times"


def test_raw_dataset_shows_the_contracts_columns_with_types_and_descriptions(page, dagster_ui):
    page.goto(f"{dagster_ui.url}/assets/{DATASET}/raw_dataset")
    table = page.locator("table", has=page.get_by_text("Column name", exact=True))
    expect(table).to_be_visible()
    schema = RawData.to_schema()
    expect(table.locator("tbody tr")).to_have_count(len(schema.columns))
    shot(page, "raw_dataset_columns")

    shown = {}
    for row in table.locator("tbody tr").all():
        name, types, description = (cell.inner_text().strip() for cell in row.locator("td").all())
        shown[name] = (types.split()[0], description)
    contract = {name: (str(column.dtype), column.description or "") for name, column in schema.columns.items()}
    assert shown == contract

    # The contract's table-wide checks are shown above the columns.
    for check in schema.checks:
        expect(visible_text(page, check.name)).to_be_visible()


@pytest.mark.parametrize("model", MODELS)
def test_model_evaluation_shows_its_four_blocking_gates_per_partition_and_its_plots(
    page, dagster_ui, trained_version, model
):
    key, run_id = trained_version.key, trained_version.run_id
    page.goto(f"{dagster_ui.url}/assets/{model}/model_evaluation?view=checks")
    expect(visible_text(page, f"Checks ({len(GATES)})")).to_be_visible()
    for gate in GATES:
        visible_text(page, gate).first.click()  # the gate in the list of checks
        expect(visible_text(page, gate)).to_have_count(2)  # in the list, and as the title of the details
        page.locator("button[role=tab]", has_text="Overview").click()
        expect(page.get_by_text("This is a blocking asset check.")).to_be_visible()
        page.locator("button[role=tab]", has_text="Partitions").click()
        expect(visible_text(page, "Passed (1)")).to_be_visible()
        visible_text(page, key).last.click()  # the partition's row: its result for this version
        expect(visible_text(page, "Passed")).to_be_visible()  # the partition's result (the filter says "Passed (1)")
        expect(visible_text(page, run_id[:8])).to_be_visible()  # from the run the GraphQL example launched
        if gate == GATES[0]:
            shot(page, f"{model}_model_evaluation_gate_partitions")

    # The plots of that version's evaluation (the model's task's) render as images (data URIs that decode) linking
    # to MLflow.
    asset = f"{model}/model_evaluation"
    assert_plots_shown(page, dagster_ui, asset, key, "gates_passed", EVALUATION_PLOTS[model])


def test_a_version_that_breaks_the_contract_shows_the_failure_table_on_its_run_page(page, dagster_ui, bikeshare):
    key = "2011-01-broken"
    rows = monthly_snapshot(bikeshare, "2011-01").reset_index(drop=True)
    rows.loc[10, "hr"] = 99  # the 11th data row
    rows.loc[20, "weathersit"] = "snowstorm"  # the 21st
    land_version(dagster_ui.versions_dir, key, rows)

    # A user materializes the new version from the UI: Materialize…, add the partition, launch.
    page.goto(f"{dagster_ui.url}/assets/{DATASET}/raw_dataset")
    page.get_by_role("button", name="Materialize…").click()
    page.get_by_text("Add a partition").click()
    page.get_by_placeholder("name").fill(key)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Launch 1 run").click()
    expect(page.get_by_text("Launched run")).to_be_visible()
    view = page.get_by_role("link", name="View", exact=True).or_(page.get_by_role("button", name="View", exact=True))
    view.first.click()  # the "View" of the "Launched run …" message: the run's page

    expect(page.get_by_text(f"partition: {key}")).to_be_visible()
    expect(page.get_by_text("Failure", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT)
    expect(page.get_by_text("2 contract failure(s)").first).to_be_visible()
    dialog = show_markdown(page, page, "failure_table")
    shot(page, "contract_failure_table")
    table = dialog.locator("table")
    assert table.locator("th").all_inner_texts() == ["file", "row", "column", "check", "value"]
    cells = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    assert cells == [
        ["rentals.csv", "11", "hr", "less_than_or_equal_to(23)", "99"],
        [
            "rentals.csv",
            "21",
            "weathersit",
            "isin(['clear', 'cloudy/misty', 'light rain/snow', 'heavy rain/snow'])",
            "snowstorm",
        ],
    ]


def follow_requested_run(page: Page, dagster_ui, sensor: str, key: str, tick_says: str | None = None) -> None:
    """On the sensor's page, wait for the tick that requested one run, open that run and wait until it succeeds."""
    page.goto(f"{dagster_ui.url}/locations/mlops_assets/sensors/{sensor}")
    tick = page.locator("tr", has=page.get_by_text("1 run requested", exact=True)).first
    expect(tick).to_be_visible(timeout=RUN_TIMEOUT)  # the ticks table refreshes by itself
    if tick_says:
        expect(tick.get_by_text(tick_says)).to_be_visible()
    shot(page, f"{sensor}_tick")
    run_link = tick.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$"))  # the requested run's id
    page.goto(dagster_ui.url + run_link.get_attribute("href"))  # (a click lands on the link's hover card)
    expect(page.get_by_text(f"partition: {key}")).to_be_visible()
    expect_name_shown(page, sensor, within="Launched by")  # the run's tag: "Launched by bikeshare_…ion_sensor"
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT)


def test_a_new_version_runs_when_the_sensor_is_turned_on_and_monitoring_decides(page, dagster_ui, trained_version):
    key = "2011-02"
    land_demo_versions(dagster_ui.versions_dir, [key])

    # The user turns the bikeshare_version_sensor on; its next tick adds the partition and requests one run (ingest
    # once, then score and monitor for each model, since 2011-01's models are champions), and that run succeeds.
    page.goto(f"{dagster_ui.url}/locations/mlops_assets/sensors/{VERSION_SENSOR}")
    toggle = page.get_by_role("checkbox")
    expect(toggle).not_to_be_checked()
    page.locator("label", has=toggle).click()
    expect(toggle).to_be_checked()
    follow_requested_run(page, dagster_ui, VERSION_SENSOR, key, tick_says="(1 partition created)")
    shot(page, "sensor_run")

    retrained = []
    for model in MODELS:
        # Each champion's monitoring of the new version: its plots render.
        assert_plots_shown(page, dagster_ui, f"{model}/model_monitoring", key, "drifted_share", MONITORING_PLOTS)

        # The model's retraining sensor records its decision for that version, with the reasons and the evidence.
        # (Waited for through the API: the asset's Events page does not refresh by itself.)
        dagster_ui.wait_for_materialization(f"{model}/retraining_decision", key)
        page.goto(f"{dagster_ui.url}/assets/{model}/retraining_decision?view=events")
        expect(page.get_by_text(f"Partition {key} materialized")).to_be_visible()
        metadata = page.locator("tr", has=page.get_by_text("retrain", exact=True)).first
        retrain = metadata.locator("td").nth(1).inner_text().strip()  # the metadata entry `retrain`: true or false
        assert retrain in ("true", "false")
        description = "retrain" if retrain == "true" else "no retraining"
        expect(page.locator("p").filter(has_text=re.compile(f"^{description}$"))).to_be_visible()
        expect(page.get_by_text(f"{key}: ").first).to_be_visible()  # the reasons name the version
        expect(page.get_by_text("evaluated (").first).to_be_visible()  # the evidence: realized against evaluated
        shot(page, f"{model}_retraining_decision")
        if retrain == "true":
            retrained.append(model)
    if not retrained:
        return

    # "retrain": the model's retraining sensor requested the version's training run; it succeeds, and the model's
    # gates now show a result for each of the two versions.
    for model in retrained:
        follow_requested_run(page, dagster_ui, RETRAINING_SENSORS[model], key)
    page.goto(f"{dagster_ui.url}/runs")
    expect(visible_text(page, "Manually launched").first).to_be_visible()
    for launcher in (*(RETRAINING_SENSORS[model] for model in retrained), VERSION_SENSOR):
        expect_name_shown(page, launcher)
    shot(page, "runs")
    for model in retrained:
        for gate in GATES:
            page.goto(f"{dagster_ui.url}/assets/{model}/model_evaluation?view=checks&checkDetail={gate}")
            expect(visible_text(page, gate)).to_have_count(2)  # in the list, and as the title of the details
            page.locator("button[role=tab]", has_text="Partitions").click()
            for version in (trained_version.key, key):
                expect(visible_text(page, version).first).to_be_visible()
            statuses = page.get_by_text(re.compile(r"^(Execution Failed|Failed|Passed) \(\d+\)$")).filter(visible=True)
            expect(statuses).to_have_count(3)
            counts = {text.split(" (")[0]: int(text.split("(")[1].rstrip(")")) for text in statuses.all_inner_texts()}
            assert counts["Passed"] + counts["Failed"] == 2 and counts["Execution Failed"] == 0, (model, gate, counts)
            if gate == "not_worse_than_champion":
                shot(page, f"{model}_model_evaluation_gate_two_versions")
