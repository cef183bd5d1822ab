"""Drop-folder workbooks: each cell lands as the text a person reads in it, and a file named
.xlsx that is no workbook is rejected with a reason (any bytes: tests/test_bad_input.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from credit.connectors import RejectedDelivery, drop_folder

# (how the cell is written, the text it lands as): typed cells as office software writes them.
CELLS = (
    ("date", "2026-03-02"),
    ("date-time", "2026-03-02T09:30:15"),
    ("date-time at midnight", "2026-03-02T00:00:00"),
    ("date in Chinese", "2026-03-02"),
    ("whole number", "42"),
    ("decimal", "1234.5"),
    ("boolean", "True"),
    ("error", "#DIV/0!"),
    ("text", "江阴市某某机械制造有限公司"),
    ("blank", ""),
)


def _workbook(path: Path) -> Path:
    """A permit workbook: the header, then one line of every kind of cell in CELLS."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("行政许可")
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "date-time": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "minutes": book.add_format({"num_format": "yyyy/m/d h:mm"}),
        "chinese": book.add_format({"num_format": 'yyyy"年"m"月"d"日"'}),
    }
    sheet.write_row(0, 0, ["行政相对人名称"] * len(CELLS))
    day = dt.datetime(2026, 3, 2)
    written = {
        "date": lambda c: sheet.write_datetime(1, c, day, formats["date"]),
        "date-time": lambda c: sheet.write_datetime(
            1, c, day.replace(hour=9, minute=30, second=15), formats["date-time"]
        ),
        "date-time at midnight": lambda c: sheet.write_datetime(1, c, day, formats["minutes"]),
        "date in Chinese": lambda c: sheet.write_datetime(1, c, day, formats["chinese"]),
        "whole number": lambda c: sheet.write_number(1, c, 42),
        "decimal": lambda c: sheet.write_number(1, c, 1234.5),
        "boolean": lambda c: sheet.write_boolean(1, c, True),
        "error": lambda c: sheet.write_formula(1, c, "=1/0", None, "#DIV/0!"),
        "text": lambda c: sheet.write_string(1, c, "江阴市某某机械制造有限公司"),
        "blank": lambda c: None,
    }
    for column, (kind, _) in enumerate(CELLS):
        written[kind](column)
    book.close()
    return path


def _drop(folder: Path, data: bytes) -> drop_folder.DropFile:
    path = folder / "permit_20260302.xlsx"
    path.write_bytes(data)
    return drop_folder.identify(path)


def test_each_cell_lands_as_the_text_it_shows(tmp_path) -> None:
    """A date cell as its date (openpyxl reads it as midnight, which the date rule rejects), a
    date-time as a date-time even at midnight, numbers plainly, an error cell as its error."""
    drop = drop_folder.identify(_workbook(tmp_path / "permit_20260302.xlsx"))
    assert drop_folder._xlsx_lines(drop)[1] == [text for _, text in CELLS]


def test_an_empty_or_foreign_file_named_xlsx_is_rejected(tmp_path) -> None:
    for data in (b"", "处罚机关\n某机关\n".encode(), b"PK\x05\x06" + bytes(18)):
        with pytest.raises(RejectedDelivery, match="not a readable XLSX workbook"):
            drop_folder.parse(_drop(tmp_path, data))
