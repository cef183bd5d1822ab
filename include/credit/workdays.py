"""Chinese working days (工作日), for deadlines, volume checks and the simulator.

``chinese_calendar`` knows the State Council's holiday arrangements (including the weekend
make-up days) up to the last year it ships; later years fall back to weekends plus the fixed
statutory holidays, which is close enough for simulated activity.

The warehouse counts working days with the same calendar: the dbt seed
``reference/working_days.csv`` is written from :func:`is_working_day` (regenerate it with
``python -m credit.workdays`` when chinese_calendar ships a new year; a test keeps the two equal).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import cache

import chinese_calendar

from credit.paths import DBT_PROJECT_DIR

# Fixed-date statutory holidays used beyond chinese_calendar's range (New Year, Labour Day,
# National Day); the lunar ones move and are not approximated.
_FALLBACK_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), *((10, d) for d in range(1, 8))}

# The days the warehouse's calendar seed covers: the records' decision and change dates.
CALENDAR_SEED = DBT_PROJECT_DIR / "seeds" / "reference" / "working_days.csv"
CALENDAR_FIRST_DAY = dt.date(2020, 1, 1)
CALENDAR_LAST_DAY = dt.date(2035, 12, 31)


@cache
def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5 and (day.month, day.day) not in _FALLBACK_HOLIDAYS


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, otherwise the next one."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The working day ``count`` working days after ``day`` (count >= 1)."""
    while count > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of month ``months`` later, clipped to the month's end (28 is always safe)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: day 28 exists in every month")


def render_calendar_seed(
    first: dt.date = CALENDAR_FIRST_DAY, last: dt.date = CALENDAR_LAST_DAY
) -> str:
    """The seed ``working_days.csv``: every day from ``first`` to ``last``, whether it is a
    working day, and ``working_day_number``, the working days from ``first`` up to and including
    it; so the Nth working day after a day is the working day numbered its number + N."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("calendar_date", "is_working_day", "working_day_number"))
    day, number = first, 0
    while day <= last:
        working = is_working_day(day)
        number += working
        writer.writerow((day.isoformat(), str(working).lower(), number))
        day += dt.timedelta(days=1)
    return out.getvalue()


if __name__ == "__main__":
    CALENDAR_SEED.write_text(render_calendar_seed(), encoding="utf-8")
    print(CALENDAR_SEED)
