"""Fixtures of the UI tests: one `dagster dev` per session, Debian's Chromium driven by Playwright, screenshots.

The server starts with a fresh instance and empty folders (tests/demo/ui/server.py), serving the demo's bikeshare
dataset and its two models (bike_rentals, busy_hours). The bikeshare_version_sensor is stopped right after the start,
so that the tests decide when versions are picked up: the GraphQL example (docs/automation.md) lands and launches
2011-01 itself (both
models trained in one run), and the sensor test turns the sensor on in the UI. The models' retraining sensors and
the run-failure sensor keep their default (running), and the daemon runs them and the run queue.

Screenshots go to test-artifacts/ui/ (git-ignored): one per scenario, and one of the page of every failed test.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops_assets.demo.versions import land_demo_versions
from tests.demo.ui.expected import VERSION_SENSOR
from tests.demo.ui.server import REPO_ROOT, DagsterDev

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package `chromium`; scripts/test installs it where it can
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
# CI sets this (.ci/run): there the browser tests must run, and a missing browser is a failure, not a skip.
REQUIRE_BROWSER = "MLOPS_REQUIRE_BROWSER_TESTS"
VIEWPORT = {"width": 1600, "height": 1000}
FIRST_VERSION = "2011-01"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return (
            f"Debian's Chromium is not installed ({CHROMIUM}); ./scripts/test installs it with apt-get where it can "
            "(as root or with password-less sudo), or run: sudo apt-get install chromium"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in the dev extra: ./scripts/test installs requirements.lock)"
    return None


# Package scope: the server and the browser stop when the last UI test has run. Playwright's sync API keeps an asyncio
# loop running in the main thread while it is open, and Dagster's in-process runs of later tests would then warn
# ("coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited").
@pytest.fixture(scope="package")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def dagster_ui(tmp_path_factory):
    """`dagster dev` on a free port of 127.0.0.1 with a fresh instance; the bikeshare_version_sensor stopped."""
    server = DagsterDev(tmp_path_factory.mktemp("dagster_ui")).start()
    try:
        server.stop_sensor(VERSION_SENSOR)
        yield server
    finally:
        server.stop()


GRAPHQL_DOC = REPO_ROOT / "docs" / "automation.md"  # the README links to it


def graphql_example() -> str:
    """The Python block of docs/automation.md's "Dagster's GraphQL API" section, as a user would copy it."""
    document = GRAPHQL_DOC.read_text()
    section = document.split("\n## Dagster's GraphQL API\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="package")
def trained_version(dagster_ui):
    """2011-01 landed, then ingested, and each model trained, gated and deployed, by running the GraphQL example of
    docs/automation.md (the README links to it).

    Returns the example's variables (run_id, status, selection, gates per model, ...) and what it printed.
    """
    land_demo_versions(dagster_ui.versions_dir, [FIRST_VERSION])
    code = graphql_example()
    assert code.count("PORT = 3000") == 1 and f'VERSION = "{FIRST_VERSION}"' in code
    code = code.replace("PORT = 3000", f"PORT = {dagster_ui.port}")
    namespace: dict = {"__name__": "graphql_example"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # gql's deprecation warning is filtered in pyproject.toml
        exec(compile(code, "docs/automation.md (Dagster's GraphQL API)", "exec"), namespace)
    return SimpleNamespace(**namespace, printed=printed.getvalue(), key=FIRST_VERSION)


@pytest.fixture(scope="package")
def browser():
    """Debian's Chromium, headless; Playwright starts it with a fresh temporary user-data dir."""
    missing = browser_missing()
    if missing:
        if os.environ.get(REQUIRE_BROWSER):
            pytest.fail(f"{missing} ({REQUIRE_BROWSER} is set: the browser tests must run here)")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, dagster_ui, artifacts):
    """A page in a new browser context: no state (local storage, cookies) carried over from another test."""
    context = browser.new_context(viewport=VIEWPORT)
    # Generous waits for what the UI shows (runs take tens of seconds on two cores); never a speed assertion.
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None and not page.is_closed():
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{item.name}.png"), full_page=True)
    return report
