"""Connectors for the three shapes of department system (源系统): exchange database (前置库),
drop folder and HTTP API.  Each turns what its system holds into :class:`~credit.landing.SourceRow`
values with canonical column names; none of them writes to the warehouse."""

from __future__ import annotations

import json
import time as clock
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from credit.catalogue import RecordKind
from credit.landing import SourceRow
from credit.sources import CHANGED_AT, KEY

# Department systems keep China Standard Time; a logical date is a day in Jiangyin.
COUNTY_TZ = ZoneInfo("Asia/Shanghai")


class SourceUnavailable(RuntimeError):
    """A department's system could not be reached or answered with an error."""


class RejectedDelivery(ValueError):
    """A delivery that cannot be read as rows at all (bad file name, unknown department...)."""


# (rows, the largest ``updated_at`` among them): one fetch from a table or one page of an API.
# A date where a system keeps only the day of a change.
Chunk = tuple[list[SourceRow], date | None]


class Pull:
    """The rows of an incremental pull (a table's or an API's), read as they are iterated, a
    chunk at a time: a pull of any size, a five-year backlog's included, holds one chunk in
    memory while it is landed.  As it goes it keeps the largest ``updated_at`` read
    (``watermark``), the rows read (``rows_read``) and the time spent reading, waiting on the
    system and converting its values (``seconds``).  Iterated once."""

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._chunks = chunks
        self.watermark: date | None = None
        self.rows_read = 0
        self.seconds = 0.0

    def __iter__(self) -> Iterator[SourceRow]:
        while True:
            began = clock.perf_counter()
            # The previous chunk's rows are freed as the next one replaces it: making and
            # freeing the rows read is reading's cost.
            rows = []
            chunk = next(self._chunks, None)
            self.seconds += clock.perf_counter() - began
            if chunk is None:
                return
            rows, watermark = chunk
            if watermark is not None:
                self.watermark = max(self.watermark or watermark, watermark)
            self.rows_read += len(rows)
            yield from rows


def day_end(logical_date: date) -> datetime:
    """The first instant after a logical date, in the county's time zone."""
    return datetime.combine(logical_date + timedelta(days=1), time(), COUNTY_TZ)


def as_text(value: object) -> str | None:
    """A source value as the text a person would read in the system: ISO dates, plain numbers,
    an object or list (a JSON field where text belongs) as its JSON."""
    if value is None:
        return None
    if isinstance(value, dict | list):  # and a database's array, of dates say, the same way
        return json.dumps(value, ensure_ascii=False, default=as_text)
    if isinstance(value, datetime):
        return _county_time(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _county_time(moment: datetime) -> datetime:
    """A date-time in the county's zone; one without a zone, or at the calendar's edge in its
    own (9999-12-31, a system's "for ever"), as it is."""
    try:
        return moment.astimezone(COUNTY_TZ) if moment.tzinfo else moment
    except OverflowError:
        return moment


def source_names(
    columns: tuple[str, ...], field_map: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The name a source gives each of the catalogue's ``columns``: ``field_map`` maps source
    names to columns, and a column it does not map keeps its own name."""
    source_name = {column: name for name, column in (field_map or {}).items()}
    return tuple(source_name.get(column, column) for column in columns)


def key_names(kind: RecordKind, names: tuple[str, ...]) -> tuple[str, str]:
    """The names a source gives its key and change timestamp (``record_id``, ``updated_at``),
    of its names for the kind's columns (:func:`source_names`)."""
    columns = kind.column_names
    return names[columns.index(KEY)], names[columns.index(CHANGED_AT)]


def text_values(record: Mapping[str, object], names: tuple[str, ...]) -> tuple[str | None, ...]:
    """The values of a source record under ``names`` (:func:`source_names`), as text, in the
    catalogue's column order (a :class:`~credit.landing.SourceRow`'s ``values``)."""
    return tuple(as_text(record.get(name)) for name in names)
