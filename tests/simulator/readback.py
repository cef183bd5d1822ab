"""Reading the simulated source systems back, and an independent defect detector.

Tests use this to score the ground truth: every row of every system is read the way an
ingestion would read it and checked against the schema contract in ``record_kinds.yaml``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10

from county_sim import systems
from credit.catalogue import Column, RecordKind, record_kind
from credit.identifiers import check_organisation_code, normalise
from credit.sources import Source, sources

CST = dt.timezone(dt.timedelta(hours=8))
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class SourceRow:
    dept_code: str
    shape: str
    kind: str
    identity: tuple[Any, ...]
    values: dict[str, str | None]
    truncated: bool = False


def read_all() -> Iterator[SourceRow]:
    with psycopg.connect(systems.exchange_url()) as conn:
        for source in sources().values():
            yield from read_source(conn, source)


def read_source(conn: psycopg.Connection, source: Source) -> Iterator[SourceRow]:
    """Every row one department's system holds (``conn``: the exchange database)."""
    for kind_name in source.kinds:
        kind = record_kind(kind_name)
        if source.shape == "exchange_db":
            yield from _exchange(conn, source.dept_code, kind)
        elif source.shape == "drop_folder":
            yield from _drops(source, kind)
        else:
            yield from _api(source.dept_code, kind)


def identity_of(source_row: dict[str, Any]) -> tuple[Any, ...]:
    if "file" in source_row:
        return (source_row["file"], source_row["line"])
    return (source_row["record_id"], source_row["updated_at"])


def _exchange(conn: psycopg.Connection, dept: str, kind: RecordKind) -> Iterator[SourceRow]:
    """The rows of a department's table, under the catalogue's names (its system's own names
    as the simulator gives them, not as the platform's registry maps them)."""
    names = systems.system_names(dept)
    query = sql.SQL("select * from {} order by {}").format(
        names.table(kind.name), sql.Identifier(names.name(kind.name, "record_id"))
    )
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(query)
        for record in cursor:
            values = names.to_catalogue(kind, record)
            stamp = values["updated_at"].astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")
            values["updated_at"] = stamp
            yield SourceRow(dept, "exchange_db", kind.name, (values["record_id"], stamp), values)


def _drops(source: Any, kind: RecordKind) -> Iterator[SourceRow]:
    folder = systems.drops_dir() / source.dept_code
    for path in sorted(folder.glob(f"{kind.name}_*.*")):
        name = f"{source.dept_code}/{path.name}"
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            lines = [
                ["" if v is None else str(v) for v in row]
                for row in book.active.iter_rows(values_only=True)
            ]
            book.close()
        else:
            text = path.read_bytes().decode(source.encoding)
            lines = [next(csv.reader([line])) if line else [] for line in text.split("\r\n")[:-1]]
        assert lines[0] == [c.label for c in kind.columns], path
        for number, cells in enumerate(lines[1:], start=2):
            truncated = len(cells) < len(kind.columns)
            cells = cells + [""] * (len(kind.columns) - len(cells))
            values = {n: (c or None) for n, c in zip(kind.column_names, cells, strict=True)}
            yield SourceRow(
                source.dept_code, "drop_folder", kind.name, (name, number), values, truncated
            )


def _api(dept: str, kind: RecordKind) -> Iterator[SourceRow]:
    names = systems.system_names(dept)
    for path in sorted((systems.api_dir() / dept / kind.name).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            values = names.to_catalogue(kind, json.loads(line))
            yield SourceRow(
                dept, "http_api", kind.name, (values["record_id"], values["updated_at"]), values
            )


def detect(rows: list[SourceRow]) -> set[tuple[Any, ...]]:
    """(dept, shape, kind, identity, defect) for every row that breaks the contract."""
    organs = {s.organ_uscc for s in sources().values()}
    found: set[tuple[Any, ...]] = set()
    seen_content: set[tuple[Any, ...]] = set()
    seen_keys: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        kind = record_kind(row.kind)
        defect = _row_defect(row, kind, organs)
        content = tuple(
            v
            for k, v in row.values.items()
            if k not in ("record_id", "updated_at") or row.shape == "drop_folder"
        )
        scope = (row.dept_code, row.kind, row.identity[0] if row.shape == "drop_folder" else "")
        if defect is None and (*scope, content) in seen_content:
            defect = "exact_duplicate"
        key = (
            row.dept_code,
            row.kind,
            *(row.values.get(c) for c in kind.business_key),
            row.values.get("change_type"),
        )
        # A near duplicate repeats a version of the record but for a stray space; a later
        # version of the same change type (a commitment's judgement after a correction) is not.
        body = tuple(v for k, v in row.values.items() if k not in ("record_id", "updated_at"))
        spaced = (*key, *(v.strip() if isinstance(v, str) else v for v in body))
        if defect is None and spaced in seen_keys and seen_keys[spaced] != body:
            defect = "near_duplicate"
        seen_content.add((*scope, content))
        seen_keys.setdefault(spaced, body)
        if defect:
            found.add((row.dept_code, row.shape, row.kind, row.identity, defect))
    return found


def _identifier_is_valid(column: Column, value: str) -> bool:
    """stdnum's checks; a legacy column may hold a registration number or organisation code."""
    if column.legacy and len(value) == 15:
        return mod_11_10.is_valid(value)
    if column.legacy and len(value) == 9:
        return check_organisation_code(value).is_valid
    if column.identifier == "registration_number":
        return mod_11_10.is_valid(value)
    return uscc.is_valid(value) if column.identifier == "uscc" else ric.is_valid(value)


def _row_defect(row: SourceRow, kind: RecordKind, organs: set[str]) -> str | None:
    values = row.values
    if row.truncated:
        return "truncated_line"
    unit = values.get("source_unit_code")
    if unit and normalise(unit) not in organs:
        return "unknown_department"
    for column in kind.columns:
        value = values.get(column.name)
        if column.identifier and value and any("\uff01" <= c <= "\uff5e" for c in value):
            return "full_width"
    for column in kind.columns:
        value = values.get(column.name)
        if (
            column.identifier
            and value
            and column.name not in ("authority_code", "source_unit_code")
            and not _identifier_is_valid(column, value)
        ):
            return "bad_check_digit"
    if any(c.mandatory and not values.get(c.name) for c in kind.columns):
        return "missing_mandatory"
    day = str(values["updated_at"])[:10]
    for column in kind.columns:
        value = values.get(column.name)
        if column.type == "date" and value and not ISO_DATE.match(value):
            return "mixed_date_format"
    for column in kind.columns:
        value = values.get(column.name)
        if column.not_future and value and value > day:
            return "future_date"
        if column.type == "decimal" and value and value.startswith("-"):
            return "negative_amount"
        if column.type == "enum" and value and value not in column.values:
            return "unknown_enum"
    return None
