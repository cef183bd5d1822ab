"""Batch-level checks (批次检查): mandatory columns present, freshness.

They look at a landed batch as a whole.  A failing one is recorded in ``audit.batch_checks``
with status ``warning`` and never fails the batch or quarantines a row: an unusually small
delivery is worth a look (应归尽归), not a reason to drop what did arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from credit.catalogue import RecordKind

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


def run_group_batch_checks(
    conn: psycopg.Connection,
    kind: RecordKind,
    batches: sql.Composable,
    logical_dates: Mapping[int, date],
    sizes: Mapping[int, tuple[int, Mapping[str, int]]],
    *,
    freshness_days: int,
) -> dict[int, list[BatchCheck]]:
    """The checks of several batches of one kind ({batch_id: logical date}), each batch judged
    on its own rows and its own logical date.  ``sizes`` holds each batch's rows and the NULLs
    of every column; ``batches`` is the relation validation reads them from (blank text already
    NULL)."""
    mandatory = [c.name for c in kind.columns if c.mandatory]
    # The timestamp test costs ten times reading a row: each distinct value is tested once.
    newest: dict[int, date] = dict(
        conn.execute(
            sql.SQL(
                "select batch_id, max(audit.iso_timestamp(updated_at))::date from"
                " (select distinct batch_id, updated_at from {} where batch_id = any(%s))"
                " as stamped group by batch_id"
            ).format(batches),
            (list(logical_dates),),
        ).fetchall()
    )
    checks = {}
    for batch_id, logical_date in logical_dates.items():
        total, nulls = sizes.get(batch_id, (0, dict.fromkeys(mandatory, 0)))
        filled = [total - nulls[name] for name in mandatory]
        checks[batch_id] = [
            _columns_present(mandatory, total, filled),
            _freshness(newest.get(batch_id), logical_date, freshness_days),
        ]
    return checks


def _columns_present(mandatory: list[str], total: int, filled: list[int]) -> BatchCheck:
    """No mandatory column is empty in every row: a mapping or export gone wrong at the source."""
    empty = [name for name, count in zip(mandatory, filled, strict=True) if count == 0]
    return BatchCheck(
        "mandatory_columns_present",
        total == 0 or not empty,
        ",".join(empty) if total else "no rows",
        "every mandatory column filled in at least one row",
    )


def _freshness(newest: date | None, logical_date: date, days: int) -> BatchCheck:
    """The newest ``updated_at`` is recent: a source re-sending old rows has a stuck extract."""
    oldest_allowed = logical_date - timedelta(days=days)
    return BatchCheck(
        "freshness",
        newest is None or newest >= oldest_allowed,
        newest.isoformat() if newest else "no valid updated_at",
        f">= {oldest_allowed.isoformat()} ({days} days before {logical_date.isoformat()})",
    )


def record_group_batch_checks(
    conn: psycopg.Connection, checks: Mapping[int, list[BatchCheck]]
) -> None:
    """Replace the rows of every batch in ``checks`` in ``audit.batch_checks`` (caller's
    transaction): delete-then-insert per batch, so re-running is idempotent."""
    conn.execute("delete from audit.batch_checks where batch_id = any(%s)", (list(checks),))
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into audit.batch_checks
                (batch_id, check_name, passed, status, observed, expected)
            values (%s, %s, %s, %s, %s, %s)
            """,
            [
                (batch_id, c.name, c.passed, c.status, c.observed, c.expected)
                for batch_id, batch_checks in checks.items()
                for c in batch_checks
            ],
        )
