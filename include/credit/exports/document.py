"""A report as a Word document (.docx, opened by Word and WPS): a title, a few lines under it,
then numbered sections of paragraphs and tables, written by python-docx the same bytes every
time for the same content.

The tables are the workbooks' :class:`~credit.exports.workbook.Table` and their cells pass
through the same :func:`~credit.exports.workbook.neutralise`, so a document shows what a
workbook would.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from credit.exports.settings import export_settings
from credit.exports.workbook import Table, neutralise

# Fonts every Chinese office installation has (Word and WPS): 宋体 for the text, 黑体 for headings.
BODY_FONT = "宋体"
HEADING_FONT = "黑体"


@dataclass(frozen=True)
class Section:
    """One numbered part of a document: its heading, paragraphs, then a table if any."""

    heading: str
    paragraphs: Sequence[str] = ()
    table: Table | None = None


@dataclass(frozen=True)
class Document:
    title: str
    lines: Sequence[str]  # under the title: who drafted it, the period, the data's date
    sections: Sequence[Section] = field(default_factory=tuple)

    @property
    def tables(self) -> list[Table]:
        return [section.table for section in self.sections if section.table is not None]


def cell_text(value: Any, kind: str) -> str:
    """A table cell as the document prints it: shares as percentages, numbers as they are."""
    if value is None:
        return "—"
    if kind == "ratio" and isinstance(value, int | float | Decimal):
        return f"{float(value):.1%}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return neutralise(str(value))


def _set_font(style: Any, name: str, size: float, bold: bool = False) -> None:
    style.font.name = name
    style.font.size = Pt(size)
    style.font.bold = bold
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def write_document(path: Path, document: Document, *, created: date) -> None:
    """Write ``document`` as a .docx; ``created`` fixes its dates, so the bytes depend on the
    content alone."""
    settings = export_settings()["workbook"]
    book = docx.Document()
    for page in book.sections:  # A4 portrait, the usual margins of an official document
        page.page_width, page.page_height = Mm(210), Mm(297)
        page.left_margin = page.right_margin = Mm(26)
        page.top_margin, page.bottom_margin = Mm(37), Mm(35)
    _set_font(book.styles["Normal"], BODY_FONT, 12)
    _set_font(book.styles["Title"], HEADING_FONT, 20, bold=True)
    _set_font(book.styles["Heading 1"], HEADING_FONT, 15, bold=True)
    for name in ("Title", "Heading 1"):
        book.styles[name].font.color.rgb = None
    title = book.add_paragraph(neutralise(document.title), style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in document.lines:
        book.add_paragraph(neutralise(line)).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for section in document.sections:
        book.add_heading(neutralise(section.heading), level=1)
        for text in section.paragraphs:
            paragraph = book.add_paragraph(neutralise(text))
            paragraph.paragraph_format.first_line_indent = Pt(24)
        if section.table is not None:
            _add_table(book, section.table)
    stamp = datetime.combine(created, time(), UTC)
    properties = book.core_properties
    properties.title = document.title
    properties.author = properties.last_modified_by = settings["author"]
    properties.comments = settings["company"]
    properties.created = properties.modified = stamp
    properties.revision = 1
    buffer = io.BytesIO()
    book.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_zip(buffer.getvalue(), created))


def _add_table(book: Any, table: Table) -> None:
    grid = book.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid"
    for cell, column in zip(grid.rows[0].cells, table.columns, strict=True):
        cell.text = column.header
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in table.rows:
        cells = grid.add_row().cells
        for cell, column in zip(cells, table.columns, strict=True):
            cell.text = cell_text(row.get(column.key), column.kind)
    book.add_paragraph()


def _fixed_zip(content: bytes, created: date) -> bytes:
    """The package again with every member dated ``created``: python-docx stamps each member with
    the time it was written, which would make two exports of the same content differ."""
    stamp = (created.year, created.month, created.day, 0, 0, 0)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(member.filename))
    return out.getvalue()
