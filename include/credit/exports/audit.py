"""The exports' audit trail: ``audit.exports`` (every export written) and ``audit.deliveries``
(every e-mail sent or failed), so what each recipient received, and when, can be shown."""

from __future__ import annotations

import json

import psycopg

from credit.exports.outbox import Export

EXPORT_AUDIT_DDL = """
create schema if not exists audit;

create table if not exists audit.exports (
    export_id bigint generated always as identity primary key,
    kind text not null,
    period text not null,
    as_of_date date not null,
    folder text not null,
    file_count integer not null,
    row_count bigint not null,
    content_sha256 text not null,
    exported_at timestamptz not null default now()
);
create index if not exists exports_period_idx on audit.exports (kind, period);

create table if not exists audit.deliveries (
    delivery_id bigint generated always as identity primary key,
    export_id bigint not null references audit.exports (export_id),
    kind text not null,
    period text not null,
    recipient_id text not null,
    email text not null,
    files jsonb not null,
    content_sha256 text not null,
    status text not null check (status in ('sent', 'failed')),
    forced boolean not null default false,
    error text,
    delivered_at timestamptz not null default now()
);
create index if not exists deliveries_recipient_idx
    on audit.deliveries (kind, period, recipient_id);
"""


def create_export_audit_tables(conn: psycopg.Connection) -> None:
    conn.execute(EXPORT_AUDIT_DDL)


def record_export(url: str, export: Export) -> int:
    """Log one export; returns its ``export_id``."""
    with psycopg.connect(url) as conn:
        create_export_audit_tables(conn)
        (export_id,) = conn.execute(
            """
            insert into audit.exports
                (kind, period, as_of_date, folder, file_count, row_count, content_sha256)
            values (%s, %s, %s, %s, %s, %s, %s)
            returning export_id
            """,
            (
                export.kind,
                export.period,
                export.as_of_date,
                str(export.folder),
                len(export.files),
                sum(sum(f.rows.values()) for f in export.files if f.path.endswith(".xlsx")),
                export.content_sha256,
            ),
        ).fetchone()
    return export_id


def already_delivered(url: str, kind: str, period: str, recipient_id: str, content: str) -> bool:
    """Whether this recipient was already sent exactly these files for this period."""
    with psycopg.connect(url) as conn:
        create_export_audit_tables(conn)
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
