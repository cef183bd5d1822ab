"""Connectors for the three shapes of department system (源系统): exchange database (前置库),
drop folder and HTTP API.  Each turns what its system holds into :class:`~credit.landing.SourceRow`
values with canonical column names; none of them writes to the warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Department systems keep China Standard Time; a logical date is a day in Jiangyin.
COUNTY_TZ = ZoneInfo("Asia/Shanghai")


class SourceUnavailable(RuntimeError):
    """A department's system could not be reached or answered with an error."""


class RejectedDelivery(ValueError):
    """A delivery that cannot be read as rows at all (bad file name, unknown department...)."""


def day_end(logical_date: date) -> datetime:
    """The first instant after a logical date, in the county's time zone."""
    return datetime.combine(logical_date + timedelta(days=1), time(), COUNTY_TZ)


def as_text(value: object) -> str | None:
    """A source value as the text a person would read in the system: ISO dates, plain numbers."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(COUNTY_TZ).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_values(
    record: Mapping[str, object],
    columns: tuple[str, ...],
    field_map: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """The catalogue's columns of a source record; ``field_map`` maps source names to columns."""
    source_name = {column: name for name, column in (field_map or {}).items()}
    return {column: as_text(record.get(source_name.get(column, column))) for column in columns}
