"""The browser tests' set-up: a small simulated county, the platform's service over it (as
``make up`` starts it), and Debian's Chromium driven by Playwright (``make browser-test``
installs it; no browser is downloaded).

Screenshots go to ``tests/browser/screenshots/``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from credit import service
from tests.county import simulated_county

CREDIT = str(Path(sys.executable).with_name("credit"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# machine's closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The county's days: its first night catches all of them up.
FIRST_DAY = date(2026, 3, 30)
NIGHT = date(2026, 4, 1)


def credit(*args: str) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run([CREDIT, *args], capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished


@pytest.fixture(scope="session")
def running_service(tmp_path_factory) -> Iterator[service.ServiceInfo]:
    """The service over a three-day county, every DAG paused (the tests unpause what they run)."""
    with simulated_county(tmp_path_factory, "browser", FIRST_DAY, NIGHT):
        credit("service", "up", "--port", "0", "--paused")
        try:
            info = service.running_service()
            assert info is not None
            yield info
        finally:
            credit("service", "down")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, for the page fixture to see a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(request, browser, running_service) -> Iterator:
    """A page logged into the UI as the service's admin; a failed test leaves a screenshot of
    where it stopped."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(running_service.url)
    page.get_by_label("Username").fill(service.USERNAME)
    page.get_by_label("Password").fill(running_service.password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{running_service.url}/")
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"failed-{request.node.name}")
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
