"""Which nights ``credit airflow catch-up`` runs (:mod:`credit.nights`), and the chain of each.

The nights themselves, caught up and compared with the same nights run one by one, are in
``tests/test_warning_feedback.py``, over the county whose nights that module runs on time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest

from credit import nights, warehouse

WEEK = [dt.date(2026, 3, 2) + dt.timedelta(days=n) for n in range(7)]


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
