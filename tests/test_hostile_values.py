"""Hostile values are inert (issue 16, point 6): SQL fragments, formula text, control and
bidirectional characters, HTML, NUL, overlong values and path tricks are stored as text or
quarantined with their rule, never executed; every exported cell and file name is neutralised;
the names the configuration turns into SQL are checked as it is loaded."""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.catalogue import (
    SQL_KEYWORDS,
    CatalogueError,
    RecordKind,
    parse_record_kinds,
    record_kind,
)
from credit.connectors import drop_folder
from credit.exports.daily import write_daily_warnings
from credit.exports.outbox import (
    MAX_FILE_NAME_BYTES,
    RESERVED_FILE_NAMES,
    ExportWriter,
    safe_file_name,
)
from credit.exports.settings import Recipient, outbox_dir
from credit.exports.workbook import (
    FORMULA_TRIGGERS,
    MAX_CELL_CHARACTERS,
    Column,
    Table,
    neutralise,
)
from credit.landing import Batch, land_batch
from credit.sources import SourcesError, parse_sources, sources
from credit.validation import install_validation_sql, validate_batch
from tests.test_validation import valid_row

DEPT = "market_regulation"
LOGICAL_DATE = dt.date(2026, 3, 2)
SQL_FRAGMENT = "'; DROP TABLE raw.penalty; --"
# Characters no exported cell may hold as they are: C0 controls but tab and line feed, DEL,
# C1 controls, bidirectional marks, embeddings, overrides and isolates.
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Each hostile value, the column of a penalty row it is put in, and the rule that quarantines
# its row (None: the row is accepted, the value kept as it came).
HOSTILE: list[tuple[str, str, str | None]] = [
    ("subject_name", SQL_FRAGMENT, None),
    ("violation_facts", "Robert'); DROP TABLE audit.batches;--", None),
    ("subject_name", '=HYPERLINK("http://evil.example","点击")', None),
    ("subject_name", "＝SUM(A1:A9)", None),
    ("legal_rep", " +cmd|' /C calc'!A0", None),
    ("subject_name", "\t@SUM(1)", None),
    ("subject_name", "江阴\u202eexe.txt\u202c有限公司", None),
    ("violation_facts", "<script>alert('x')</script><b>罚</b>", None),
    ("remarks", "第一行\r\n第二行\x07\x1b[31m", None),
    ("subject_name", "../../etc/passwd", None),
    ("remarks", "含\x00空字符", "parse_problem"),
    ("subject_name", "长" * 10_000, "max_length"),
    ("violation_facts", "事" * 2_001, "max_length"),
]


@pytest.fixture(scope="module")
def conn(warehouse_url: str):
    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        install_validation_sql(connection)
        yield connection


def _drop_file(folder: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> Path:
    """A drop-folder CSV of ``rows`` in the provincial template (Chinese headers), UTF-8."""
    path = folder / DEPT / f"{kind.name}_{LOGICAL_DATE:%Y%m%d}.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([column.label for column in kind.columns])
        for row in rows:
            writer.writerow([row[column.name] or "" for column in kind.columns])
    return path


def test_hostile_rows_land_as_text_or_are_quarantined_with_their_rule(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    """A department's file of hostile values through the real drop-folder reader, landing and
    validation: nothing executed, every row accepted or quarantined with its rule, the accepted
    text stored exactly as it came."""
    kind = record_kind("penalty")
    rows = []
    for i, (column, value, _) in enumerate(HOSTILE):
        row = valid_row(kind, i)
        row[column] = value
        rows.append(row)
    drop = drop_folder.identify(_drop_file(tmp_path, kind, rows))
    parsed = drop_folder.parse(drop)
    assert len(parsed.rows) == len(HOSTILE)
    with conn.transaction():
        batch_id = land_batch(
            conn,
            Batch(
                dept_code=DEPT,
                kind=kind,
                shape="drop_folder",
                logical_date=LOGICAL_DATE,
                source_ref=drop.name,
                rows=parsed.rows,
                received_at=dt.datetime(2026, 3, 3, 1, tzinfo=dt.UTC),
            ),
        )
    outcome = validate_batch(conn, batch_id)

    for table in ("raw.penalty", "audit.batches", "quarantine.rejected_rows"):
        assert conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None
    assert (outcome.rows_read, outcome.accepted + outcome.quarantined) == (len(HOSTILE),) * 2
    landed = conn.execute(
        "select r.raw_row_id, r.subject_name, r.legal_rep, r.violation_facts, r.remarks,"
        " q.reasons from raw.penalty r left join quarantine.rejected_rows q"
        " on q.record_kind = 'penalty' and q.raw_row_id = r.raw_row_id"
        " where r.batch_id = %s order by r.raw_row_id",
        (batch_id,),
    ).fetchall()
    assert len(landed) == len(HOSTILE)
    for (column, value, rule), (_, *stored, reasons) in zip(HOSTILE, landed, strict=True):
        text = dict(
            zip(("subject_name", "legal_rep", "violation_facts", "remarks"), stored, strict=True)
        )
        if rule is None:
            assert reasons is None, (column, value[:40], reasons)
            assert text[column] == value
        else:
            assert {(r["rule"], r["column"]) for r in reasons} >= {
                (rule, column if rule == "max_length" else "parse_problem")
            }, (column, value[:40], reasons)
    batch = conn.execute(
        "select rows_read, rows_accepted, rows_quarantined, status from audit.batches"
        " where batch_id = %s",
        (batch_id,),
    ).fetchone()
    quarantined = sum(rule is not None for *_, rule in HOSTILE)
    assert batch == (len(HOSTILE), len(HOSTILE) - quarantined, quarantined, "validated")


def _warning(number: int, subject_name: str, day: dt.date) -> dict[str, Any]:
    """A daily-warnings row as ``marts.rpt_warning_notices`` gives it."""
    return {
        "warning_id": f"w{number:02d}",
        "rule_code": "repair_eligible",
        "rule_name": "可申请信用修复提示",
        "severity_code": "minor",
        "responsible_dept_code": DEPT,
        "dept_name": "市市场监管局",
        "subject_name": subject_name,
        "subject_identifier": "91320281MA1XXXXXXX",
        "division_code": "320281001",
        "division_name": "澄江街道",
        "raised_date": day,
        "is_backlog": False,
        "status": "acknowledged",
        "acknowledged_date": day,
        "acknowledged_by": "-handler",
        "closed_date": None,
        "close_method_code": None,
        "closed_by": None,
        "facts": subject_name,
    }


def _assert_inert(text: str) -> None:
    """A cell as a spreadsheet reads it: no formula, nothing hidden."""
    assert not HIDDEN.search(text), repr(text)
    assert "\r" not in text
    assert text[:1] == "'" or (
        text[:1] not in FORMULA_TRIGGERS and text.lstrip()[:1] not in FORMULA_TRIGGERS
    ), repr(text)


def test_hostile_text_is_exported_inert_in_every_cell(tmp_path: Path) -> None:
    """The daily warnings of subjects with hostile names and facts: every XLSX and CSV cell read
    back is text a spreadsheet does not run, shows nothing hidden, keeps HTML as text."""
    day = dt.date(2031, 1, 2)  # a period of its own
    hostile = [value for _, value, rule in HOSTILE if rule is None]
    warnings = [_warning(i, name, day) for i, name in enumerate(hostile)]
    export = write_daily_warnings(day, warnings, workers=1)
    office = export.folder / "credit_office"
    sheet = openpyxl.load_workbook(office / f"warnings_{day}_credit_office.xlsx")["预警明细"]
    names = [
        row[7]
        for row in sheet.iter_rows(min_row=4, values_only=True)  # two title lines, the header
    ]
    assert len(names) == len(hostile)
    for cell in sheet.iter_rows(min_row=1, values_only=True):
        for value in cell:
            if isinstance(value, str):
                _assert_inert(value)
    assert SQL_FRAGMENT in names  # text, not a formula: as it came
    assert "'＝SUM(A1:A9)" in names and "'\t@SUM(1)" in names
    assert "<script>alert('x')</script><b>罚</b>" in names
    assert "江阴\ufffdexe.txt\ufffd有限公司" in names
    assert "第一行\n第二行\u2407\u241b[31m" in names
    for path in office.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            for line in csv.reader(f):
                for value in line:
                    _assert_inert(value)


def test_file_names_built_from_data_stay_in_their_folder(tmp_path: Path) -> None:
    """A recipient, period and report named with path tricks write inside the outbox."""
    hostile = Recipient("../../逃逸\u202e", "department", "x", "<b>部门</b>", None)
    table = Table("表", "../t\x00able", (Column("name", "名称"),), [{"name": "=1+1"}])
    writer = ExportWriter("../kind", "../../2031Q1", dt.date(2031, 3, 31), dt.date(2031, 3, 31))
    writer.report(hostile, "CON", [table], title="标题")
    with pytest.raises(ValueError, match="a file name is taken"):
        writer.report(hostile, "con", [table], title="标题")  # the same name on Windows: no
    export = writer.finish()
    root = outbox_dir().resolve()
    assert export.folder.resolve().is_relative_to(root)
    written = [path for path in export.folder.rglob("*") if path.is_file()]
    assert len(written) == 3  # workbook, CSV, manifest
    for path in written:
        assert path.resolve().is_relative_to(export.folder.resolve())
        assert path.name == safe_file_name(path.name)
    assert {f.path for f in export.files} == {"_._逃逸_/_CON.xlsx", "_._逃逸_/_CON_._t_able.csv"}
    assert export.folder == outbox_dir() / "_kind" / "_._2031Q1" / "v1"


def test_a_cell_longer_than_a_spreadsheet_holds_is_cut_visibly() -> None:
    cut = neutralise("长" * 40_000)
    assert len(cut) == MAX_CELL_CHARACTERS - 1 and cut.endswith("…")


@given(st.text())
def test_neutralised_text_is_inert(text: str) -> None:
    result = neutralise(text)
    if text:
        _assert_inert(result)
        assert len(result) <= MAX_CELL_CHARACTERS
    if not HIDDEN.search(text) and "\r" not in text and len(text) < MAX_CELL_CHARACTERS - 1:
        assert result in (text, "'" + text)  # nothing else changes


@given(st.text(st.characters(codec="utf-8"), max_size=300))
def test_safe_file_names_are_one_name_on_any_system(text: str) -> None:
    name = safe_file_name(text)
    assert name and len(name.encode()) <= MAX_FILE_NAME_BYTES
    assert not any(unicodedata.category(char)[0] in "CZ" for char in name)  # controls, spaces
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".") and not name.endswith(".")
    assert name.split(".", 1)[0].lower() not in RESERVED_FILE_NAMES
    assert safe_file_name(name) == name
    base = Path("/outbox")
    assert (base / name).parent == base


@pytest.mark.parametrize(
    "name",
    ["penalty; drop table raw.x", "Penalty", "1penalty", "select", "", "x" * 64, "名称", None],
)
def test_a_catalogue_name_that_is_not_a_plain_sql_name_fails_as_it_is_loaded(name) -> None:
    raw = {
        "column_groups": {},
        "kinds": {
            "penalty": {
                "label": "行政处罚",
                "business_key": ["doc_no"],
                "record_date": "doc_no",
                "columns": [
                    {"name": "doc_no", "label": "文号", "type": "date", "mandatory": True},
                    {"name": name, "label": "名称", "type": "text", "mandatory": False},
                ],
            }
        },
    }
    with pytest.raises(CatalogueError, match=r"^record_kinds\.yaml: kinds\.penalty\.columns\[1\]"):
        parse_record_kinds(raw)
    raw["kinds"] = {name: raw["kinds"]["penalty"]}
    raw["kinds"][name]["columns"].pop()
    with pytest.raises(CatalogueError, match=r"^record_kinds\.yaml: kinds\."):
        parse_record_kinds(raw)


def test_the_catalogue_max_length_is_a_whole_number() -> None:
    column = {"name": "facts", "label": "事实", "type": "text", "mandatory": False}
    raw = {
        "default_max_length": 0,
        "column_groups": {"g": [column]},
        "kinds": {},
    }
    with pytest.raises(CatalogueError, match="default_max_length: 0 is not"):
        parse_record_kinds(raw)
    raw["default_max_length"] = 10
    raw["column_groups"]["g"] = [{**column, "type": "date", "max_length": 5}]
    with pytest.raises(CatalogueError, match=r"g\[0\] \(facts\)\.max_length: only free text"):
        parse_record_kinds(raw)


def test_the_sql_key_words_are_the_servers(conn: psycopg.Connection) -> None:
    server = {
        word
        for (word,) in conn.execute(
            "select word from pg_get_keywords() where catcode in ('R', 'T', 'C')"
        )
    }
    assert server <= SQL_KEYWORDS
    assert len(server) >= len(SQL_KEYWORDS) - 5  # PostgreSQL 15 lacks only 16's five


@pytest.mark.parametrize("code", ["../escape", "a/b", "..", "x\x00y", " padded"])
def test_a_department_code_that_is_not_one_folder_name_fails_as_it_is_loaded(code) -> None:
    entry = {
        "shape": "drop_folder",
        "organ_uscc": sources()[DEPT].organ_uscc,
        "kinds": ["penalty"],
    }
    raw = {"connections": {"drop_folder": "fs_default"}, "sources": {code: entry}}
    with pytest.raises(SourcesError, match=r"^sources\."):
        parse_sources(raw)


def test_an_exchange_schema_that_is_sql_stays_a_name() -> None:
    """A schema or table name is any text PostgreSQL holds quoted (they are always
    ``psycopg.sql.Identifier``): one that reads as SQL is kept whole, one with a control
    character or longer than PostgreSQL keeps fails naming its key."""
    entry = {
        "shape": "exchange_db",
        "organ_uscc": sources()[DEPT].organ_uscc,
        "kinds": ["penalty"],
        "exchange": {"schema": 'x"; drop schema raw cascade; --'},
    }
    raw = {"connections": {"exchange_db": "exchange"}, "sources": {"d": entry}}
    assert parse_sources(raw)["d"].exchange.schema == 'x"; drop schema raw cascade; --'
    entry["exchange"] = {"schema": "x\ny"}
    with pytest.raises(SourcesError, match=r"^d\.exchange\.schema: .* control character"):
        parse_sources(raw)
