"""The exports' audit trail: ``audit.exports`` (every version written) and ``audit.deliveries``
(every e-mail sent or failed), so what each recipient received, and when, can be shown; each is
also an entry of the access log (``audit.access_log``), with the login that made it."""

from __future__ import annotations

import json

import psycopg
from psycopg.types.json import Jsonb

from credit.exports.outbox import Export


def record_export(url: str, export: Export) -> int | None:
    """Log one export: a new version of its period in ``audit.exports`` (returns its
    ``export_id``), and in the access log every export made, also one that made no new version
    because its files were the latest version's (nothing written, ``None`` returned)."""
    export_id = None
    with psycopg.connect(url) as conn:
        if export.new:
            (export_id,) = conn.execute(
                """
                insert into audit.exports (kind, period, version, as_of_date, folder,
                    file_count, row_count, content_sha256, lineage)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                returning export_id
                """,
                (
                    export.kind,
                    export.period,
                    export.version,
                    export.as_of_date,
                    str(export.folder),
                    len(export.files),
                    # Each table has one CSV file, a table too long for a sheet only that one.
                    sum(sum(f.rows.values()) for f in export.files if f.path.endswith(".csv")),
                    export.content_sha256,
                    Jsonb(export.lineage) if export.lineage is not None else None,
                ),
            ).fetchone()
        _log_access(
            conn,
            "export",
            f"{export.kind}/{export.period}",
            {
                "export_id": export_id,
                "version": export.version,
                "new_version": export.new,
                "files": len(export.files),
            },
        )
    return export_id


def exported_periods(url: str, kind: str) -> set[str]:
    """The periods (days, quarters) of ``kind`` exported at least once."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct period from audit.exports where kind = %s", (kind,)
        ).fetchall()
    return {period for (period,) in rows}


def already_delivered(url: str, kind: str, period: str, recipient_id: str, content: str) -> bool:
    """Whether this recipient was already sent exactly these files for this period."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            select 1 from audit.deliveries
            where kind = %s and period = %s and recipient_id = %s
                and content_sha256 = %s and status = 'sent'
            limit 1
            """,
            (kind, period, recipient_id, content),
        ).fetchone()
    return row is not None


def record_delivery(
    url: str,
    *,
    export_id: int,
    export: Export,
    recipient_id: str,
    email: str,
    files: list[dict[str, str]],
    content: str,
    status: str,
    forced: bool,
    error: str | None = None,
) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            insert into audit.deliveries (export_id, kind, period, recipient_id, email, files,
                content_sha256, status, forced, error)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                export_id,
                export.kind,
                export.period,
                recipient_id,
                email,
                json.dumps(files, ensure_ascii=False),
                content,
                status,
                forced,
                error,
            ),
        )
        _log_access(
            conn,
            "delivery",
            f"{export.kind}/{export.period}",
            {"export_id": export_id, "recipient_id": recipient_id, "status": status},
        )


def _log_access(conn: psycopg.Connection, action: str, target: str, detail: dict) -> None:
    conn.execute(
        "insert into audit.access_log (action, target, detail) values (%s, %s, %s)",
        (action, target, Jsonb(detail)),
    )
