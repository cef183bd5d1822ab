"""Exchange database (前置库): incremental pulls by ``updated_at`` above a stored watermark."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from credit.catalogue import RecordKind
from credit.connectors import SourceUnavailable, text_values
from credit.landing import SourceRow


@dataclass(frozen=True)
class TablePull:
    rows: list[SourceRow]
    watermark: datetime | None  # the largest updated_at pulled, None when nothing was new


def pull_table(
    url: str,
    schema: str,
    kind: RecordKind,
    since: datetime | None,
    until: datetime,
    field_map: Mapping[str, str] | None = None,
) -> TablePull:
    """Rows of ``<schema>.<kind>`` changed after ``since`` and before ``until``.

    ``until`` (the end of the logical date) keeps a night's batch to its own day even when the
    system already holds later rows, so a backfill of past dates reads the same rows.
    """
    query = sql.SQL(
        "select * from {}.{} where updated_at < %s and (%s::timestamptz is null or updated_at > %s)"
        " order by updated_at, record_id"
    ).format(sql.Identifier(schema), sql.Identifier(kind.name))
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            exists = conn.execute(
                "select to_regclass(%s) is not null", (f'"{schema}"."{kind.name}"',)
            ).fetchone()[0]
            if not exists:
                return TablePull([], None)
            cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
            records = cursor.execute(query, (until, since, since)).fetchall()
    except psycopg.OperationalError as error:
        raise SourceUnavailable(f"exchange database {schema}: {error}".strip()) from error
    rows = [
        SourceRow(
            source_ref=str(record["record_id"]),
            values=text_values(record, kind.column_names, field_map),
        )
        for record in records
    ]
    return TablePull(rows, max((r["updated_at"] for r in records), default=None))
