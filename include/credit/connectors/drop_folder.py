"""Drop folder (文件报送): CSV and XLSX files in the provincial 双公示 template layout.

Files are named ``<kind>_<YYYYMMDD>.csv|xlsx`` inside the department's folder. A file is known
by its name and content hash: the same bytes delivered again are recognised and skipped, changed
bytes under the same name are a new version. Ingestion hashes only a file whose name, size or
modification time it has not seen before, so a night reads the day's deliveries, not the
folder's history. Headers are the Chinese labels of the catalogue.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from credit.catalogue import RecordKind, record_kinds
from credit.connectors import RejectedDelivery, as_text
from credit.landing import NUL, SourceRow, storable, unstorable

# A field is as long as the department wrote it (a remark pasted from a report): the csv module's
# default limit, 128 KiB, would stop the whole file. The file's size bounds it anyway.
csv.field_size_limit(2**31 - 1)  # the largest a C long holds on every platform

FILE_NAME = re.compile(r"^(?P<kind>[a-z_]+)_(?P<day>\d{8})\.(?P<format>csv|xlsx)$")


@dataclass(frozen=True)
class DropFile:
    path: Path
    kind: RecordKind
    day: date

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class ParsedFile:
    rows: list[SourceRow]
    encoding: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def identify(path: Path) -> DropFile:
    """What a delivered file is, from its name (the file is not read); :class:`RejectedDelivery`
    when it is not ours."""
    match = FILE_NAME.match(path.name)
    if not match:
        name = stored_name(path.name)
        raise RejectedDelivery(f"file name {name!r} is not <kind>_<YYYYMMDD>.csv|xlsx")
    kinds = record_kinds()
    if match["kind"] not in kinds:
        raise RejectedDelivery(f"file {path.name!r} names unknown record kind {match['kind']!r}")
    try:
        day = datetime.strptime(match["day"], "%Y%m%d").date()
    except ValueError as error:
        raise RejectedDelivery(f"file {path.name!r} has no valid date: {error}") from error
    if path.is_symlink() or not path.is_file():
        raise RejectedDelivery(f"{path.name!r} is not a regular file")
    return DropFile(path, kinds[match["kind"]], day)


def stored_name(name: str) -> str:
    """A file or folder name as the warehouse keeps it. A name that is not UTF-8 (a Windows
    share writing GBK) comes from the file system with surrogates standing for its bytes, which
    PostgreSQL text cannot hold: its bytes are read as a CSV file's (:func:`decode`)."""
    if name.isascii():  # every name a folder is meant to hold, thousands of them in a backlog
        return name
    return decode(os.fsencode(name))[0]


def decode(data: bytes) -> tuple[str, str]:
    """Text of a CSV file and the encoding found: UTF-8 with BOM, UTF-8, else GB18030 (GBK).

    Bytes valid in none of them are replaced (U+FFFD) so the rows still land and are quarantined.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "undecodable"


def parse(drop: DropFile, field_map: Mapping[str, str] | None = None) -> ParsedFile:
    """The file's rows; ``field_map`` maps headers that differ from the catalogue's labels."""
    if drop.path.suffix == ".xlsx":
        lines = _xlsx_lines(drop)
        rows = _rows(drop, lines, None, field_map)
        unstorable_cell = any(unstorable(cell) for line in lines for cell in line)
        return ParsedFile([storable(r) for r in rows] if unstorable_cell else rows, "xlsx")
    text, encoding = decode(drop.path.read_bytes())
    lines = list(csv.reader(io.StringIO(text, newline="")))
    problem = "file is neither UTF-8 nor GBK" if encoding == "undecodable" else None
    rows = _rows(drop, lines, problem, field_map)
    # Decoded text holds no lone surrogate: UTF-8 and GB18030 decode none, replacement neither.
    return ParsedFile([storable(r) for r in rows] if NUL in text else rows, encoding)


def _xlsx_lines(drop: DropFile) -> list[list[str]]:
    """The first sheet's cells as the text a person reads in them (:func:`_cell_text`)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(drop.path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return [[_cell_text(cell) for cell in row] for row in sheet.iter_rows()]
        finally:
            workbook.close()
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise RejectedDelivery(f"{drop.name}: not a readable XLSX workbook ({error})") from error


# Quoted literals and bracketed parts (colours, locales, conditions) of an Excel number format.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _cell_text(cell: Any) -> str:
    """A cell's value as text (:func:`~credit.connectors.as_text`). openpyxl reads every cell
    formatted as a date as a date-time at midnight; a format that shows no hours or seconds
    makes it the date it shows (``2026-03-02``, not ``2026-03-02T00:00:00``, which the date
    rule would reject)."""
    value = cell.value
    if isinstance(value, datetime):
        shown = _FORMAT_LITERALS.sub("", cell.number_format or "").lower()
        if "h" not in shown and "s" not in shown:
            value = value.date()
    return as_text(value) or ""


def _rows(
    drop: DropFile,
    lines: list[list[str]],
    file_problem: str | None,
    field_map: Mapping[str, str] | None,
) -> list[SourceRow]:
    """Map lines to canonical columns by header label; the header is line 1."""
    if not lines:
        return []
    header = [cell.strip() for cell in lines[0]]
    by_label = {column.label: column.name for column in drop.kind.columns} | dict(field_map or {})
    unknown = [label for label in header if label not in by_label]
    names = drop.kind.column_names
    # Where each catalogue column is in a whole line (the last of its headers), so that a row's
    # values are taken in the catalogue's order (SourceRow.values as a tuple).
    position = {by_label[label]: index for index, label in enumerate(header) if label in by_label}
    positions = [position.get(name) for name in names]
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        problem = file_problem
        if len(cells) != len(header):
            problem = problem or f"line has {len(cells)} fields, header has {len(header)}"
        if len(cells) >= len(header):
            values = tuple(None if i is None else cells[i] or None for i in positions)
        else:  # a short line: each column the last of its headers the line reaches
            pairs = zip(header, cells, strict=False)
            by_name = {by_label[h]: c or None for h, c in pairs if h in by_label}
            values = tuple(map(by_name.get, names))
        extra = (
            ({h: c for h, c in zip(header, cells, strict=False) if h in unknown} or None)
            if unknown
            else None
        )
        rows.append(
            SourceRow(
                source_ref=f"{drop.path.parent.name}/{drop.name}:{number}",
                values=values,
                extra_fields=extra,
                parse_problem=problem,
            )
        )
    return rows
