"""Seasonality of administrative activity in the simulated county: weekdays, months and
enforcement campaigns (专项整治) make departments busier or quieter."""

from __future__ import annotations

import datetime as dt

from credit.workdays import is_working_day


def in_window(day: dt.date, start: str, end: str) -> bool:
    """Whether ``day`` falls in an MM-DD window, which may wrap over the new year."""
    key = day.strftime("%m-%d")
    return start <= key <= end if start <= end else key >= start or key <= end


def activity_factor(
    day: dt.date, dept_code: str, kind: str, config: dict, *, working: bool | None = None
) -> float:
    """How busy ``dept_code`` is with ``kind`` on ``day``, relative to an ordinary day."""
    working = is_working_day(day) if working is None else working
    factor = 1.0 if working else float(config["non_working_day_factor"])
    factor *= float(config["weekday_factors"][day.weekday()])
    factor *= float(config["month_factors"][day.month])
    for campaign in config["campaigns"]:
        applies = kind in campaign["kinds"] and (
            not campaign["depts"] or dept_code in campaign["depts"]
        )
        if applies and in_window(day, campaign["start"], campaign["end"]):
            factor *= float(campaign["factor"])
    return factor
