"""No input stops a source: property tests feed arbitrary bytes and structures to the parsers
of what departments deliver.

The property, for every input: nothing raises but a rejection with its reason (the file
rejected whole); every row read comes out, with a ``parse_problem`` (validation's reason to
quarantine it) where it could not be read whole; every text is one PostgreSQL can store.

Examples per property: ``CREDIT_FUZZ_EXAMPLES``; unset, CI's fixed budget, derandomised, so
every run tries the same inputs in a few seconds.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credit.catalogue import RecordKind, record_kind
from credit.connectors import RejectedDelivery, drop_folder
from credit.landing import SourceRow

KIND = record_kind("permit")
LABELS = tuple(column.label for column in KIND.columns)

_EXAMPLES = int(os.environ.get("CREDIT_FUZZ_EXAMPLES") or 0)
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# CI's budget: the same inputs every run, nothing kept between runs.
settings.register_profile(
    "fuzz-ci",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=_HEALTH,
)
# A longer fuzz on a workstation: new inputs every run, failures kept in .hypothesis/ to replay.
settings.register_profile(
    "fuzz-long", max_examples=max(_EXAMPLES, 1), deadline=None, suppress_health_check=_HEALTH
)
FUZZ = settings.get_profile("fuzz-long" if _EXAMPLES else "fuzz-ci")


def budget(share: float) -> settings:
    """The fuzz settings with a share of their examples, for a property whose examples are
    slow (a workbook written, a night landed)."""
    return settings(FUZZ, max_examples=max(1, round(FUZZ.max_examples * share)))


# -- what PostgreSQL can store --------------------------------------------------------------


def is_storable(text: object) -> bool:
    """Text PostgreSQL can hold: no NUL, and encodable as UTF-8 (no lone surrogate)."""
    if not isinstance(text, str) or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_storable_json(value: object) -> bool:
    """A JSON value ``jsonb`` takes: storable texts, finite numbers."""
    if isinstance(value, str):
        return is_storable(value)
    if isinstance(value, Mapping):
        return all(is_storable(k) and is_storable_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(is_storable_json, value))
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    return value is None or isinstance(value, bool | int)


def assert_landable(row: SourceRow, kind: RecordKind = KIND) -> None:
    """A row landing's ``COPY`` takes: its values in the catalogue's order, every text
    storable."""
    assert row.source_ref and is_storable(row.source_ref), row.source_ref
    assert isinstance(row.values, tuple) and len(row.values) == len(kind.column_names)
    assert all(v is None or is_storable(v) for v in row.values), row.values
    assert row.extra_fields is None or is_storable_json(dict(row.extra_fields)), row.extra_fields
    assert row.parse_problem is None or is_storable(row.parse_problem)


def assert_reason(rejection: RejectedDelivery) -> None:
    assert str(rejection) and is_storable(str(rejection))


# -- texts ----------------------------------------------------------------------------------

# Every code point, surrogates included, and the characters that break files and databases.
SPECIAL = "\x00\x01\x1a\x1f\x7f\x85\r\n\t \u3000\u2028\ufeff\ufffe\ud800\udfff,;\"'\\"
CHARS = st.characters(exclude_categories=()) | st.sampled_from(SPECIAL)
SHORT_TEXT = st.text(CHARS, max_size=12)
# A field longer than the csv module's default limit (128 KiB).
LONG_TEXT = st.text(CHARS, min_size=1, max_size=2).map(lambda piece: (piece * 70_000)[:140_000])
CELL_TEXT = st.integers(0, 30).flatmap(lambda n: LONG_TEXT if n == 0 else SHORT_TEXT)


# -- drop folder: CSV and XLSX ---------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A department's drop folder for the parsers (each example overwrites its file)."""
    path = tmp_path_factory.mktemp("parsed") / "development_reform"
    path.mkdir()
    return path


def parse_or_reject(folder: Path, name: str, data: bytes) -> list[SourceRow] | None:
    """The file's rows, each checked landable; None when it is rejected whole, with a reason."""
    path = folder / name
    path.write_bytes(data)
    try:
        rows = drop_folder.parse(drop_folder.identify(path)).rows
    except RejectedDelivery as rejection:
        assert_reason(rejection)
        return None
    for row in rows:
        assert_landable(row)
    lines = [int(row.source_ref.rsplit(":", 1)[1]) for row in rows]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)  # line 1: header
    return rows


ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16", "utf-32", "big5", "latin-1")


@dataclass(frozen=True)
class CsvFile:
    data: bytes
    # The header and lines it holds, when it reads back exactly as written (quoted by the csv
    # module, in an encoding the reader detects, whole); None otherwise.
    lines: list[list[str]] | None


@st.composite
def csv_files(draw: st.DrawFn) -> CsvFile:
    """A CSV file as a department might write it: the catalogue's headers or others, ragged
    lines, any text, quoted or not, in any encoding, maybe cut short."""
    header = draw(st.lists(st.sampled_from(LABELS) | SHORT_TEXT, max_size=len(LABELS) + 2))
    width = st.just(len(header)) | st.integers(0, len(header) + 2)
    line = width.flatmap(lambda n: st.lists(CELL_TEXT, min_size=n, max_size=n))
    lines = [header, *draw(st.lists(line, max_size=6))]
    quoted = draw(st.booleans())
    terminator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    if quoted:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator=terminator).writerows(lines)
        text = out.getvalue()
    else:
        text = "".join(",".join(cells) + terminator for cells in lines)
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")
    whole = draw(st.booleans())
    if not whole:
        data = data[: draw(st.integers(0, len(data)))]
    exact = quoted and whole and drop_folder.decode(data)[0] == text
    return CsvFile(data, lines if exact else None)


@FUZZ
@given(file=csv_files())
@example(file=CsvFile(LABELS[0].encode() + b"\n" + b"x" * 140_000 + b"\n", None))
def test_any_csv_file_lands_its_lines(folder: Path, file: CsvFile) -> None:
    """A CSV file is never rejected whole: each line with a value is a row, marked when it
    has more or fewer fields than the header; blank lines are none."""
    rows = parse_or_reject(folder, "permit_20260302.csv", file.data)
    assert rows is not None
    if file.lines is None:
        return
    header, *lines = file.lines
    kept = [cells for cells in lines if any(cell.strip() for cell in cells)]
    assert len(rows) == len(kept)
    for row, cells in zip(rows, kept, strict=True):
        if len(cells) != len(header):
            assert row.parse_problem
        if "\x00" not in "".join(cells):  # (an exact file holds no lone surrogate)
            assert {value for value in row.values if value} <= set(cells)


@FUZZ
@given(data=st.binary(max_size=4000))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"\xff\xfe\x00garbage\n" * 3)
def test_any_bytes_named_csv_land(folder: Path, data: bytes) -> None:
    """Bytes in no encoding the reader knows land with every row marked."""
    rows = parse_or_reject(folder, "permit_20260302.csv", data)
    assert rows is not None
    if drop_folder.decode(data)[1] == "undecodable":
        assert all(row.parse_problem for row in rows)


Cell = tuple[str, Any]


def workbook(rows: list[list[Cell]]) -> bytes:
    """An XLSX workbook of typed cells, as office software writes one."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "nan_inf_to_errors": True})
    sheet = book.add_worksheet()
    formats = {
        kind: book.add_format({"num_format": pattern})
        for kind, pattern in (
            ("date", "yyyy-mm-dd"),
            ("date-time", "yyyy-mm-dd hh:mm:ss"),
            ("duration", "[h]:mm:ss"),
        )
    }
    for r, cells in enumerate(rows):
        for c, (kind, value) in enumerate(cells):
            if kind == "text":
                sheet.write_string(r, c, value)
            elif kind == "number":
                sheet.write_number(r, c, value)
            elif kind == "bool":
                sheet.write_boolean(r, c, value)
            elif kind == "error":
                sheet.write_formula(r, c, "=1/0", None, value)
            elif kind in formats:
                sheet.write_datetime(r, c, value, formats[kind])
    book.close()
    return out.getvalue()


# Text a workbook holds: XML 1.0 has no NUL, surrogate, U+FFFE or U+FFFF; the other C0 controls
# are written escaped (_x0001_) and read back so. Office's escapes are text here too.
XLSX_TEXT = st.lists(
    st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff").filter(
            lambda c: c in "\t\n\r" or c >= " "
        ),
        max_size=10,
    )
    | st.sampled_from(["_x0000_", "_xD800_", "_x005F_", " ", "\u3000"]),
    max_size=4,
).map("".join)
XLSX_CELLS = st.one_of(
    st.tuples(st.just("text"), XLSX_TEXT),
    st.tuples(st.just("number"), st.floats()),
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("error"), st.sampled_from(["#DIV/0!", "#N/A", "#VALUE!"])),
    st.tuples(
        st.sampled_from(["date", "date-time", "duration"]),
        st.datetimes(datetime(1900, 3, 1), datetime(9999, 12, 31)),
    ),
    st.tuples(st.just("blank"), st.none()),
)


def _blank(cell: Cell) -> bool:
    kind, value = cell
    return kind == "blank" or (kind == "text" and not value.strip())


@budget(0.4)
@given(
    header=st.lists(st.sampled_from(LABELS) | XLSX_TEXT, max_size=len(LABELS) + 2),
    lines=st.lists(st.lists(XLSX_CELLS, max_size=len(LABELS) + 3), max_size=6),
)
def test_any_workbook_lands_its_lines(folder: Path, header: list[str], lines: list) -> None:
    """Typed cells of any value, headers of any text, ragged lines, a header alone or nothing:
    a workbook office software wrote is read, a row for every line with a value."""
    data = workbook([[("text", label) for label in header], *lines])
    rows = parse_or_reject(folder, "permit_20260302.xlsx", data)
    assert rows is not None
    assert len(rows) == sum(not all(map(_blank, cells)) for cells in lines)


_WORKBOOK = workbook([[("text", label) for label in LABELS], [("text", "江阴")] * len(LABELS)])
with zipfile.ZipFile(io.BytesIO(_WORKBOOK)) as _archive:
    _MEMBERS = {name: _archive.read(name) for name in _archive.namelist()}


@st.composite
def damaged_workbooks(draw: st.DrawFn) -> bytes:
    """A workbook cut short with bytes overwritten; a zip of a workbook's parts holding other
    bytes (a zip that is no workbook); or bytes that are no zip."""
    how = draw(st.sampled_from(["cut", "parts", "bytes"]))
    if how == "bytes":
        return draw(st.binary(max_size=2000))
    if how == "cut":
        data = bytearray(_WORKBOOK[: draw(st.integers(1, len(_WORKBOOK)))])
        edits = st.tuples(st.integers(0, len(_WORKBOOK) - 1), st.integers(0, 255))
        for position, value in draw(st.lists(edits, max_size=20)):
            if position < len(data):
                data[position] = value
        return bytes(data)
    names = draw(st.lists(st.sampled_from(sorted(_MEMBERS)) | st.text(max_size=8), unique=True))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            content = st.just(_MEMBERS.get(name, b"")) | st.binary(max_size=200)
            archive.writestr(name if name in _MEMBERS else f"xl/{name}.xml", draw(content))
    return out.getvalue()


@FUZZ
@given(data=damaged_workbooks())
@example(data=b"")
@example(data=b"PK\x05\x06" + bytes(18))  # an empty zip
def test_any_bytes_named_xlsx_land_or_are_rejected(folder: Path, data: bytes) -> None:
    parse_or_reject(folder, "permit_20260302.xlsx", data)
