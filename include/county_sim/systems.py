"""The three shapes of source system (源系统形态) and where each writes.

* exchange database (前置库): schema ``<dept_code>`` in the database ``database_url("exchange")``,
  one table per kind, every column text except ``updated_at`` (timestamptz), ``record_id`` the
  primary key; rows are appended with COPY and never updated in place (a correction is a new row
  with change_type 更正, as an incremental 前置库 keeps them);
* drop folder: ``<data>/county/drops/<dept_code>/<kind>_<YYYYMMDD>.csv|xlsx``, Chinese headers,
  CSV in GBK or UTF-8 with BOM;
* HTTP API: JSON Lines per department, kind and day under ``<data>/county/api/``, served by
  :mod:`county_sim.api_server`.

A few systems name things their own way (``own_names`` in ``simulator.yaml``, :class:`SystemNames`):
their schema, tables, columns, API paths and paging are theirs, and what they hold is written
under their names.

Each writer returns the source-row identity of every row it wrote, which the ground truth uses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import xlsxwriter
from psycopg import sql

from county_sim.defects import OutputRow
from county_sim.settings import simulator_config
from credit import warehouse
from credit.catalogue import RecordKind, record_kind
from credit.paths import data_dir
from credit.sources import Source, sources

Identity = dict[str, Any]


def county_dir() -> Path:
    return data_dir() / "county"


def drops_dir() -> Path:
    return county_dir() / "drops"


def api_dir() -> Path:
    return county_dir() / "api"


def exchange_url() -> str:
    return warehouse.database_url("exchange")


def drop_file_name(kind: str, day: dt.date, file_format: str) -> str:
    return f"{kind}_{day:%Y%m%d}.{file_format}"


# --- how each system names things ----------------------------------------------------------


@dataclass(frozen=True)
class ApiStyle:
    """How a department's API is asked and answers: its path per kind, its paging (``page``,
    ``offset`` or ``cursor``), the names of its parameters (``since``, ``until`` (None: it takes
    none), ``position`` (the page number, offset or cursor), ``size``), and where its answer
    puts the rows, the total and the next page or cursor (dotted keys; None: not sent) among
    constant keys (``envelope``)."""

    paths: dict[str, str]
    paging: str
    params: dict[str, str | None]
    rows_path: str
    total_path: str | None
    next_path: str | None
    envelope: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemNames:
    """What one department's system calls its schema, tables, columns and API, by default the
    catalogue's names (an API: ``api:`` in ``simulator.yaml``); ``extra_fields`` are columns
    of its own the catalogue does not know."""

    dept_code: str
    schema: str
    api: ApiStyle
    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    kind_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_fields: dict[str, str] = field(default_factory=dict)

    def table(self, kind: str) -> sql.Identifier:
        return sql.Identifier(self.schema, self.tables.get(kind, kind))

    def name(self, kind: str, column: str) -> str:
        """The system's name of a catalogue column of ``kind``."""
        return self.kind_columns.get(kind, {}).get(column) or self.columns.get(column, column)

    def to_system(self, kind: RecordKind, values: Mapping[str, Any]) -> dict[str, Any]:
        """A row by catalogue column as the system holds it: its names, its own fields."""
        row = {self.name(kind.name, column): values.get(column) for column in kind.column_names}
        return row | self.extra_fields

    def to_catalogue(self, kind: RecordKind, record: Mapping[str, Any]) -> dict[str, Any]:
        """A row the system holds by catalogue column (its own fields left out)."""
        return {column: record.get(self.name(kind.name, column)) for column in kind.column_names}


@cache
def system_names(dept_code: str) -> SystemNames:
    """How a department's system names things (``own_names`` in ``simulator.yaml``)."""
    config = simulator_config()
    own = (config.get("own_names") or {}).get(dept_code, {})
    api = {**config["api"], **own.get("api", {})}
    kinds = sources()[dept_code].kinds
    paths = {kind: api["path"].format(dept_code=dept_code, kind=kind) for kind in kinds}
    return SystemNames(
        dept_code=dept_code,
        schema=own.get("schema", dept_code),
        tables=dict(own.get("tables", {})),
        columns=dict(own.get("columns", {})),
        kind_columns={kind: dict(names) for kind, names in own.get("kind_columns", {}).items()},
        extra_fields=dict(own.get("extra_fields", {})),
        api=ApiStyle(
            paths=paths | dict(api.get("paths", {})),
            paging=api["paging"],
            params=dict(api["params"]),
            rows_path=api["rows_path"],
            total_path=api["total_path"],
            next_path=api["next_path"],
            envelope=dict(api["envelope"] or {}),
        ),
    )


# --- exchange database --------------------------------------------------------------------


def create_exchange_tables(conn: psycopg.Connection, registry: dict[str, Source]) -> None:
    """One schema per department and one table per kind it delivers, dropped and re-made."""
    for source in registry.values():
        if source.shape != "exchange_db":
            continue
        schema = sql.Identifier(system_names(source.dept_code).schema)
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(schema))
        conn.execute(sql.SQL("create schema {}").format(schema))
    add_kind_tables(conn, registry)


def add_kind_tables(conn: psycopg.Connection, registry: dict[str, Source]) -> None:
    """The table of each kind a department's exchange database lacks: all of them in a new
    county, the kinds the registry added since in an older one."""
    for source in registry.values():
        if source.shape != "exchange_db":
            continue
        names = system_names(source.dept_code)
        for kind_name in source.kinds:
            kind = record_kind(kind_name)
            table = names.table(kind.name)
            columns = [
                sql.SQL("{} {}").format(
                    sql.Identifier(names.name(kind.name, c.name)), sql.SQL(_pg_type(c.name))
                )
                for c in kind.columns
            ] + [sql.SQL("{} text").format(sql.Identifier(name)) for name in names.extra_fields]
            key, changed = (names.name(kind.name, c) for c in ("record_id", "updated_at"))
            conn.execute(
                sql.SQL("create table if not exists {} ({}, primary key ({}))").format(
                    table, sql.SQL(", ").join(columns), sql.Identifier(key)
                )
            )
            conn.execute(
                sql.SQL("create index if not exists {} on {} ({})").format(
                    sql.Identifier(f"{kind.name}_{changed}_idx"), table, sql.Identifier(changed)
                )
            )


def _pg_type(column: str) -> str:
    if column == "updated_at":
        return "timestamptz not null"
    return "text not null" if column == "record_id" else "text"


def write_exchange(
    conn: psycopg.Connection, source: Source, kind: RecordKind, rows: list[OutputRow]
) -> list[Identity]:
    """Append rows with COPY, under the system's names; identity is (record_id, updated_at)."""
    names = system_names(source.dept_code)
    columns = list(names.to_system(kind, {}))
    statement = sql.SQL("copy {} ({}) from stdin").format(
        names.table(kind.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(list(names.to_system(kind, row.values).values()))
    return [_key_identity(row) for row in rows]


def _key_identity(row: OutputRow) -> Identity:
    return {"record_id": row.values["record_id"], "updated_at": row.values["updated_at"]}


def rollback_exchange(
    conn: psycopg.Connection, registry: dict[str, Source], after: dt.date
) -> None:
    """Delete rows written for days after ``after`` (an interrupted advance)."""
    for source in registry.values():
        if source.shape != "exchange_db":
            continue
        names = system_names(source.dept_code)
        for kind in source.kinds:
            conn.execute(
                sql.SQL("delete from {} where {} >= %s").format(
                    names.table(kind), sql.Identifier(names.name(kind, "updated_at"))
                ),
                (f"{after + dt.timedelta(days=1)}T00:00:00+08:00",),
            )


# --- drop folder ---------------------------------------------------------------------------


def write_drop(
    source: Source, kind: RecordKind, day: dt.date, rows: list[OutputRow]
) -> list[Identity]:
    """One file per department, kind and day; identity is (file, line), the header is line 1."""
    folder = drops_dir() / source.dept_code
    folder.mkdir(parents=True, exist_ok=True)
    file_format = source.file_format or "csv"
    name = drop_file_name(kind.name, day, file_format)
    if file_format == "xlsx":
        _write_xlsx(folder / name, kind, day, rows)
    else:
        text = _csv_text(kind, rows)
        (folder / name).write_bytes(text.encode(source.encoding or "utf-8-sig"))
    return [
        {"file": f"{source.dept_code}/{name}", "line": line} for line in range(2, len(rows) + 2)
    ]


def _csv_text(kind: RecordKind, rows: list[OutputRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.label for column in kind.columns])
    for row in rows:
        cells = ["" if row.values.get(n) is None else str(row.values[n]) for n in kind.column_names]
        if row.truncated:
            buffer.write(_truncated_line(cells))
        else:
            writer.writerow(cells)
    return buffer.getvalue()


def _truncated_line(cells: list[str]) -> str:
    """The first part of a line, cut inside a field, as when a transfer stops mid-write."""
    keep = max(2, len(cells) // 2)
    partial = cells[keep][: len(cells[keep]) // 2]
    return ",".join([*cells[:keep], partial]).replace('"', "") + "\r\n"


def _write_xlsx(path: Path, kind: RecordKind, day: dt.date, rows: list[OutputRow]) -> None:
    # In memory: a day's file is small, and xlsxwriter otherwise writes each part to a temporary
    # file before zipping them (two thirds of the county's simulation time went there).
    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False})
    # The document dates come from the simulated day so the same seed gives the same bytes.
    stamp = dt.datetime.combine(day, dt.time(18, 0))
    workbook.set_properties({"created": stamp, "author": "county simulator"})
    sheet = workbook.add_worksheet(kind.label[:31])
    sheet.write_row(0, 0, [column.label for column in kind.columns])
    for index, row in enumerate(rows, start=1):
        sheet.write_row(
            index,
            0,
            ["" if row.values.get(n) is None else str(row.values[n]) for n in kind.column_names],
        )
    workbook.close()


# --- HTTP API store -----------------------------------------------------------------------


def api_day_file(dept_code: str, kind: str, day: dt.date) -> Path:
    return api_dir() / dept_code / kind / f"{day:%Y%m%d}.jsonl"


def write_api(
    source: Source, kind: RecordKind, day: dt.date, rows: list[OutputRow]
) -> list[Identity]:
    """JSON Lines the API serves, under the system's names; identity is (record_id, updated_at)."""
    names = system_names(source.dept_code)
    path = api_day_file(source.dept_code, kind.name, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(names.to_system(kind, row.values), ensure_ascii=False))
            f.write("\n")
    return [_key_identity(row) for row in rows]
