"""What people see, in a real browser: the Airflow UI of the running service, a night triggered
from it, and the warehouse's dbt docs and Great Expectations Data Docs beside it."""

from __future__ import annotations

import re

import httpx
import pytest

from credit.paths import DAGS_DIR
from tests.browser.conftest import NIGHT, credit, screenshot

pytestmark = pytest.mark.browser

# Every DAG file of dags/ holds the DAG credit_<file name>.
DAG_IDS = sorted(f"credit_{path.stem}" for path in DAGS_DIR.glob("*.py"))
NIGHT_TIMEOUT_MS = 600_000


def test_the_ui_lists_every_dag_without_import_errors(page, running_service) -> None:
    page.goto(f"{running_service.url}/dags")
    page.get_by_text(f"{len(DAG_IDS)} Dags").wait_for()
    for dag_id in DAG_IDS:
        assert page.get_by_role("link", name=dag_id, exact=True).count() == 1, dag_id
    assert page.get_by_text(re.compile("import error", re.I)).count() == 0
    screenshot(page, "dags")


def test_a_night_triggered_from_the_ui_succeeds(page, running_service) -> None:
    page.goto(f"{running_service.url}/dags/credit_ingest")
    page.get_by_role("button", name="Trigger Dag").click()
    # The trigger form; its date picker is a dialog too, left in the page closed once used.
    dialog = page.get_by_role("dialog").filter(has_text="Trigger Dag")
    dialog.get_by_test_id("datetime-input").click()
    page.get_by_placeholder("YYYY/MM/DD").fill(NIGHT.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").fill("00:00")
    dialog.get_by_role("heading").click()  # closes the date picker
    assert dialog.get_by_role("checkbox").is_checked()  # "Unpause credit_ingest on trigger"
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    dialog.wait_for(state="hidden")

    page.goto(f"{running_service.url}/dags/credit_ingest/runs")
    # Unpausing also lets the schedule start its latest night: follow the run triggered here.
    manual = page.get_by_role("row").filter(has_text="Manual")
    manual.wait_for()
    # The runs page refreshes itself while a run is active.
    ended = manual.get_by_text(re.compile("^(Success|Failed)$"))
    ended.wait_for(timeout=NIGHT_TIMEOUT_MS)
    assert ended.inner_text() == "Success"
    screenshot(page, "ingest_succeeded")


def test_the_docs_are_behind_the_login(running_service) -> None:
    for path in ("dbt/index.html", "data-docs/index.html"):
        response = httpx.get(f"{running_service.url}/credit-docs/{path}")
        assert response.status_code == 401, path


def test_the_dbt_docs_open_from_the_browse_menu(page, running_service) -> None:
    credit("airflow", "run", "--unpause", "credit_docs")
    page.goto(f"{running_service.url}/dags")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="dbt docs 数据仓库文档").click()
    docs = page.frame_locator("iframe")
    docs.get_by_role("heading", name=re.compile("Jiangyin credit warehouse")).wait_for()
    docs.get_by_placeholder("Search for models...").fill("dim_subjects")
    # Names only: the models that mention it (in SQL, in descriptions) come first otherwise.
    docs.get_by_label("Name", exact=True).check()
    docs.get_by_text("信用主体 Credit subjects").first.wait_for()  # its description, found
    screenshot(page, "dbt_docs")


def test_the_data_docs_open_from_the_browse_menu(page, running_service) -> None:
    page.goto(f"{running_service.url}/dags")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Data Docs 数据校验文档").click()
    docs = page.frame_locator("iframe")
    # The site's index (its tables of suites and runs need scripts from CDNs this machine
    # cannot reach: see docs/validation.md).
    docs.get_by_text("credit_validation").first.wait_for()
    docs.get_by_text("Expectation Suites").first.wait_for()
    screenshot(page, "data_docs")
