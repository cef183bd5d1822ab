"""The quarterly export's timetable: the Nth Chinese working day after each quarter."""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction

from credit.airflow_env import COUNTY_TIMEZONE
from credit.exports.schedule import QuarterlyWorkingDayTimetable, export_day


def _at(*args) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=COUNTY_TIMEZONE)


def test_export_day_skips_weekends_and_holidays() -> None:
    # 2026-03-31 is a Tuesday; 4-6 April are the Qingming holiday.
    assert export_day(dt.date(2026, 3, 31), 3) == dt.date(2026, 4, 3)
    assert export_day(dt.date(2026, 3, 31), 5) == dt.date(2026, 4, 8)
    # National Day and Mid-Autumn: 1-8 October 2025; Saturday 11 October is a make-up day.
    assert export_day(dt.date(2025, 9, 30), 3) == dt.date(2025, 10, 11)
    assert export_day(dt.date(2025, 9, 30), 5) == dt.date(2025, 10, 14)


def test_one_run_per_quarter_on_its_working_day() -> None:
    timetable = QuarterlyWorkingDayTimetable(5, 6)
    restriction = TimeRestriction(earliest=_at(2026, 1, 1), latest=None, catchup=True)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first.data_interval == DataInterval(_at(2026, 1, 1), _at(2026, 4, 1))
    assert first.run_after == _at(2026, 4, 8, 6)
    second = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert second.data_interval == DataInterval(_at(2026, 4, 1), _at(2026, 7, 1))
    assert second.run_after.date() == export_day(dt.date(2026, 6, 30), 5)
    late_start = TimeRestriction(earliest=_at(2026, 1, 5), latest=None, catchup=True)
    third = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=late_start)
    assert third.data_interval.start == _at(2026, 4, 1), "a quarter begun before the start waits"


def test_a_manual_run_exports_the_last_closed_quarter() -> None:
    timetable = QuarterlyWorkingDayTimetable(5, 6)
    interval = timetable.infer_manual_data_interval(run_after=_at(2026, 4, 8, 6))
    assert interval == DataInterval(_at(2026, 1, 1), _at(2026, 4, 1))


def test_the_timetable_round_trips_through_serialisation() -> None:
    timetable = QuarterlyWorkingDayTimetable(7, 9)
    again = QuarterlyWorkingDayTimetable.deserialize(timetable.serialize())
    assert (again.working_days, again.hour) == (7, 9)
