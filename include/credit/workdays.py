"""Chinese working days (工作日), for deadlines, volume checks and the simulator.

``chinese_calendar`` knows the State Council's holiday arrangements (including the weekend
make-up days) up to the last year it ships; later years fall back to weekends plus the fixed
statutory holidays, which is close enough for simulated activity.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import chinese_calendar

# Fixed-date statutory holidays used beyond chinese_calendar's range (New Year, Labour Day,
# National Day); the lunar ones move and are not approximated.
_FALLBACK_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), *((10, d) for d in range(1, 8))}


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
