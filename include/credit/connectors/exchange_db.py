"""Exchange database (前置库): incremental pulls by a change timestamp above a stored watermark."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.postgres import types as pg_types
from psycopg.pq import Format
from psycopg.types.string import TextLoader

from credit.catalogue import RecordKind
from credit.connectors import (
    Chunk,
    Pull,
    RejectedDelivery,
    SourceUnavailable,
    as_text,
    key_names,
    source_names,
    text_values,
)
from credit.landing import SourceRow
from credit.sources import ExchangeProtocol

# Rows fetched at a time from the server-side cursor: large enough that a round trip is cheap
# beside the rows, small enough that a five-year pull holds a few MB.
FETCH_ROWS = 20_000


def pull_table(
    url: str,
    exchange: ExchangeProtocol,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None = None,
) -> Pull:
    """Rows of the kind's table or view (``exchange``) changed after ``since`` and before
    ``until``, in order of their change timestamp, read through a server-side cursor as the
    pull is iterated.  ``field_map`` (:meth:`~credit.sources.Source.field_map_of`) names the
    system's columns, its key and change timestamp (those of ``record_id`` and ``updated_at``)
    among them.

    ``until`` (the end of the logical date) keeps a night's batch to its own day even when the
    system already holds later rows, so a backfill of past dates reads the same rows.
    """
    return Pull(_fetches(url, exchange, kind, since, until, field_map))


def _fetches(
    url: str,
    exchange: ExchangeProtocol,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None,
) -> Iterator[Chunk]:
    names = source_names(kind.column_names, field_map)
    key, changed = key_names(kind, names)
    relation = sql.Identifier(exchange.schema, exchange.table(kind.name))
    query = sql.SQL(
        "select * from {relation} where {changed} < %s"
        " and (%s::timestamptz is null or {changed} > %s) order by {changed}, {key}"
    ).format(relation=relation, changed=sql.Identifier(changed), key=sql.Identifier(key))
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            table = relation.as_string(conn)
            columns = _column_types(conn, table)
            if columns is None:
                return
            _check_pullable(table, columns, key, changed)
            # A pull from a watermark bounds the change timestamp between two dates Python holds:
            # its type is read at C speed (a Python loader costs a microsecond a value) unless
            # another column has it.
            unbounded = (n for n in columns if n != changed or since is None)
            for oid in {columns[name][0] for name in unbounded}:
                _load_leniently(conn, oid)
            with conn.cursor(name="pull", row_factory=psycopg.rows.dict_row) as cursor:
                cursor.execute(query, (until, since, since))
                # Columns the source's names do not read (a system that added one): kept, as text.
                known = set(names)
                extra = [c.name for c in cursor.description or () if c.name not in known]
                while records := cursor.fetchmany(FETCH_ROWS):
                    rows = [
                        SourceRow(
                            source_ref=str(record[key]),
                            values=text_values(record, names),
                            extra_fields={c: as_text(record[c]) for c in extra} or None,
                        )
                        for record in records
                    ]
                    # The latest (rows come in its order), unless Python could not read it.
                    latest = records[-1][changed]
                    yield rows, latest if isinstance(latest, date) else None
    except psycopg.OperationalError as error:
        raise SourceUnavailable(f"exchange database {exchange.schema}: {error}".strip()) from error


def _column_types(conn: psycopg.Connection, relation: str) -> dict[str, tuple[int, str]] | None:
    """A table's or view's columns (``relation``: its quoted name): name -> (type oid, type
    name); None when there is no such relation."""
    found = conn.execute(
        "select a.attname::text, a.atttypid::int, format_type(a.atttypid, a.atttypmod)"
        " from (select to_regclass(%s) as oid) as t left join pg_attribute as a"
        " on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped"
        " where t.oid is not null",
        (relation,),
    ).fetchall()
    if not found:
        return None
    return {name: (oid, type_name) for name, oid, type_name in found if name is not None}


# What the change timestamp may be: the pull compares it with the end of the day, keeps its latest.
WATERMARK_TYPES = frozenset(pg_types[name].oid for name in ("timestamptz", "timestamp", "date"))


def _check_pullable(
    table: str, columns: dict[str, tuple[int, str]], key: str, changed: str
) -> None:
    """A table the pull can read: rows named by the key ``key`` and ordered by the change
    timestamp ``changed`` (the names sources.yaml gives them); :class:`RejectedDelivery` saying
    what it lacks."""
    for role, column in (("key", key), ("change-timestamp", changed)):
        if column not in columns:
            raise RejectedDelivery(
                f"exchange table {table} has no {role} column {column}"
                " (the key and change-timestamp columns are the exchange settings of sources.yaml)"
            )
    oid, type_name = columns[changed]
    if oid not in WATERMARK_TYPES:
        raise RejectedDelivery(f"exchange table {table}: {changed} is {type_name}, no timestamp")


# Types whose every value psycopg reads into Python: read as they are, at C speed.
PLAIN_TYPES = frozenset(
    pg_types[name].oid
    for names in (
        ("text", "varchar", "bpchar", "name", "bool", "uuid", "bytea", "oid"),
        ("int2", "int4", "int8", "float4", "float8", "numeric"),
    )
    for name in names
)
# JSON is kept as the text the system holds: read into Python and printed back it would not
# be the same text, and its escapes can hold NUL or a lone surrogate, which landing cannot.
JSON_TYPES = frozenset(pg_types[name].oid for name in ("json", "jsonb"))


def _load_leniently(conn: psycopg.Connection, oid: int) -> None:
    """Read values of type ``oid`` on ``conn`` so that none stops the pull: a value Python has
    no object for (a date ``infinity`` or before year 1, a time of 24:00, an interval beyond
    a ``timedelta``) comes as the text the database wrote, which validation then judges."""
    if oid in JSON_TYPES:
        conn.adapters.register_loader(oid, TextLoader)
    elif oid not in PLAIN_TYPES and (loader := conn.adapters.get_loader(oid, Format.TEXT)):
        conn.adapters.register_loader(oid, _lenient(loader))


@cache
def _lenient(loader: type[Loader]) -> type[Loader]:
    """``loader``, falling back to the value's text when it cannot read a value."""

    class Lenient(Loader):
        def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
            super().__init__(oid, context)
            self._loader = loader(oid, context)
            self._text = TextLoader(oid, context)

        def load(self, data: Buffer) -> Any:
            try:
                return self._loader.load(data)
            except (psycopg.DataError, ValueError, OverflowError):
                return self._text.load(data)

    return Lenient
