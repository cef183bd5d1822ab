"""The quarterly export's schedule: the Nth Chinese working day (工作日) after a quarter ends.

Each run's data interval is one quarter (county time); it is created on the Nth working day
after the quarter's last day, at the configured hour, once the departments' quarterly reports
(sent on the 3rd working day) and late corrections have arrived. Working days come from
:mod:`credit.workdays` (State Council holiday arrangements, make-up weekend days included).
Registered with Airflow by ``plugins/credit_timetables.py``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from credit.airflow_env import COUNTY_TIMEZONE
from credit.exports.periods import last_closed_quarter, next_quarter_start, quarter_bounds
from credit.workdays import add_working_days


def export_day(quarter_end: date, working_days: int) -> date:
    """The Nth working day after ``quarter_end``."""
    return add_working_days(quarter_end, working_days)


class QuarterlyWorkingDayTimetable(Timetable):
    """One run per quarter, on the Nth working day after it ends."""

    def __init__(self, working_days_after_quarter_end: int = 5, hour: int = 6) -> None:
        if working_days_after_quarter_end < 1 or not 0 <= hour <= 23:
            raise ValueError("working days must be >= 1 and the hour 0..23")
        self.working_days = working_days_after_quarter_end
        self.hour = hour
        self.description = f"working day {self.working_days} after each quarter, {hour:02d}:00 CST"

    @property
    def summary(self) -> str:
        return f"quarterly, working day {self.working_days} after quarter end"

    def serialize(self) -> dict[str, Any]:
        return {"working_days": self.working_days, "hour": self.hour}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(int(data["working_days"]), int(data["hour"]))

    def _interval(self, quarter_start: date) -> DataInterval:
        end = next_quarter_start(quarter_start)
        return DataInterval(
            start=pendulum.datetime(*quarter_start.timetuple()[:3], tz=COUNTY_TIMEZONE),
            end=pendulum.datetime(*end.timetuple()[:3], tz=COUNTY_TIMEZONE),
        )

    def run_after(self, quarter_start: date) -> pendulum.DateTime:
        quarter_end = next_quarter_start(quarter_start) - timedelta(days=1)
        day = export_day(quarter_end, self.working_days)
        return pendulum.datetime(day.year, day.month, day.day, self.hour, tz=COUNTY_TIMEZONE)

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        """A manual run exports the last quarter closed before the day it runs for."""
        day = run_after.in_timezone(COUNTY_TIMEZONE).date() - timedelta(days=1)
        start, _ = quarter_bounds(last_closed_quarter(day))
        return self._interval(start)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end.in_timezone(COUNTY_TIMEZONE).date()
        else:
            if restriction.earliest is None:
                return None
            earliest = restriction.earliest.in_timezone(COUNTY_TIMEZONE).date()
            start = next_quarter_start(earliest - timedelta(days=1))
            if not restriction.catchup:
                today = pendulum.now(COUNTY_TIMEZONE).date()
                latest_closed, _ = quarter_bounds(last_closed_quarter(today))
                start = max(start, latest_closed)
        interval = self._interval(start)
        if restriction.latest is not None and interval.start > restriction.latest:
            return None
        return DagRunInfo(run_after=self.run_after(start), data_interval=interval)
