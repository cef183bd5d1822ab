"""Quarters (季度) as the exports name them: ``2026Q1``."""

from __future__ import annotations

from datetime import date, timedelta


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of a quarter such as ``2026Q1``."""
    year, number = int(quarter[:4]), int(quarter[5:])
    if quarter[4] != "Q" or not 1 <= number <= 4:
        raise ValueError(f"not a quarter: {quarter!r} (expected e.g. 2026Q1)")
    start = date(year, 3 * number - 2, 1)
    return start, next_quarter_start(start) - timedelta(days=1)


def next_quarter_start(day: date) -> date:
    month = (day.month - 1) // 3 * 3 + 4
    return date(day.year + (month > 12), (month - 1) % 12 + 1, 1)


def last_closed_quarter(day: date) -> str:
    """The latest quarter that ended on or before ``day``."""
    start, end = quarter_bounds(quarter_of(day))
    return quarter_of(day) if day == end else quarter_of(start - timedelta(days=1))
