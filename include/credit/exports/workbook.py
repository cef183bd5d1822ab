"""One report as files: an XLSX workbook (Chinese headers, frozen header row, fitted column
widths, native charts) and the same tables as UTF-8 CSV, written byte for byte the same way
every time for the same content.

Every text cell is neutralised (:func:`neutralise`), in the workbook and in the CSV: text a
spreadsheet would run as a formula gets a leading apostrophe, and characters that would hide
or reorder what a reader sees are made visible.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from credit.exports.settings import export_settings

# First characters that make Excel, WPS or LibreOffice read a cell as a formula: ``= + - @``
# and their full-width (＝ ＋ － ＠) and small (﹦ ﹢ ﹣ ﹫) forms, which some of them fold to
# ASCII; also after leading whitespace, which an import may trim.
FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
# A text starting with one of these gets the apostrophe whatever follows (OWASP's CSV
# injection advice: a tab or carriage return first can start a formula in some importers).
LEADING_BREAKS = frozenset("\t\r\n")
# What a cell never shows as it came: C0 controls but the tab and line feed a text may hold,
# DEL, C1 controls, and the marks that reorder what a reader sees (Unicode bidirectional
# embeddings, overrides and isolates, LRM, RLM, ALM; a name could read backwards).  C0 and
# DEL become their Control Pictures (␀, ␇, ␡: visible, the original still known), the others
# the replacement character �.  Carriage returns are line breaks: CR LF and a lone CR become LF.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The most characters an XLSX cell holds (Excel's limit); a longer text is cut, ending in ….
MAX_CELL_CHARACTERS = 32767


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def neutralise(value: Any) -> Any:
    """A cell value no spreadsheet evaluates and every reader sees as it is: in text, hidden
    characters made visible (``_HIDDEN``), carriage returns as line feeds, at most
    ``MAX_CELL_CHARACTERS``, and a leading ``'`` when the text would start a formula
    (``FORMULA_TRIGGERS`` first, also after leading whitespace, or a tab or line break
    first).  HTML stays text: the XLSX escapes it, the CSV holds it as it is.  Any other value
    is returned unchanged (a negative number stays a number)."""
    if not isinstance(value, str) or not value:
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _HIDDEN.search(value):
        value = _HIDDEN.sub(_visible, value)
    if len(value) > MAX_CELL_CHARACTERS - 1:
        value = value[: MAX_CELL_CHARACTERS - 2] + "\u2026"
    first = value[0]
    if first in FORMULA_TRIGGERS or first in LEADING_BREAKS:
        return "'" + value
    if first.isspace() and value.lstrip()[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header the reader sees
    kind: str = "text"  # text | int | date | ratio


@dataclass(frozen=True)
class Chart:
    """A native chart of some columns of a table, one series per value column."""

    kind: str  # line | column | bar
    title: str
    category: str  # the column key on the category axis
    values: tuple[str, ...]


@dataclass
class Table:
    """One sheet of a workbook and one CSV file; with ``in_workbook`` false, the CSV file alone
    (a list too long to read as a sheet, for a program to load)."""

    sheet: str  # sheet name (≤ 31 characters)
    csv_name: str  # ASCII stem of the CSV file
    columns: Sequence[Column]
    rows: Sequence[dict[str, Any]]
    title_lines: Sequence[str] = ()  # lines above the header (a form's title, its sender)
    charts: Sequence[Chart] = field(default_factory=tuple)
    in_workbook: bool = True


@functools.lru_cache(maxsize=65536)
def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: East Asian wide characters count twice. Cached:
    a column's values repeat (rule, department and town names)."""
    if text.isascii():  # codes, ids and numbers: one column a character
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# A tuple, not ``date | datetime``: the union is built anew on every call, a cell at a time.
_DATES = (date, datetime)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, _DATES):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_workbook(path: Path, tables: Sequence[Table], *, title: str, created: date) -> None:
    """Write ``tables`` as one XLSX file, a sheet each but those not ``in_workbook``;
    ``created`` fixes the document's dates."""
    settings = export_settings()["workbook"]
    path.parent.mkdir(parents=True, exist_ok=True)
    # constant_memory: each row is written out as the next one starts, its texts inline, not
    # every cell held in memory until the file is closed.
    book = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "constant_memory": True},
    )
    book.set_properties(
        {
            "title": title,
            "author": settings["author"],
            "company": settings["company"],
            "created": datetime.combine(created, time()),
        }
    )
    header = book.add_format(
        {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
    )
    heading = book.add_format({"bold": True, "font_size": 14})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    ratio_format = book.add_format({"num_format": "0.00%"})
    for table in (table for table in tables if table.in_workbook):
        _write_sheet(book, table, header, heading, date_format, ratio_format, settings)
    book.close()


def _write_sheet(book, table, header, heading, date_format, ratio_format, settings) -> None:
    sheet = book.add_worksheet(table.sheet)
    for row_index, line in enumerate(table.title_lines):
        sheet.write_string(row_index, 0, neutralise(line), heading if row_index == 0 else None)
    header_row = len(table.title_lines)
    widest = settings["max_column_width"]
    widths = [_column_width(table, column, widest) for column in table.columns]
    for col, column in enumerate(table.columns):
        sheet.write_string(header_row, col, column.header, header)
    for offset, row in enumerate(table.rows, start=1):
        r = header_row + offset
        for col, column in enumerate(table.columns):
            value = row.get(column.key)
            if value is None:
                sheet.write_blank(r, col, None)
            elif column.kind == "date" and isinstance(value, date):
                sheet.write_datetime(r, col, datetime.combine(value, time()), date_format)
            elif column.kind in ("int", "ratio") and isinstance(value, int | float | Decimal):
                sheet.write_number(
                    r, col, float(value), ratio_format if column.kind == "ratio" else None
                )
            elif isinstance(value, str):
                sheet.write_string(r, col, neutralise(value))
            else:
                sheet.write_string(r, col, _cell_text(value))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width, 6), widest) + 2)
    sheet.freeze_panes(header_row + 1, 0)
    # Printed as they are read: A4 landscape, one page wide, the header on every page.
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    if table.rows:
        sheet.autofilter(header_row, 0, header_row + len(table.rows), len(table.columns) - 1)
    _insert_charts(book, sheet, table, header_row)


def _column_width(table: Table, column: Column, widest: int) -> int:
    """The display width of a column's header and widest value, up to ``widest``: each distinct
    value once, none after the column is as wide as allowed, and only a text that can be wider
    than the widest so far measured (a character takes one or two columns)."""
    width = display_width(column.header)
    for value in {row.get(column.key) for row in table.rows}:
        if width >= widest:
            break
        length = len(text := _cell_text(value))
        if length >= widest:
            width = widest
        elif 2 * length > width:
            width = max(width, display_width(text))
    return width


def _insert_charts(book, sheet, table: Table, header_row: int) -> None:
    if not table.rows:
        return
    keys = [column.key for column in table.columns]
    first, last = header_row + 1, header_row + len(table.rows)
    for index, spec in enumerate(table.charts):
        chart = book.add_chart({"type": spec.kind})
        category = keys.index(spec.category)
        for key in spec.values:
            col = keys.index(key)
            chart.add_series(
                {
                    "name": [table.sheet, header_row, col],
                    "categories": [table.sheet, first, category, last, category],
                    "values": [table.sheet, first, col, last, col],
                }
            )
        chart.set_title({"name": spec.title})
        if spec.kind == "bar":  # xlsxwriter's y axis is a bar chart's category axis
            chart.set_y_axis({"reverse": True})  # first row on top, as in the table
        if table.columns[category].kind == "date":
            chart.set_x_axis({"date_axis": True, "num_format": "mm-dd", "major_unit": 7})
        chart.set_legend({"position": "bottom"})
        height = max(288, 18 * len(table.rows)) if spec.kind == "bar" else 288
        chart.set_size({"width": 720, "height": height})
        sheet.insert_chart(header_row + 1 + index * 17, len(keys) + 1, chart)


def write_csv(path: Path, table: Table) -> None:
    """The table as UTF-8 CSV with a byte-order mark (so Excel and WPS read the Chinese)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow([column.header for column in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(row.get(column.key)) for column in table.columns])


def _csv_cell(value: Any) -> str:
    # Only text is neutralised: a negative number stays a number.
    return neutralise(value) if isinstance(value, str) else _cell_text(value)
