"""Batch-level checks (批次检查): mandatory columns present, freshness.

They look at a landed batch as a whole.  A failing one is recorded in ``audit.batch_checks``
with status ``warning`` and never fails the batch or quarantines a row: an unusually small
delivery is worth a look (应归尽归), not a reason to drop what did arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from credit.catalogue import RecordKind
from credit.validation.sql import BLANK_PATTERN

DEFAULT_FRESHNESS_DAYS = 7


@dataclass(frozen=True)
class BatchCheck:
    """The outcome of one batch-level check."""

    name: str
    passed: bool
    observed: str
    expected: str

    @property
    def status(self) -> str:
        return "passed" if self.passed else "warning"


def run_batch_checks(
    conn: psycopg.Connection,
    kind: RecordKind,
    batch_id: int,
    logical_date: date,
    *,
    freshness_days: int,
) -> list[BatchCheck]:
    """Every batch-level check of one batch (volume is checked per source and night, in
    :func:`credit.ingest.check_collection`)."""
    return [
        _columns_present(conn, kind, batch_id),
        _freshness(conn, kind, batch_id, logical_date, freshness_days),
    ]


def _columns_present(conn: psycopg.Connection, kind: RecordKind, batch_id: int) -> BatchCheck:
    """No mandatory column is empty in every row: a mapping or export gone wrong at the source."""
    mandatory = [c.name for c in kind.columns if c.mandatory]
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) filter (where {c} !~ {blank})").format(
            c=sql.Identifier(name), blank=sql.Literal(BLANK_PATTERN)
        )
        for name in mandatory
    )
    row = conn.execute(
        sql.SQL("select count(*), {} from raw.{} where batch_id = %s").format(
            counts, sql.Identifier(kind.name)
        ),
        (batch_id,),
    ).fetchone()
    total, filled = row[0], row[1:]
    empty = [name for name, count in zip(mandatory, filled, strict=True) if count == 0]
    return BatchCheck(
        "mandatory_columns_present",
        total == 0 or not empty,
        ",".join(empty) if total else "no rows",
        "every mandatory column filled in at least one row",
    )


def _freshness(
    conn: psycopg.Connection, kind: RecordKind, batch_id: int, logical_date: date, days: int
) -> BatchCheck:
    """The newest ``updated_at`` is recent: a source re-sending old rows has a stuck extract."""
    newest = conn.execute(
        sql.SQL(
            "select max(audit.iso_timestamp(updated_at))::date from raw.{} where batch_id = %s"
        ).format(sql.Identifier(kind.name)),
        (batch_id,),
    ).fetchone()[0]
    oldest_allowed = logical_date - timedelta(days=days)
    return BatchCheck(
        "freshness",
        newest is None or newest >= oldest_allowed,
        newest.isoformat() if newest else "no valid updated_at",
        f">= {oldest_allowed.isoformat()} ({days} days before {logical_date.isoformat()})",
    )


def record_batch_checks(conn: psycopg.Connection, batch_id: int, checks: list[BatchCheck]) -> None:
    """Replace the batch's rows in ``audit.batch_checks`` (caller's transaction)."""
    conn.execute("delete from audit.batch_checks where batch_id = %s", (batch_id,))
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into audit.batch_checks
                (batch_id, check_name, passed, status, observed, expected)
            values (%s, %s, %s, %s, %s, %s)
            """,
            [(batch_id, c.name, c.passed, c.status, c.observed, c.expected) for c in checks],
        )
