"""No input stops a source: property tests feed arbitrary bytes and structures to the parsers
and normalisers of the three shapes (drop-folder files, API pages, exchange-database rows).

The property, for every input: nothing raises but a rejection with its reason (the file, page
or table rejected whole); every row read comes out, with a ``parse_problem`` (validation's reason
to quarantine it) where it could not be read whole; every text is one PostgreSQL can store.
Most properties are pure Python; the last test lands what it generates through the real
warehouse, night after night, a bad delivery beside a good one in each shape, then validates it
all once and reconciles.

Examples per property: ``CREDIT_FUZZ_EXAMPLES`` (docs/ingestion.md); unset, CI's fixed budget,
derandomised, so every run tries the same inputs in a few seconds.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from credit import warehouse
from credit.catalogue import RecordKind, record_kind
from credit.connectors import (
    RejectedDelivery,
    as_text,
    day_end,
    drop_folder,
    http_api,
    source_names,
)
from credit.ingest import API_CONN, DROPS_CONN, EXCHANGE_CONN, ingest_source, validate_pending
from credit.landing import SourceRow, storable

KIND = record_kind("permit")
LABELS = tuple(column.label for column in KIND.columns)
DAY = date(2026, 3, 2)
UNTIL = day_end(DAY)

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
    if quoted:  # the csv module quotes a field holding \r or \n only with its own terminator
        out = io.StringIO(newline="")
        csv.writer(out).writerows(lines)
        text = out.getvalue()
    else:
        terminator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
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


# -- HTTP API: pages -------------------------------------------------------------------------


def json_values(finite: bool = False) -> st.SearchStrategy[Any]:
    """JSON values (NaN and the infinities but when ``finite``), nested a few levels."""
    floats = st.floats(allow_nan=not finite, allow_infinity=not finite)
    return st.recursive(
        st.none() | st.booleans() | st.integers() | floats | SHORT_TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXT, inner, max_size=4),
        max_leaves=12,
    )


JSON_VALUES = json_values()
UPDATED_AT = st.one_of(
    st.datetimes(datetime(2000, 1, 1), datetime(2026, 3, 2), timezones=st.just(UTC)).map(
        datetime.isoformat
    ),
    st.datetimes(datetime(2000, 1, 1), datetime(2026, 3, 2)).map(datetime.isoformat),  # naive
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-13-01"]),
    JSON_VALUES,
)
LATER = "2026-03-05T08:00:00+08:00"  # after the night: left for a later one


@st.composite
def items(draw: st.DrawFn) -> Any:
    """An item as a system might send it: an object of the catalogue's fields (any JSON value
    in each) and others, or something that is no object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)
    fields = draw(st.dictionaries(st.sampled_from(KIND.column_names), JSON_VALUES, max_size=6))
    fields |= draw(st.dictionaries(SHORT_TEXT, JSON_VALUES, max_size=2))
    if draw(st.booleans()):
        fields["updated_at"] = draw(UPDATED_AT)
    return fields


def encoded(draw: st.DrawFn, body: object) -> bytes:
    """A JSON value as a system might send it: NaN and Infinity included, ASCII-escaped or
    not, in UTF-8, -16 or -32, or in GB18030, which JSON is not."""
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-32", "gb18030"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


def read_or_reject(data: bytes, page: int = 1) -> http_api.Page | None:
    """A page's rows, each checked landable; None when it is rejected whole, with a reason."""
    try:
        read = http_api.read_page(data, page, KIND.column_names, UNTIL)
    except RejectedDelivery as rejection:
        assert_reason(rejection)
        return None
    for row in read.rows:
        assert_landable(row)
    assert read.next_position is None or read.next_position > page
    return read


def _later(item: object) -> bool:
    return isinstance(item, dict) and item.get("updated_at") == LATER


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data.decode(json.detect_encoding(data)))
    except ValueError:
        return False
    return True


# JSON's escapes of NUL and of lone surrogates, in values, keys and the record id.
ESCAPES = json.dumps({"items": [{"record_id": "\x00", "remarks": "a\ud800", "\udc00": ["\x00"]}]})
# An updated_at without offset, late in the night's day: county time, not the machine's.
NAIVE = '{"items": [{"record_id": "1", "updated_at": "2026-03-02T23:30:00"}]}'
# A number beyond float, one of more digits than int() reads, NaN: no jsonb holds them.
NUMBERS = '{"items": [{"record_id": 1e999, "x": [NaN, -Infinity, %s]}]}' % ("7" * 5000)


@FUZZ
@given(data=st.data(), page=st.integers(1, 5))
@example(data=ESCAPES.encode(), page=1)
@example(data=NUMBERS.encode(), page=1)
@example(data=NAIVE.encode(), page=1)
def test_any_page_of_items_lands_every_item(data: st.DataObject | bytes, page: int) -> None:
    """A page with a list of items is read whole: a row for each item (one that is no object
    kept whole, its row marked), but those of a later night, left for it. Only a page that is
    no JSON is rejected."""
    if isinstance(data, bytes):
        body = json.loads(data, parse_constant=str, parse_int=str, parse_float=str)
    else:
        body = {"items": data.draw(st.lists(items() | st.just({"updated_at": LATER}), max_size=6))}
        body |= data.draw(st.dictionaries(st.sampled_from(["total", "page"]), JSON_VALUES))
        body["next_page"] = data.draw(st.none() | st.integers(page + 1, page + 3))
        data = encoded(data.draw, body)
    read = read_or_reject(data, page)
    if read is None:
        assert not _is_json(data)
        return
    assert len(read.rows) == sum(not _later(item) for item in body["items"])
    marked = [row for row in read.rows if row.parse_problem == http_api.NOT_AN_OBJECT]
    assert len(marked) == sum(not isinstance(item, dict) for item in body["items"])


def test_a_field_a_system_names_otherwise_is_read_once_and_none_is_dropped() -> None:
    """With a field map, the mapped field is the column and not an extra field too; a field of
    the column's own name is then an extra field, not dropped."""
    names = source_names(KIND.column_names, {"doc_no": "permit_doc_no"})
    item = {"record_id": "1", "doc_no": "澄许〔2026〕1号", "permit_doc_no": "其他"}
    (row,) = http_api.read_page(json.dumps({"items": [item]}).encode(), 1, names, UNTIL).rows
    assert row.values[KIND.column_names.index("permit_doc_no")] == "澄许〔2026〕1号"
    assert row.extra_fields == {"permit_doc_no": "其他"}


@FUZZ
@given(data=st.data())
@example(data=b"[" * 100_000 + b"]" * 100_000)
@example(data=b'{"items": [' + b'{"a": [' * 150 + b"]}" * 150 + b"]}")
@example(data=b'{"items": [], "next_page": 1}')  # a page that names itself next: no end
def test_any_bytes_as_a_page_are_read_or_rejected(data: st.DataObject | bytes) -> None:
    """Bytes that are no JSON, JSON that is no page (a list, a number, nesting too deep to
    land, no items, a next page that does not move on): rejected whole, with the reason."""
    if not isinstance(data, bytes):
        data = data.draw(
            st.one_of(
                st.binary(max_size=300),
                JSON_VALUES.map(lambda value: json.dumps(value).encode()),
                st.integers(1, 3000).map(lambda n: b'{"items": [' + b"[" * n + b"]" * n + b"]}"),
                JSON_VALUES.map(
                    lambda value: json.dumps({"items": [], "next_page": value}).encode()
                ),
            )
        )
    read_or_reject(data, page=2)


# -- landing: the normaliser every shape's rows pass through --------------------------------


@FUZZ
@given(
    source_ref=st.text(CHARS, min_size=1, max_size=8),
    values=st.lists(st.none() | st.text(CHARS, max_size=8), min_size=3, max_size=3),
    extra=st.none() | st.dictionaries(SHORT_TEXT, json_values(finite=True), max_size=3),
)
def test_storable_leaves_every_text_storable_and_marks_a_changed_value(
    source_ref: str, values: list[str | None], extra: dict | None
) -> None:
    """Every shape's rows pass it where their text can hold NUL or a lone surrogate."""
    row = SourceRow(source_ref, tuple(values), extra)
    kept = storable(row)
    assert_landable(kept, RecordKind("x", "x", KIND.columns[:3], (), "x"))
    if kept.values != row.values:
        assert kept.parse_problem
    if all(map(is_storable, [source_ref, *filter(None, values)])) and is_storable_json(extra):
        assert kept is row


# -- values as text: what a database driver or a JSON page gives -----------------------------

PYTHON_VALUES = st.one_of(
    JSON_VALUES,
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.times(),
    st.timedeltas(),
    st.decimals(),
    st.binary(max_size=8),
    st.uuids(),
)


@FUZZ
@given(value=PYTHON_VALUES)
@example(value=datetime.max.replace(tzinfo=UTC))
@example(value=Decimal("NaN"))
def test_any_value_a_source_holds_reads_as_text(value: object) -> None:
    """Whatever Python value a database driver or a JSON page gives (date-times of any zone,
    intervals, decimals, bytes, nested JSON), it reads as text."""
    text = as_text(value)
    assert text is None if value is None else isinstance(text, str)


def test_an_object_or_array_where_text_belongs_reads_as_its_json() -> None:
    """A JSON object in an API's text field, a database's array (of dates say): JSON text, as
    the system holds it, not Python's printing of it."""
    assert as_text({"备注": [1, None, True]}) == '{"备注": [1, null, true]}'
    assert as_text([date(2026, 3, 2), Decimal("12.50")]) == '["2026-03-02", "12.50"]'


# -- end to end: bad deliveries beside good ones, landed through the warehouse ---------------

CSV_DEPT = "development_reform"  # a CSV drop folder delivering permits and penalties
API_DEPT = "industry_it"
EXCHANGE_DEPT = "public_security"
GOOD_KIND = record_kind("penalty")
# File names a department might give its bad file: ours, a kind it does not deliver, a name in
# GBK bytes (what a Windows share writes), a date that is none.
BAD_NAMES = (
    "permit_20260302.csv",
    "permit_20260302.xlsx",
    "registration_20260302.csv",
    os.fsdecode("处罚决定_20260302.csv".encode("gbk")),
    "permit_20261399.csv",
)


class Api:
    """A department's HTTP API: each (path, page) answers the body set for it, an empty last
    page when none is."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[str, int], bytes] = {}
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                page = int(dict(p.split("=", 1) for p in query.split("&"))["page"])
                body = bodies.get((path, page), b'{"items": []}')
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://user:token@127.0.0.1:{self.server.server_port}"


@dataclass(frozen=True)
class Systems:
    """A warehouse of its own and the departments' systems it pulls: drop folders, an API, an
    exchange database."""

    url: str
    exchange: str
    drops: Path
    api: Api


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Systems]:
    url = warehouse.database_url("bad_input")
    exchange = warehouse.database_url("bad_input_exchange")
    warehouse.ensure_database(exchange)
    with psycopg.connect(exchange, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create schema if not exists {}").format(sql.Identifier(EXCHANGE_DEPT))
        )
    drops = tmp_path_factory.mktemp("drops")
    api = Api()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(warehouse.ENV_URL, url)
        patch.setenv(f"AIRFLOW_CONN_{DROPS_CONN.upper()}", f"fs://{drops}")
        patch.setenv(f"AIRFLOW_CONN_{API_CONN.upper()}", api.url())
        patch.setenv(f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}", exchange)
        warehouse.ensure_warehouse()
        yield Systems(url, exchange, drops, api)
    api.server.shutdown()
    api.server.server_close()


def forget(conn: psycopg.Connection, dept_code: str) -> None:
    """A department as new: no watermark, no file delivered or rejected before, so that each
    example's deliveries are read whatever the ones before it were."""
    for table in ("audit.watermarks", "audit.delivered_files", "quarantine.rejected_files"):
        conn.execute(
            sql.SQL("delete from {} where dept_code = %s").format(sql.SQL(table)), (dept_code,)
        )


def landed(conn: psycopg.Connection, batch_ids: list[int]) -> dict[str, tuple[int, int]]:
    """Per record kind of the batches: (rows they say they read, raw rows landed)."""
    counts = {}
    for kind, read in conn.execute(
        "select record_kind, sum(rows_read) from audit.batches where batch_id = any(%s)"
        " group by record_kind",
        (batch_ids,),
    ).fetchall():
        raw = conn.execute(
            sql.SQL("select count(*) from {} where batch_id = any(%s)").format(
                sql.Identifier("raw", kind)
            ),
            (batch_ids,),
        ).fetchone()[0]
        counts[kind] = (read, raw)
    return counts


def source_errors(conn: psycopg.Connection, dept_code: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select record_kind, error from audit.source_errors where dept_code = %s order by error_id",
        (dept_code,),
    ).fetchall()


def assert_every_row_accounted_for(url: str) -> None:
    """Validate what landed: every batch validated with rows read = accepted + quarantined, and
    every row that could not be read whole quarantined."""
    validate_pending()
    with psycopg.connect(url) as conn:
        unbalanced = conn.execute(
            "select batch_id, status from audit.batches where status <> 'validated'"
            " or rows_read <> rows_accepted + rows_quarantined"
        ).fetchall()
        assert unbalanced == []
        for (kind,) in conn.execute("select distinct record_kind from audit.batches").fetchall():
            loose = conn.execute(
                sql.SQL(
                    "select count(*) from {} as r where parse_problem is not null and not exists"
                    " (select from quarantine.rejected_rows as q"
                    " where q.record_kind = %s and q.raw_row_id = r.raw_row_id)"
                ).format(sql.Identifier("raw", kind)),
                (kind,),
            ).fetchone()[0]
            assert loose == 0, kind


def test_a_night_of_bad_deliveries_lands_the_rest_and_accounts_for_every_row(
    systems: Systems,
) -> None:
    """Each shape's department delivers something bad beside something good, night after night
    (a hypothesis example each): the bad one lands with its rows marked, or is rejected whole
    with the reason kept; the good one lands; the source's task succeeds. Validated once at the
    end, every row landed is accepted or quarantined and every batch reconciles."""
    numbers = itertools.count()
    with psycopg.connect(systems.url, autocommit=True) as conn:
        deliver_files(systems, conn, numbers)
        serve_pages(systems, conn, numbers)
        fill_tables(systems, conn, numbers)
    assert_every_row_accounted_for(systems.url)


def deliver_files(systems: Systems, conn: psycopg.Connection, numbers: Iterator[int]) -> None:
    """A file of any bytes under any name beside a good file."""
    folder = systems.drops / CSV_DEPT
    folder.mkdir()

    @budget(0.1)
    @given(
        name=st.sampled_from(BAD_NAMES),
        data=csv_files().map(lambda file: file.data) | damaged_workbooks() | st.binary(),
    )
    @example(name=BAD_NAMES[0], data=b"\xe8\xa1\x8c\x00\n\x00\x00,\x00\n")  # NUL everywhere
    @example(name=BAD_NAMES[3], data=b"")
    def night(name: str, data: bytes) -> None:
        for path in folder.iterdir():
            path.unlink()
        (folder / name).write_bytes(data)
        (folder / "penalty_20260302.csv").write_bytes(good_csv(next(numbers)))
        forget(conn, CSV_DEPT)
        delivered = ingest_source(CSV_DEPT, DAY)
        counts = landed(conn, delivered.batches)
        assert counts.pop(GOOD_KIND.name) == (1, 1)
        if delivered.rejected_files:
            stored = drop_folder.stored_name(name)
            reason = conn.execute(
                "select reason from quarantine.rejected_files"
                " where dept_code = %s and file_name = %s",
                (CSV_DEPT, stored),
            ).fetchone()
            assert delivered.rejected_files == [stored] and reason[0] and not counts
        else:
            rows = delivered.rows_read - 1  # a file is a batch, even with no row
            assert list(counts.values()) == [(rows, rows)]

    night()


def good_csv(n: int) -> bytes:
    """A penalty file read whole: every column filled."""
    labels = [column.label for column in GOOD_KIND.columns]
    return (",".join(labels) + "\n" + ",".join(f"第{n}号" for _ in labels) + "\n").encode()


def good_item(n: int) -> dict[str, str]:
    item = dict.fromkeys(GOOD_KIND.column_names, f"第{n}号")
    return item | {"record_id": f"good-{n}", "updated_at": "2026-03-02T09:00:00+08:00"}


def serve_pages(systems: Systems, conn: psycopg.Connection, numbers: Iterator[int]) -> None:
    """A first page of any bytes (JSON or not, a page or not) for one kind, a good page for
    another."""
    pages = f"/api/v1/{API_DEPT}/{KIND.name}"

    @budget(0.1)
    @given(data=st.data())
    @example(data=ESCAPES.encode())
    @example(data=NUMBERS.encode())
    def night(data: st.DataObject | bytes) -> None:
        if not isinstance(data, bytes):
            body = {"items": data.draw(st.lists(items(), max_size=4))}
            body["next_page"] = data.draw(st.none() | st.just(2))
            data = data.draw(st.binary(max_size=200) | st.just(encoded(data.draw, body)))
        systems.api.bodies.clear()
        systems.api.bodies[pages, 1] = data
        good = json.dumps({"items": [good_item(next(numbers))]}).encode()
        systems.api.bodies[f"/api/v1/{API_DEPT}/{GOOD_KIND.name}", 1] = good
        forget(conn, API_DEPT)
        errors = len(source_errors(conn, API_DEPT))
        pulled = ingest_source(API_DEPT, DAY)
        counts = landed(conn, pulled.batches)
        assert counts.pop(GOOD_KIND.name) == (1, 1)
        try:
            rows = len(http_api.read_page(data, 1, KIND.column_names, UNTIL).rows)
        except RejectedDelivery as rejection:
            assert pulled.rejected_pulls == [KIND.name] and not counts
            assert source_errors(conn, API_DEPT)[errors:] == [(KIND.name, str(rejection))]
        else:
            assert not pulled.rejected_pulls
            assert list(counts.values()) == ([(rows, rows)] if rows else [])

    night()


# Values of a column of each type as a department's database may hold them: edges included
# that Python has no object for (a date ``infinity`` or before year 1, 24:00, a long interval)
# or that landing cannot hold as it reads them (a JSON NUL or lone surrogate).
COLUMN_VALUES: dict[str, tuple[str, ...]] = {
    "text": ("江阴市某某机械有限公司", "", "2026-03-02"),
    "date": ("2026-03-02", "infinity", "-infinity", "0044-03-15 BC", "9999-12-31"),
    "timestamptz": ("2026-03-02 09:00+08", "infinity", "9999-12-31 23:59:59+00", "0044-03-15 BC"),
    "timestamp": ("2026-03-02 09:00", "-infinity", "0044-03-15 10:00 BC"),
    "time": ("24:00", "09:30"),
    "timetz": ("24:00+14", "09:30+08"),
    "interval": ("2147483647 days", "-178000000 years", "1 day"),
    "numeric": ("NaN", "Infinity", "-12.50"),
    "float8": ("NaN", "-Infinity", "1e308"),
    "json": (r'{"a": "\u0000"}', r'"\ud800"', r'"\u0000"', "[1, 2]", "1e400"),
    "jsonb": ('{"备注": [1, null]}', '"x"'),
    "bytea": (r"\x00ff", ""),
    "boolean": ("t", "f"),
    "date[]": ("{infinity,2026-03-02}", "{}"),
    "daterange": ("[2026-01-01,infinity)", "empty"),
    "point": ("(1,2)",),
}
UPDATED_AT_VALUES: dict[str, tuple[str, ...]] = {
    "timestamptz": (
        *("2026-03-02 09:00+08", "2026-03-01 23:00+00", "2026-03-09 00:00+08"),
        *("-infinity", "infinity", "0044-03-15 10:00 BC"),
    ),
    "timestamp": ("2026-03-02 09:00", "-infinity", "0044-03-15 10:00 BC"),
    "date": ("2026-03-02", "2026-03-03", "-infinity", "9999-12-31"),
    "text": ("2026-03-02T09:00:00+08:00",),
}


@dataclass(frozen=True)
class Table:
    """An exchange-database table: its columns' types and its rows' values as SQL literals."""

    types: dict[str, str]
    rows: list[dict[str, str | None]]


# A column of every type, its rows holding every value above, all of them due this night.
DUE = ("2026-03-02 09:00+08", "-infinity", "0044-03-15 10:00 BC", "2026-03-01 23:00+00")
EDGES = Table(
    {"record_id": "text", "updated_at": "timestamptz"} | {f"{t} column": t for t in COLUMN_VALUES},
    [
        {"record_id": str(n), "updated_at": DUE[n % len(DUE)]}
        | {f"{t} column": values[n % len(values)] for t, values in COLUMN_VALUES.items()}
        for n in range(max(map(len, COLUMN_VALUES.values())))
    ],
)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    """A department's table of a kind: ``record_id`` and ``updated_at`` of any type or none,
    catalogue columns and others of any type, rows of any values of their types."""
    types = {}
    if draw(st.integers(0, 9)):
        types["record_id"] = draw(st.sampled_from(["text", "bigint"]))
    if draw(st.integers(0, 9)):
        types["updated_at"] = draw(st.sampled_from(sorted(UPDATED_AT_VALUES)))
    names = st.sampled_from(KIND.column_names[:-2]) | st.sampled_from(["备注2", "extra field"])
    types |= draw(st.dictionaries(names, st.sampled_from(sorted(COLUMN_VALUES)), max_size=4))
    pools = {
        name: (UPDATED_AT_VALUES if name == "updated_at" else COLUMN_VALUES)[kind]
        for name, kind in types.items()
        if name != "record_id"
    }
    rows = []
    for number in range(draw(st.integers(0, 4))):
        row = {name: draw(st.none() | st.sampled_from(pool)) for name, pool in pools.items()}
        rows.append(row | ({"record_id": str(number)} if "record_id" in types else {}))
    return Table(types, rows)


def create(conn: psycopg.Connection, kind: str, table: Table) -> None:
    name = sql.Identifier(EXCHANGE_DEPT, kind)
    conn.execute(sql.SQL("drop table if exists {}").format(name))
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in table.types.items()
    ]
    conn.execute(sql.SQL("create table {} ({})").format(name, sql.SQL(", ").join(columns)))
    for row in table.rows:
        if not row:
            conn.execute(sql.SQL("insert into {} default values").format(name))
            continue
        conn.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                name,
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(
                    sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(table.types[column]))
                    for column, value in row.items()
                ),
            )
        )


def fill_tables(systems: Systems, conn: psycopg.Connection, numbers: Iterator[int]) -> None:
    """A table of any shape and values for one kind, a good one for another."""

    @budget(0.1)
    @given(table=tables())
    @example(table=EDGES)
    @example(table=Table({"record_id": "text"}, []))  # no updated_at
    @example(table=Table({"record_id": "text", "updated_at": "text"}, []))
    def night(table: Table) -> None:
        good = good_item(next(numbers))
        # A pull left holding its table would block the next example's for ever: fail instead.
        with psycopg.connect(
            systems.exchange, autocommit=True, options="-c lock_timeout=5s"
        ) as exchange:
            create(exchange, KIND.name, table)
            text = dict.fromkeys(good, "text")
            create(exchange, GOOD_KIND.name, Table(text | {"updated_at": "timestamptz"}, [good]))
            due = None
            if "updated_at" in table.types and table.types["updated_at"] != "text":
                due = exchange.execute(
                    sql.SQL("select count(*) from {} where updated_at < %s").format(
                        sql.Identifier(EXCHANGE_DEPT, KIND.name)
                    ),
                    (UNTIL,),
                ).fetchone()[0]
        forget(conn, EXCHANGE_DEPT)
        errors = len(source_errors(conn, EXCHANGE_DEPT))
        pulled = ingest_source(EXCHANGE_DEPT, DAY)
        counts = landed(conn, pulled.batches)
        assert counts.pop(GOOD_KIND.name) == (1, 1)
        if due is None or "record_id" not in table.types:
            assert pulled.rejected_pulls == [KIND.name] and not counts
            assert [kind for kind, _ in source_errors(conn, EXCHANGE_DEPT)[errors:]] == [KIND.name]
        else:
            assert list(counts.values()) == ([(due, due)] if due else [])

    night()
