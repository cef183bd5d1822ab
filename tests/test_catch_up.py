"""Which nights ``credit airflow catch-up`` runs (:mod:`credit.nights`), the chain of each, and
a week caught up by one command against the same week run night by night.

The week is a long test (``make long-test``: two warehouses, fourteen nights, about ten
minutes); the suite catches up two nights the same way, compared with the county whose nights
``tests/test_warning_feedback.py`` runs on time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from county_sim import engine
from credit import nights, warehouse
from credit.airflow_env import run_dag
from credit.cli import app
from credit.exports.publicity import export_daily_publicity
from tests.catch_up import (
    catch_up_failing_on,
    differing_tables,
    export_files,
    exports_logged,
    late_warehouse,
    publicity_applied,
    publicity_csv,
)
from tests.county import simulated_county

WEEK = [dt.date(2026, 3, 2) + dt.timedelta(days=n) for n in range(7)]
FIRST_DAY = dt.date(2026, 2, 16)  # the county's first day: the week's first night lands it


@pytest.fixture
def exported(warehouse_url, monkeypatch) -> Iterator[str]:
    """A warehouse of its own whose daily exports are logged for the first three days of WEEK."""
    url = warehouse.database_url("catch_up_probe")
    warehouse.drop_database(url)
    monkeypatch.setenv(warehouse.ENV_URL, url)
    warehouse.ensure_warehouse()
    with psycopg.connect(url) as conn:
        for day in WEEK[:3]:
            conn.execute(
                "insert into audit.exports (kind, period, as_of_date, folder, file_count,"
                " row_count, content_sha256) values ('daily_warnings', %s, %s, '', 0, 0, '')",
                (day.isoformat(), day),
            )
    yield url
    warehouse.drop_database(url)


def test_the_nights_not_exported_are_run_in_order(exported) -> None:
    today = WEEK[-1] + dt.timedelta(days=1)
    assert nights.nights_to_run(exported, WEEK[0], WEEK[-1], today) == WEEK[3:]
    # By default: from the day after the last night exported to yesterday.
    assert nights.nights_to_run(exported, None, None, today) == WEEK[3:]
    assert nights.nights_to_run(exported, WEEK[0], WEEK[2], today) == []


def test_a_night_before_the_last_exported_or_not_over_is_refused(exported) -> None:
    today = WEEK[-1] + dt.timedelta(days=1)
    with pytest.raises(nights.CatchUpRefused, match=f"the night of {WEEK[2]} is exported"):
        nights.nights_to_run(exported, WEEK[0] - dt.timedelta(days=1), WEEK[-1], today)
    with pytest.raises(nights.CatchUpRefused, match="is not over yet"):
        nights.nights_to_run(exported, None, WEEK[-1], today=WEEK[-1])
    with pytest.raises(nights.CatchUpRefused, match="nothing to catch up"):
        nights.nights_to_run(exported, WEEK[-1], WEEK[3], today)


def test_a_dry_run_lists_the_nights_and_runs_none(exported) -> None:
    listed = CliRunner().invoke(
        app, ["airflow", "catch-up", "--dry-run", WEEK[0].isoformat(), WEEK[-1].isoformat()]
    )
    assert listed.exit_code == 0, listed.output
    assert f"nights to run: {WEEK[3]} .. {WEEK[-1]} (4)" in listed.output
    assert f"{WEEK[3]}: credit_ingest, credit_transform, credit_export_daily" in listed.output
    assert nights.exported_nights(exported) == set(WEEK[:3])
    before = (WEEK[0] - dt.timedelta(days=1)).isoformat()
    refused = CliRunner().invoke(app, ["airflow", "catch-up", before, WEEK[-1].isoformat()])
    assert refused.exit_code == 1
    assert f"the night of {WEEK[2]} is exported already" in refused.output


def test_a_new_warehouse_needs_the_first_day(warehouse_url, monkeypatch) -> None:
    url = warehouse.database_url("catch_up_new")
    warehouse.drop_database(url)
    monkeypatch.setenv(warehouse.ENV_URL, url)
    warehouse.ensure_warehouse()
    try:
        with pytest.raises(nights.CatchUpRefused, match="give the first day"):
            nights.nights_to_run(url, None, None, WEEK[-1])
        assert nights.nights_to_run(url, WEEK[0], WEEK[1], WEEK[-1]) == WEEK[:2]
    finally:
        warehouse.drop_database(url)


def test_a_quarterly_export_due_the_morning_after_a_night_is_part_of_it() -> None:
    # 2026Q1's statistics go out on the 5th working day after 31 March: Wednesday 8 April.
    assert nights.quarterly_export_due(dt.date(2026, 4, 7)) == "2026Q1"
    steps = nights.night_steps(dt.date(2026, 4, 7))
    assert [step.dag_id for step in steps] == [
        nights.INGEST,
        nights.TRANSFORM,
        nights.EXPORT_DAILY,
        nights.EXPORT_QUARTERLY,
    ]
    morning = steps[-1].logical_date
    assert (morning.date(), morning.hour) == (dt.date(2026, 4, 8), 6)
    for day in (dt.date(2026, 3, 31), dt.date(2026, 4, 6), dt.date(2026, 4, 8)):
        assert nights.quarterly_export_due(day) is None
        assert nights.EXPORT_QUARTERLY not in [step.dag_id for step in nights.night_steps(day)]


def test_a_night_runs_its_day_then_builds_and_exports_as_of_it() -> None:
    ingest, transform, export = nights.night_steps(WEEK[0])
    assert (ingest.dag_id, ingest.logical_date.date(), ingest.logical_date.hour) == (
        nights.INGEST,
        WEEK[0],
        0,
    )
    assert ingest.logical_date.utcoffset() == dt.timedelta(hours=8)  # the county's midnight
    assert (transform.dag_id, transform.conf) == (nights.TRANSFORM, {"as_of_date": "2026-03-02"})
    assert export.dag_id == nights.EXPORT_DAILY


@pytest.mark.long
def test_a_week_caught_up_by_one_command_equals_the_week_run_night_by_night(
    tmp_path_factory, airflow_ready
) -> None:
    """One warehouse runs each night of a week the morning after its day, the county advanced a
    day at a time; a second, over the same county's systems, missed the week and catches it up
    by one command once it is over, its outbox unwritable on the fourth night (the nights stop
    there; fixed, the same command resumes). Same rows, marts and exports."""
    with simulated_county(tmp_path_factory, "on_time", FIRST_DAY, WEEK[0]) as on_time:
        run_dag(nights.REFERENCE)  # as `credit service up` does on a new warehouse
        for day in WEEK:
            engine.advance(day)
            nights.run_night_here(day, nights.night_steps(day))
        late = late_warehouse(on_time, tmp_path_factory)
        with late.active():
            failed, resumed = catch_up_failing_on(WEEK[0], WEEK[-1], unwritable=WEEK[3])
            got = {day: export_files(day) for day in WEEK}
        assert (failed.day, failed.dag_id) == (WEEK[3], nights.EXPORT_DAILY)
        assert f"nights to run: {WEEK[3]} .. {WEEK[-1]} (4)" in resumed
        assert differing_tables(on_time.url, late.url) == []
        assert got == {day: export_files(day) for day in WEEK}
        assert exports_logged(late.url) == exports_logged(on_time.url)
        # The portal, given the first night's whole list and each night's changes, holds the
        # last night's whole list.
        export_daily_publicity(full=True)
        assert publicity_applied(WEEK) == publicity_csv(WEEK[-1], "listed")
