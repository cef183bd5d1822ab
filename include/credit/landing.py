"""Landing (落地): append-only ``raw`` tables, one row per source row, with full lineage.

Each record kind of the catalogue (``config/record_kinds.yaml``) has a table ``raw.<kind>``:
lineage columns first, then every canonical column as text, exactly as the source sent it.
The tables follow the catalogue (:func:`follow_catalogue`, when the warehouse is brought to
head): a kind it adds gets its table, a column it adds a nullable column; nothing is dropped.
Typing and cleaning happen later (validation, dbt staging); here nothing is lost or changed.
A batch is written with ``COPY`` inside one transaction together with its ``audit.batches``
row (a folder's files several batches to a transaction), so no half batch is ever visible;
a pull's rows stream from its source into the ``COPY``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from credit.catalogue import RecordKind, record_kinds

# (name, type) of the columns that say where a raw row came from (可查可核可溯).  ``raw_row_id``
# is unique by construction (an identity generated always: no insert gives its own value; the
# staging models test it) and has no primary key: its B-tree cost a seventh of landing's time,
# for look-ups only the re-linking of a few legacy rows makes (:func:`_lineage_index`).
# ``batch_id`` is the batch :func:`land_batches` writes in the same transaction as the rows; it
# has no foreign key: checking it cost PostgreSQL a look-up in ``audit.batches`` for every row
# written (a fifth of landing's time), and batches are never deleted (a validated one is held by
# the keys of its checks and results).
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw_row_id", "bigint generated always as identity"),
    ("batch_id", "bigint not null"),
    ("dept_code", "text not null"),
    ("source_ref", "text not null"),
    ("received_at", "timestamptz not null"),
    ("parse_problem", "text"),
    ("extra_fields", "jsonb"),
)


@dataclass(frozen=True)
class SourceRow:
    """One row as a source system delivered it, mapped to canonical column names.

    ``values`` hold the text exactly as received (``None`` for an absent field), by column name,
    or as a tuple in the catalogue's column order (what the three connectors build: the
    values go to ``COPY`` as they are, without a look-up per column);
    ``source_ref`` names the row in its system (``file.csv:17`` or a ``record_id``);
    ``parse_problem`` says why a row could not be read whole (a truncated line).
    Its texts hold no NUL or lone surrogate (PostgreSQL text cannot): a connector whose file
    or page holds one passes its rows through :func:`storable`; an exchange database's text
    cannot hold one.
    """

    source_ref: str
    values: Mapping[str, str | None] | tuple[str | None, ...]
    extra_fields: Mapping[str, str | None] | None = None
    parse_problem: str | None = None


def raw_table(kind: str) -> sql.Composed:
    return sql.SQL("raw.{}").format(sql.Identifier(kind))


def raw_tables_behind(conn: psycopg.Connection) -> dict[str, tuple[str, ...] | None]:
    """The record kinds whose ``raw`` table the catalogue is ahead of: ``None`` for a kind with
    no table, else the catalogue's columns its table lacks (none when only its row-hash
    function is missing).  One look at the system catalogue: the night's set-up asks it."""
    tables = {
        table: (set(columns), hashed)
        for table, columns, hashed in conn.execute(
            """
            select c.relname, array_agg(a.attname::text),
                exists (
                    select from pg_proc as p
                    where p.pronamespace = c.relnamespace and p.proname = 'row_hash'
                        and p.proargtypes[0] = c.reltype
                )
            from pg_class as c
            join pg_namespace as n on n.oid = c.relnamespace
            join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where n.nspname = 'raw' and c.relkind = 'r'
            group by c.oid
            """
        )
    }
    behind: dict[str, tuple[str, ...] | None] = {}
    for kind in record_kinds().values():
        if kind.name not in tables:
            behind[kind.name] = None
            continue
        columns, hashed = tables[kind.name]
        missing = tuple(name for name in kind.column_names if name not in columns)
        if missing or not hashed:
            behind[kind.name] = missing
    return behind


def follow_catalogue(conn: psycopg.Connection) -> list[str]:
    """Create the ``raw`` table of a record kind the catalogue added, and add the columns it
    added to a kind (nullable text: the rows landed before hold NULL, so their row hash does
    not change); returns what it did.  A column or kind the catalogue drops keeps its table and
    data.  Runs after the revisions (:func:`credit.migrations.upgrade`), which own the shape
    every raw table shares (lineage columns, index, row hash)."""
    done = []
    for name, missing in raw_tables_behind(conn).items():
        kind = record_kinds()[name]
        if missing is None:
            columns = [
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in LINEAGE_COLUMNS
            ]
            columns += [sql.SQL("{} text").format(sql.Identifier(c)) for c in kind.column_names]
            conn.execute(
                sql.SQL("create table {} ({})").format(raw_table(name), sql.SQL(", ").join(columns))
            )
            conn.execute(_lineage_index(kind))
            done.append(f"raw.{name} created")
        for column in missing or ():
            conn.execute(
                sql.SQL("alter table {} add column {} text").format(
                    raw_table(name), sql.Identifier(column)
                )
            )
            done.append(f"raw.{name}.{column} added")
        _create_row_hash(conn, kind)
    return done


def _lineage_index(kind: RecordKind) -> sql.Composed:
    """The one index of a raw table: BRIN on ``(batch_id, raw_row_id)``.

    A raw table is append-only and its rows land in the order of their batch and row ids, so
    for each range of 128 pages the lowest and highest of each (what a BRIN index keeps) find a
    night's batches, the table's last pages, or a row by its id, at the cost of reading the
    range's pages.  B-trees on the two (the primary key and a batch index, as an older release
    built them) cost a third of landing's time, an entry in each for every row written; this
    costs a look at the last range's summary per row, and summarises a range once, when it is
    full (``autosummarize``)."""
    return sql.SQL(
        "create index {} on {} using brin (batch_id, raw_row_id) with (autosummarize = on)"
    ).format(sql.Identifier(f"{kind.name}_lineage_idx"), raw_table(kind.name))


def row_hash_text(kind: RecordKind, row: str | None = None) -> sql.Composable:
    """SQL: the text a raw row's content hash is the SHA-256 of: ``'name'='value',`` for every
    catalogue column that is not NULL, by column name.  A column the catalogue adds later is
    NULL in the rows landed before it, so their hash does not change.  ``row`` qualifies the
    column names (a function's row argument)."""

    def column(name: str) -> sql.Composable:
        return sql.Identifier(row, name) if row else sql.Identifier(name)

    return sql.SQL(" || ").join(
        sql.SQL("coalesce({} || quote_literal({}) || ',', '')").format(
            sql.Literal(f"{_quote(name)}="), column(name)
        )
        for name in sorted(kind.column_names)
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_row_hash(conn: psycopg.Connection, kind: RecordKind) -> None:
    """``raw.row_hash(raw.<kind>)``, the content hash of a landed row, computed when read.

    Raw rows never change, so neither does their hash: storing it, as a generated column, cost
    a third of landing's time (building the text of 25 columns for every row written) for a
    value nothing reads as the night runs.  A table that still has the stored column (an older
    release) loses it (revision 0001 of :mod:`credit.migrations`; instant), and the function
    gives the same values."""
    conn.execute(
        sql.SQL(
            "create or replace function raw.row_hash(landed {}) returns text"
            " language sql immutable parallel safe as $$ select audit.sha256_hex({}) $$"
        ).format(raw_table(kind.name), row_hash_text(kind, row="landed"))
    )


def copied_columns(kind: RecordKind) -> list[str]:
    """The columns :func:`land_batches` writes, in order: lineage but the identity key, then the
    catalogue's."""
    return [name for name, _ in LINEAGE_COLUMNS if name != "raw_row_id"] + list(kind.column_names)


BATCH_COLUMNS = (
    "batch_id",
    "dept_code",
    "record_kind",
    "shape",
    "logical_date",
    "source_ref",
    "source_sha256",
    "rows_read",
)


@dataclass(frozen=True)
class Batch:
    """A batch to land: one file, page run or table pull of one record kind, and its rows
    (a list, or rows read as they are landed: a :class:`~credit.connectors.Pull`)."""

    dept_code: str
    kind: RecordKind
    shape: str
    logical_date: date
    source_ref: str
    rows: Iterable[SourceRow]
    received_at: datetime
    source_sha256: str | None = None


def land_batch(conn: psycopg.Connection, batch: Batch) -> int:
    """Write one batch; runs in the caller's transaction and returns the new batch id."""
    return land_batches(conn, [batch])[0]


def land_batches(conn: psycopg.Connection, batches: Sequence[Batch]) -> list[int]:
    """Write batches: their raw rows, a ``COPY`` per record kind, then their ``audit.batches``
    rows (with the rows counted as they were copied) in one more, so that a folder's backlog of
    thousands of small files costs a few round trips, not five a file, and a pull's rows are
    never all in memory at once.

    Runs in the caller's transaction; returns the new batch ids, in the order given (ascending).
    """
    if not batches:
        return []
    ids = sorted(
        row[0]
        for row in conn.execute(
            "select nextval(pg_get_serial_sequence('audit.batches', 'batch_id'))"
            " from generate_series(1, %s)",
            (len(batches),),
        )
    )
    numbered = list(zip(ids, batches, strict=True))
    by_kind: dict[str, list[tuple[int, Batch]]] = {}
    for batch_id, b in numbered:
        by_kind.setdefault(b.kind.name, []).append((batch_id, b))
    counts: dict[int, int] = dict.fromkeys(ids, 0)
    for kind_batches in by_kind.values():
        _copy_raw_rows(conn, kind_batches, counts)
    copy_rows(
        conn,
        sql.Identifier("audit", "batches"),
        BATCH_COLUMNS,
        (
            (
                batch_id,
                b.dept_code,
                b.kind.name,
                b.shape,
                b.logical_date,
                b.source_ref,
                b.source_sha256,
                counts[batch_id],
            )
            for batch_id, b in numbered
        ),
    )
    return ids


def copy_rows(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Rows into a table with one ``COPY``: a many-row insert costs a statement a row, or
    dumping its values as arrays."""
    copy = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(copy) as writer:
        for row in rows:
            writer.write_row(row)


# The binary types of the copied lineage columns (copied_columns' order); the catalogue's are text.
LINEAGE_COPY_TYPES = ("int8", "text", "text", "timestamptz", "text", "jsonb")


def _copy_raw_rows(
    conn: psycopg.Connection, batches: list[tuple[int, Batch]], counts: dict[int, int]
) -> None:
    """The raw rows of batches of one record kind, in one binary ``COPY``; counts each batch's
    rows.  Binary, because its values need no escaping: formatting and reading the rows cost
    client and server a fifth less than text (a plain text ``COPY``'s time, lineage included)."""
    kind = batches[0][1].kind
    columns = copied_columns(kind)
    copy = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        raw_table(kind.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(copy) as writer:
        writer.set_types([*LINEAGE_COPY_TYPES, *["text"] * len(kind.column_names)])
        for row in _raw_rows(kind, batches, counts):
            writer.write_row(row)


def _raw_rows(
    kind: RecordKind, batches: list[tuple[int, Batch]], counts: dict[int, int]
) -> Iterator[list[Any]]:
    names = kind.column_names
    for batch_id, batch in batches:
        dept_code, received_at = batch.dept_code, batch.received_at
        read = 0
        for row in batch.rows:
            read += 1
            values = row.values
            if not isinstance(values, tuple):
                values = list(map(values.get, names))
            extra = Jsonb(_json_text(row.extra_fields), dumps=_as_is) if row.extra_fields else None
            problem = row.parse_problem
            yield [batch_id, dept_code, row.source_ref, received_at, problem, extra, *values]
        counts[batch_id] = read


_json_text = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps makes an encoder a call


def _as_is(text: str) -> str:
    """A JSON text already dumped, as psycopg's ``Jsonb`` sends it."""
    return text


NUL = "\x00"
NUL_PROBLEM = "NUL character in the source text"
SURROGATE_PROBLEM = "unpaired surrogate (no Unicode character) in the source text"
# What a text can hold and PostgreSQL's cannot: NUL, and a lone UTF-16 surrogate (JSON can send
# one as an escape, and no UTF-8 encodes it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether a text holds a character PostgreSQL text cannot (:func:`storable`)."""
    return _UNSTORABLE.search(text) is not None


def storable(row: SourceRow) -> SourceRow:
    """The row with each NUL or lone surrogate of its texts (reference, values, extra fields)
    replaced by U+FFFD, so that it stays visible where PostgreSQL text cannot hold it; a row
    whose values held one is marked (``parse_problem``), one whose reference or extra fields
    alone did is not (its columns are whole).

    Connectors call it on the rows of a file or page whose text holds one: one test a file
    or page, not one a row."""
    values = row.values
    scrubbed = (
        tuple(map(_replaced, values))
        if isinstance(values, tuple)
        else {name: _replaced(value) for name, value in values.items()}
    )
    source_ref = _replaced(row.source_ref)
    extra = _replaced(row.extra_fields)
    if scrubbed == values and extra == row.extra_fields and source_ref == row.source_ref:
        return row
    problem = row.parse_problem
    if problem is None and scrubbed != values:
        texts = values.values() if isinstance(values, Mapping) else values
        held_nul = any(NUL in text for text in texts if text)
        problem = NUL_PROBLEM if held_nul else SURROGATE_PROBLEM
    return replace(
        row, source_ref=source_ref, values=scrubbed, extra_fields=extra, parse_problem=problem
    )


def _replaced(value: Any) -> Any:
    """A text with U+FFFD for each unstorable character; the texts of a JSON value's keys and
    items likewise."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_replaced(key): _replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    return value
