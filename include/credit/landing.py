"""Landing (落地): append-only ``raw`` tables, one row per source row, with full lineage.

Each record kind of the catalogue (``config/record_kinds.yaml``) has a table ``raw.<kind>``:
lineage columns first, then every canonical column as text, exactly as the source sent it.
Typing and cleaning happen later (validation, dbt staging); here nothing is lost or changed.
A batch is written with ``COPY`` inside one transaction together with its ``audit.batches``
row, so no half batch is ever visible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql

from credit.catalogue import RecordKind, record_kinds

# (name, type) of the columns that say where a raw row came from (可查可核可溯).
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw_row_id", "bigint generated always as identity primary key"),
    ("batch_id", "bigint not null references audit.batches (batch_id)"),
    ("dept_code", "text not null"),
    ("source_ref", "text not null"),
    ("received_at", "timestamptz not null"),
    ("row_hash", "text not null"),
    ("parse_problem", "text"),
    ("extra_fields", "jsonb"),
)

AUDIT_DDL = """
create schema if not exists audit;
create schema if not exists raw;
create schema if not exists quarantine;

create table if not exists audit.batches (
    batch_id bigint generated always as identity primary key,
    dept_code text not null,
    record_kind text not null,
    shape text not null,
    logical_date date not null,
    source_ref text not null,
    source_sha256 text,
    rows_read integer not null,
    rows_accepted integer,
    rows_quarantined integer,
    status text not null default 'landed'
        check (status in ('landed', 'validated', 'failed')),
    landed_at timestamptz not null default now(),
    validated_at timestamptz,
    message text
);
create index if not exists batches_source_idx
    on audit.batches (dept_code, record_kind, logical_date);

create table if not exists audit.watermarks (
    dept_code text not null,
    record_kind text not null,
    watermark timestamptz not null,
    updated_at timestamptz not null default now(),
    primary key (dept_code, record_kind)
);

create table if not exists audit.delivered_files (
    dept_code text not null,
    file_name text not null,
    sha256 text not null,
    batch_id bigint references audit.batches (batch_id),
    received_at timestamptz not null default now(),
    file_size bigint,
    modified_ns bigint,
    primary key (dept_code, file_name, sha256)
);

create table if not exists audit.source_errors (
    error_id bigint generated always as identity primary key,
    dept_code text not null,
    record_kind text,
    logical_date date not null,
    source_ref text not null,
    error text not null,
    raised_at timestamptz not null default now()
);

create table if not exists audit.collection_checks (
    logical_date date not null,
    dept_code text not null,
    rows_received integer not null,
    expected_low integer not null,
    expected_high integer not null,
    status text not null check (status in ('passed', 'warning')),
    checked_at timestamptz not null default now(),
    primary key (logical_date, dept_code)
);

create table if not exists quarantine.rejected_rows (
    record_kind text not null,
    raw_row_id bigint not null,
    batch_id bigint not null references audit.batches (batch_id),
    dept_code text not null,
    reasons jsonb not null,
    quarantined_at timestamptz not null default now(),
    primary key (record_kind, raw_row_id)
);
create index if not exists rejected_rows_batch_idx on quarantine.rejected_rows (batch_id);

create table if not exists quarantine.rejected_files (
    dept_code text not null,
    file_name text not null,
    sha256 text not null,
    logical_date date not null,
    reason text not null,
    rejected_at timestamptz not null default now(),
    file_size bigint,
    modified_ns bigint,
    primary key (dept_code, file_name, sha256)
);
"""
# Columns added to audit tables after their first release: (schema, table) -> column DDL.
ADDED_AUDIT_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("audit", "delivered_files"): ("file_size bigint", "modified_ns bigint"),
    ("quarantine", "rejected_files"): ("file_size bigint", "modified_ns bigint"),
}


@dataclass(frozen=True)
class SourceRow:
    """One row as a source system delivered it, mapped to canonical column names.

    ``values`` hold the text exactly as received (``None`` for an absent field);
    ``source_ref`` names the row in its system (``file.csv:17`` or a ``record_id``);
    ``parse_problem`` says why a row could not be read whole (a truncated line).
    """

    source_ref: str
    values: Mapping[str, str | None]
    extra_fields: Mapping[str, str | None] | None = None
    parse_problem: str | None = None


def raw_table(kind: str) -> sql.Composed:
    return sql.SQL("raw.{}").format(sql.Identifier(kind))


def create_landing_tables(conn: psycopg.Connection) -> None:
    """Create the audit, quarantine and ``raw.<kind>`` tables when missing, and add the columns
    a newer catalogue gives a kind (landed columns are nullable text, so old rows stay as
    they are)."""
    conn.execute(AUDIT_DDL)
    landed: dict[str, set[str]] = {}
    existing: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
        " where table_schema in ('raw', 'audit', 'quarantine')"
    ):
        existing.setdefault((schema, table), set()).add(column)
        if schema == "raw":
            landed.setdefault(table, set()).add(column)
    for (schema, table), columns in ADDED_AUDIT_COLUMNS.items():
        for column in columns:
            if column.split()[0] not in existing.get((schema, table), set()):
                conn.execute(
                    sql.SQL("alter table {} add column if not exists {}").format(
                        sql.Identifier(schema, table), sql.SQL(column)
                    )
                )
    for kind in record_kinds().values():
        columns = [
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in LINEAGE_COLUMNS
        ]
        columns += [sql.SQL("{} text").format(sql.Identifier(c)) for c in kind.column_names]
        conn.execute(
            sql.SQL("create table if not exists {} ({})").format(
                raw_table(kind.name), sql.SQL(", ").join(columns)
            )
        )
        # Only on an older table's missing columns: ALTER TABLE locks even when it changes nothing.
        for name in sorted(set(kind.column_names) - landed.get(kind.name, set(kind.column_names))):
            conn.execute(
                sql.SQL("alter table {} add column if not exists {} text").format(
                    raw_table(kind.name), sql.Identifier(name)
                )
            )
        conn.execute(
            sql.SQL("create index if not exists {} on {} (batch_id)").format(
                sql.Identifier(f"{kind.name}_batch_idx"), raw_table(kind.name)
            )
        )


def row_hash(values: Mapping[str, str | None]) -> str:
    """Content hash of a row's values, independent of column order."""
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def land_batch(
    conn: psycopg.Connection,
    *,
    dept_code: str,
    kind: RecordKind,
    shape: str,
    logical_date: date,
    source_ref: str,
    rows: Sequence[SourceRow],
    received_at: datetime,
    source_sha256: str | None = None,
) -> int:
    """Write one batch: its ``audit.batches`` row and all its raw rows, via ``COPY``.

    Runs in the caller's transaction; returns the new batch id.
    """
    batch_id = conn.execute(
        """
        insert into audit.batches
            (dept_code, record_kind, shape, logical_date, source_ref, source_sha256, rows_read)
        values (%s, %s, %s, %s, %s, %s, %s)
        returning batch_id
        """,
        (dept_code, kind.name, shape, logical_date, source_ref, source_sha256, len(rows)),
    ).fetchone()[0]
    lineage = ["batch_id", "dept_code", "source_ref", "received_at", "row_hash", "parse_problem"]
    names = [*lineage, "extra_fields", *kind.column_names]
    copy = sql.SQL("copy {} ({}) from stdin").format(
        raw_table(kind.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn.cursor().copy(copy) as writer:
        for row in rows:
            values = [_storable(row.values.get(column)) for column in kind.column_names]
            extra = (
                _storable(json.dumps(row.extra_fields, ensure_ascii=False))
                if row.extra_fields
                else None
            )
            problem = row.parse_problem
            if problem is None and any(NUL in (v or "") for v in row.values.values()):
                problem = "NUL character in the source text"
            writer.write_row(
                [
                    batch_id,
                    dept_code,
                    row.source_ref,
                    received_at,
                    row_hash(row.values),
                    problem,
                    extra,
                    *values,
                ]
            )
    return batch_id


NUL = "\x00"


def _storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: keep the rest and mark where it was (U+FFFD)."""
    if text is None:
        return None
    return text.replace(NUL, "\ufffd").replace("\\u0000", "\ufffd")
