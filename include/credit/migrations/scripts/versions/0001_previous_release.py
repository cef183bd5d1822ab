"""The schema of the release before migrations (commit 05a261c), as its set-up built it.

Revision 0001, the first.

That release created its tables with ``create ... if not exists`` where each was first used:
the landing, audit and quarantine tables and ``audit.incidents`` when a night was prepared,
the validation tables at the first validation, ``audit.exports`` and ``audit.deliveries`` at the
first export, ``audit.dbt_node_results`` after the first transform, the hash key's table when
the warehouse was set up.  Its statements are copied here as they were, so that a warehouse it
built (which has no version table) is upgraded from here: what it already has is left alone,
what it never used is created.  Its set-up also, every night, brought the raw tables of
earlier releases to its own shape (no stored row hash, no primary key, foreign key or B-tree on
a raw table, one BRIN index); that is done here too, for a warehouse of an earlier release
still.  The ``raw.<kind>`` tables themselves follow the catalogue, outside the revisions
(:func:`credit.landing.follow_catalogue`).
"""

import psycopg
from psycopg import sql

from credit.migrations import driver_connection

revision = "0001"
down_revision = None

SCHEMAS = """
create schema if not exists audit;
create schema if not exists raw;
create schema if not exists quarantine;
"""

LANDING = """
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
    batch_id bigint,
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

-- The bytes of a text, immutable (convert_to is only stable: it reads the server encoding),
-- for a generated column: decode(..., 'escape') copies every byte but backslashes, doubled here.
create or replace function audit.sha256_hex(value text) returns text
language sql immutable parallel safe as $$
    select encode(sha256(decode(replace(value, '\\', '\\\\'), 'escape')), 'hex')
$$;

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

-- Added after the tables' first release (a file known by name, size and modification time).
alter table audit.delivered_files add column if not exists file_size bigint;
alter table audit.delivered_files add column if not exists modified_ns bigint;
alter table quarantine.rejected_files add column if not exists file_size bigint;
alter table quarantine.rejected_files add column if not exists modified_ns bigint;
"""

INCIDENTS = """
create table if not exists audit.incidents (
    incident_id bigint generated always as identity primary key,
    kind text not null
        check (kind in ('task_failed', 'reconciliation_failed', 'source_volume')),
    incident_key text not null,
    summary text not null,
    detail text,
    first_seen timestamptz not null default now(),
    last_seen timestamptz not null default now(),
    occurrences integer not null default 1,
    emailed_to text,
    emailed_at timestamptz,
    email_error text,
    unique (kind, incident_key)
);
"""

IDENTIFIER_HASH_KEY = """
create table if not exists audit.identifier_hash_key (
    singleton boolean primary key default true check (singleton),
    inner_pad bytea not null,
    outer_pad bytea not null
);
revoke all on audit.identifier_hash_key from public;
"""

VALIDATION = """
create table if not exists audit.batch_checks (
    batch_id bigint not null references audit.batches (batch_id),
    check_name text not null,
    passed boolean not null,
    status text not null check (status in ('passed', 'warning')),
    observed text,
    expected text,
    checked_at timestamptz not null default now(),
    primary key (batch_id, check_name)
);

create table if not exists audit.validation_results (
    batch_id bigint primary key references audit.batches (batch_id),
    suite_name text not null,
    success boolean not null,
    statistics jsonb not null,
    result jsonb not null,
    validated_at timestamptz not null default now()
);

-- One row per GX run: the batches of a kind validated together, as GX saw them (Data Docs).
create table if not exists audit.validation_runs (
    run_id bigint generated always as identity primary key,
    record_kind text not null,
    logical_date date not null,
    batch_ids bigint [] not null,
    suite_name text not null,
    success boolean not null,
    statistics jsonb not null,
    result jsonb not null,
    validated_at timestamptz not null default now()
);
create index if not exists validation_runs_logical_date_idx
on audit.validation_runs (logical_date);
create index if not exists validation_runs_batch_ids_idx
on audit.validation_runs using gin (batch_ids);

-- A catch-up stores tens of thousands of result documents of about 30 KB: lz4 compresses them
-- in half pglz's time, where the server has it (the embedded PostgreSQL is built without it).
do $$
begin
    if exists (
        select from pg_settings
        where name = 'default_toast_compression' and 'lz4' = any(enumvals)
    ) and not exists (
        select from pg_attribute
        where attrelid = 'audit.validation_results'::regclass and attname = 'result'
            and attcompression = 'l'
    ) then
        alter table audit.validation_results alter column result set compression lz4;
    end if;
end $$;
"""

EXPORTS = """
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

NODE_RESULTS = """
create table if not exists audit.dbt_node_results (
    invocation_id text not null,
    run_id text not null,
    attempt integer not null,
    as_of_date date not null,
    command text not null,
    unique_id text not null,
    resource_type text not null,
    status text not null,
    execution_seconds numeric not null,
    rows_affected bigint,
    failures bigint,
    message text,
    completed_at timestamptz,
    primary key (invocation_id, unique_id)
);
create index if not exists dbt_node_results_run_idx on audit.dbt_node_results (run_id, attempt);
"""


def upgrade() -> None:
    conn = driver_connection()
    for ddl in (
        SCHEMAS,
        LANDING,
        INCIDENTS,
        IDENTIFIER_HASH_KEY,
        VALIDATION,
        EXPORTS,
        NODE_RESULTS,
    ):
        conn.execute(ddl)
    _raw_tables_of_earlier_releases(conn)


def _raw_tables_of_earlier_releases(conn: psycopg.Connection) -> None:
    """What the release's set-up did to the raw tables an earlier one left: their foreign keys
    (and the delivered files') to the batches, their primary keys and ``batch_id`` B-trees, their
    stored ``row_hash`` column dropped; the BRIN index on ``(batch_id, raw_row_id)`` made."""
    _drop_constraints(
        conn,
        "c.contype = 'f' and (n.nspname = 'raw'"
        " or (n.nspname = 'audit' and t.relname = 'delivered_files'))",
    )
    _drop_constraints(conn, "c.contype = 'p' and n.nspname = 'raw'")
    for (index,) in conn.execute(
        """
        select c.oid::regclass::text from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        join pg_am as am on am.oid = c.relam
        where n.nspname = 'raw' and c.relkind = 'i' and am.amname = 'btree'
            and c.relname like '%\\_batch\\_idx'
        """
    ).fetchall():
        conn.execute(sql.SQL("drop index {}").format(sql.SQL(index)))
    for (table,) in conn.execute(
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = 'raw' and c.relkind = 'r' order by c.relname"
    ).fetchall():
        stored = conn.execute(
            "select 1 from pg_attribute where attrelid = %s::regclass"
            " and attname = 'row_hash' and not attisdropped",
            (f"raw.{table}",),
        ).fetchone()
        if stored:
            conn.execute(
                sql.SQL("alter table {} drop column row_hash").format(sql.Identifier("raw", table))
            )
        conn.execute(
            sql.SQL(
                "create index if not exists {} on {} using brin (batch_id, raw_row_id)"
                " with (autosummarize = on)"
            ).format(sql.Identifier(f"{table}_lineage_idx"), sql.Identifier("raw", table))
        )


def _drop_constraints(conn: psycopg.Connection, condition: str) -> None:
    """Drop the constraints ``condition`` selects, over the constraint ``c``, its table ``t``
    and the table's schema ``n``."""
    for table, constraint in conn.execute(
        sql.SQL(
            "select c.conrelid::regclass::text, c.conname from pg_constraint as c"
            " join pg_class as t on t.oid = c.conrelid"
            " join pg_namespace as n on n.oid = t.relnamespace where {}"
        ).format(sql.SQL(condition))
    ).fetchall():
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(
                sql.SQL(table), sql.Identifier(constraint)
            )
        )
