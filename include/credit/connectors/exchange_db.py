"""Exchange database (前置库): incremental pulls by a change timestamp above a stored watermark."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

import psycopg
from psycopg import sql

from credit.catalogue import RecordKind
from credit.connectors import (
    Chunk,
    Pull,
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
            exists = conn.execute(
                "select to_regclass(%s) is not null", (relation.as_string(conn),)
            ).fetchone()[0]
            if not exists:
                return
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
                    yield rows, records[-1][changed]  # the latest: rows come in its order
    except psycopg.errors.UndefinedColumn as error:
        # The key or change timestamp the registry names is not the system's.
        raise SourceUnavailable(
            f"exchange database {exchange.schema}.{exchange.table(kind.name)}:"
            f" {error.diag.message_primary or error}"
            " (the key and change-timestamp columns are the exchange settings of sources.yaml)"
        ) from error
    except psycopg.OperationalError as error:
        raise SourceUnavailable(f"exchange database {exchange.schema}: {error}".strip()) from error
