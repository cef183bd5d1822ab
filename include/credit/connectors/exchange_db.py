"""Exchange database (前置库): incremental pulls by ``updated_at`` above a stored watermark."""

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
    source_names,
    text_values,
)
from credit.landing import SourceRow

# Rows fetched at a time from the server-side cursor: large enough that a round trip is cheap
# beside the rows, small enough that a five-year pull holds a few MB.
FETCH_ROWS = 20_000


def pull_table(
    url: str,
    schema: str,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None = None,
) -> Pull:
    """Rows of ``<schema>.<kind>`` changed after ``since`` and before ``until``, in order of
    ``updated_at``, read through a server-side cursor as the pull is iterated.

    ``until`` (the end of the logical date) keeps a night's batch to its own day even when the
    system already holds later rows, so a backfill of past dates reads the same rows.
    """
    return Pull(_fetches(url, schema, kind, since, until, field_map))


def _fetches(
    url: str,
    schema: str,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None,
) -> Iterator[Chunk]:
    query = sql.SQL(
        "select * from {}.{} where updated_at < %s and (%s::timestamptz is null or updated_at > %s)"
        " order by updated_at, record_id"
    ).format(sql.Identifier(schema), sql.Identifier(kind.name))
    names = source_names(kind.column_names, field_map)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            exists = conn.execute(
                "select to_regclass(%s) is not null", (f'"{schema}"."{kind.name}"',)
            ).fetchone()[0]
            if not exists:
                return
            with conn.cursor(name="pull", row_factory=psycopg.rows.dict_row) as cursor:
                cursor.execute(query, (until, since, since))
                # Columns the catalogue does not know (a system that added one): kept, as text.
                known = set(names)
                extra = [c.name for c in cursor.description or () if c.name not in known]
                while records := cursor.fetchmany(FETCH_ROWS):
                    rows = [
                        SourceRow(
                            source_ref=str(record["record_id"]),
                            values=text_values(record, names),
                            extra_fields={c: as_text(record[c]) for c in extra} or None,
                        )
                        for record in records
                    ]
                    yield rows, records[-1]["updated_at"]  # the latest: rows come in its order
    except psycopg.OperationalError as error:
        raise SourceUnavailable(f"exchange database {schema}: {error}".strip()) from error
