"""The exports on the shared quarter county: workbooks opened with openpyxl, checked against
the warehouse; byte-identical re-exports; formula text neutralised; the export DAGs."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import json
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import psycopg
import pytest

from credit.airflow_env import COUNTY_TIMEZONE, run_dag
from credit.exports import outbox
from credit.exports.daily import export_daily_warnings, fetch_warnings, write_daily_warnings
from credit.exports.outbox import OutboxError
from credit.exports.quarterly import COLLECTION_SQL, export_quarterly_statistics
from credit.exports.settings import outbox_dir
from credit.exports.workbook import Column, Table, write_csv, write_workbook
from credit.reference import departments as reference_departments
from tests.county import QUARTER_LAST_DAY

# Attachment 2 of the source document (澄信用发〔2021〕5号), its column heads.
ATTACHMENT_2 = [
    "序号",
    "已出台相关文件、政策",
    "政策来源或原创研发",
    "举措要点",
    "落实进展情况",
    "成效和特色亮点",
    "问题困难及工作建议",
]


# A plan's drawn subjects, those its department inspected by double random spot check (双随机抽查)
# in the plan's quarter by the marts' day, and of those the ones with problems or unreachable.
PLAN_RECOUNT = """
with inspections as (
    select dept_code, subject_key, inspection_date, result
    from staging.stg_raw__inspections
    where is_latest and change_type_code <> 'revoke' and inspection_method = '双随机抽查'
        and inspection_date <= %s
),
items as (
    select plans.plan_quarter, plans.dept_code, plans.subject_key,
        count(inspections.result) > 0 as inspected,
        coalesce(bool_or(inspections.result like '发现问题%%'), false) as problems,
        coalesce(bool_or(inspections.result like '%%无法联系'), false) as unreachable
    from marts.fct_inspection_plans as plans
    left join inspections
        on plans.dept_code = inspections.dept_code
        and plans.subject_key = inspections.subject_key
        and inspections.inspection_date between plans.quarter_start and plans.quarter_end
    where plans.plan_quarter in ('2026Q1', '2026Q2')
    group by 1, 2, 3
)
select plan_quarter, dept_code, count(*), count(*) filter (where inspected),
    count(*) filter (where problems), count(*) filter (where unreachable)
from items group by 1, 2
"""


def _header(sheet) -> tuple[int, list[str]]:
    """The header row: the row the panes are frozen below."""
    row = int("".join(ch for ch in sheet.freeze_panes if ch.isdigit())) - 1
    return row, [cell.value for cell in sheet[row] if cell.value is not None]


def _body(sheet) -> list[dict[str, object]]:
    row, header = _header(sheet)
    return [
        dict(zip(header, values, strict=False))
        for values in sheet.iter_rows(min_row=row + 1, values_only=True)
    ]


def _scalar(url: str, sql: str, *params) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


@pytest.fixture
def daily(quarter_county):
    return export_daily_warnings()


def test_daily_warnings_for_the_office_every_department_and_town(quarter_county, daily) -> None:
    url = quarter_county.url
    assert daily.period == QUARTER_LAST_DAY.isoformat()
    expected = _scalar(
        url,
        "select count(*) from marts.fct_warnings where status <> 'closed' or raised_date = %s",
        QUARTER_LAST_DAY,
    )
    assert expected > 0, "the county raised no warning to export"
    office = openpyxl.load_workbook(
        daily.folder / "credit_office" / f"warnings_{daily.period}_credit_office.xlsx"
    )
    assert office.sheetnames == ["预警明细", "按部门汇总", "按规则汇总"]
    warnings = _body(office["预警明细"])
    assert len(warnings) == expected
    assert _header(office["预警明细"])[1][:4] == ["预警编号", "今日新增", "存量预警", "预警规则"]
    by_dept = _body(office["按部门汇总"])
    assert sum(row["预警数"] for row in by_dept) == expected
    assert sum(row["预警数"] for row in _body(office["按规则汇总"])) == expected
    assert office["按部门汇总"]._charts, "the summary by department has a chart"

    with psycopg.connect(url) as conn:
        per_dept = dict(
            conn.execute(
                "select responsible_dept_code, count(*) from marts.fct_warnings"
                " where status <> 'closed' or raised_date = %s group by 1",
                (QUARTER_LAST_DAY,),
            ).fetchall()
        )
        per_division = dict(
            conn.execute(
                "select division_code, count(*) from marts.fct_warnings"
                " where (status <> 'closed' or raised_date = %s) and division_code is not null"
                " group by 1",
                (QUARTER_LAST_DAY,),
            ).fetchall()
        )
    for dept_code, count in per_dept.items():
        path = daily.folder / f"dept-{dept_code}" / f"warnings_{daily.period}_dept-{dept_code}.xlsx"
        assert len(_body(openpyxl.load_workbook(path)["预警明细"])) == count, dept_code
    assert per_division, "warnings about registered subjects go to their towns"
    for code, count in per_division.items():
        path = daily.folder / f"div-{code}" / f"warnings_{daily.period}_div-{code}.xlsx"
        assert len(_body(openpyxl.load_workbook(path)["预警明细"])) == count, code

    manifest = json.loads((daily.folder / "manifest.json").read_text(encoding="utf-8"))
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) == {
        p.relative_to(daily.folder).as_posix() for p in daily.folder.rglob("*") if p.is_file()
    } - {"manifest.json"}
    office_csv = listed[f"credit_office/warnings_{daily.period}_credit_office_warnings.csv"]
    assert office_csv["rows"] == {"预警明细": expected}
    with (daily.folder / office_csv["path"]).open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == expected + 1


def test_a_second_export_is_byte_identical(quarter_county, daily) -> None:
    def files(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"
        }

    def manifest(folder: Path) -> dict[str, object]:
        listed = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        listed.pop("generated_at")
        return listed

    first_files, first_manifest = files(daily.folder), manifest(daily.folder)
    # The same files again: no new version, the day's latest is the export.
    again = export_daily_warnings()
    assert (again.new, again.version, again.folder) == (False, daily.version, daily.folder)
    assert again.content_sha256 == daily.content_sha256
    assert files(again.folder) == first_files
    assert manifest(again.folder) == first_manifest
    # One process writing every report gives the same files as one per core.
    with psycopg.connect(quarter_county.url) as conn:
        warnings = fetch_warnings(conn)
    alone = write_daily_warnings(QUARTER_LAST_DAY, warnings, workers=1)
    assert (alone.new, alone.content_sha256) == (False, daily.content_sha256)
    assert [p.name for p in daily.folder.parent.iterdir()] == [daily.folder.name]


def test_an_export_that_cannot_be_written_leaves_the_previous_one_whole(
    quarter_county, daily, monkeypatch
) -> None:
    """The disk fills up half way through the next export of the same day: it fails with a clear
    error, the files delivered before are all still there as they were, nothing half-written is
    left and nothing is logged as exported; the next export (its retry) writes it whole, the
    same files as the version before, so no new version."""
    before = {p: p.read_bytes() for p in daily.folder.rglob("*") if p.is_file()}
    write_csv = outbox.write_csv

    def disk_full_after_a_file(path, table):
        if any(path.parent.glob("*.csv")):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_csv(path, table)

    monkeypatch.setattr(outbox, "write_csv", disk_full_after_a_file)
    exports = _scalar(quarter_county.url, "select count(*) from audit.exports")
    with pytest.raises(OutboxError, match="No space left on device"):
        export_daily_warnings()
    assert {p: p.read_bytes() for p in daily.folder.rglob("*") if p.is_file()} == before
    assert not list((outbox_dir() / ".partial").rglob("*.csv"))
    assert _scalar(quarter_county.url, "select count(*) from audit.exports") == exports

    monkeypatch.undo()
    again = export_daily_warnings()
    assert (again.content_sha256, again.new, again.folder) == (
        daily.content_sha256,
        False,
        daily.folder,
    )
    assert _scalar(quarter_county.url, "select count(*) from audit.exports") == exports


def test_quarterly_statistics_workbook(quarter_county) -> None:
    url = quarter_county.url
    export = export_quarterly_statistics("2026Q1")
    book = openpyxl.load_workbook(
        export.folder / "credit_office" / "statistics_2026Q1_credit_office.xlsx"
    )
    assert book.sheetnames == [
        "归集情况",
        "失信存量趋势",
        "新增与退出",
        "分布",
        "镇街分布",
        "信用等级分布",
        "双随机抽查计划",
        "整改与约谈",
        "信用修复",
        "异议处理",
        "附件2汇总",
        "部门考核",
    ]
    for sheet in ("失信存量趋势", "新增与退出", "镇街分布"):
        assert book[sheet]._charts, f"{sheet} has its chart"

    collection = _body(book["归集情况"])
    assert len(collection) == 34 + 1 and collection[-1]["部门"] == "合计"
    assert collection[-1]["接收条数"] == sum(row["接收条数"] for row in collection[:-1])

    trend = _body(book["失信存量趋势"])
    assert trend[-1]["日期"].date() == dt.date(2026, 3, 31)
    closing = _scalar(
        url,
        "select stock_end from marts.fct_dishonesty_metrics where grain = 'quarter'"
        " and period_start = '2026-01-01' and dimension = 'all' and unit = 'records'",
    )
    assert trend[-1]["失信记录存量（条）"] == closing
    divisions = _body(book["镇街分布"])
    assert sum(row["期末失信记录存量（条）"] for row in divisions) == closing
    moved, out = "转入（主体属性变更）", "转出（主体属性变更）"
    for row in _body(book["分布"]):
        flows = row["期初存量"] + row["新增"] + row[moved] - row["退出"] - row[out]
        assert row["期末存量"] == flows, row

    # Each plan's coverage and findings as fct_inspection_plan_results counts them, and that
    # mart recounted here from the plans and the departments' double-random inspections.
    names = {d.dept_code: d.name_zh for d in reference_departments()}
    with psycopg.connect(url) as conn:
        results = {
            (quarter, names[dept]): figures
            for quarter, dept, *figures in conn.execute(
                "select plan_quarter, dept_code, drawn, inspected, coverage_share,"
                " problems_found, unreachable from marts.fct_inspection_plan_results"
                " where plan_quarter in ('2026Q1', '2026Q2')"
            )
        }
        recount = {
            (quarter, names[dept]): figures
            for quarter, dept, *figures in conn.execute(PLAN_RECOUNT, (QUARTER_LAST_DAY,))
        }
    plans = {
        (row["计划季度"], row["部门"]): [
            row["抽查主体数"],
            row["已检查主体数"],
            row["检查覆盖率"],
            row["发现问题主体数"],
            row["无法联系主体数"],
        ]
        for row in _body(book["双随机抽查计划"])
    }
    assert plans and set(plans) == set(results) == set(recount)
    for key, (drawn, inspected, share, problems, unreachable) in results.items():
        assert plans[key] == [drawn, inspected, pytest.approx(float(share)), problems, unreachable]
        assert recount[key] == [drawn, inspected, problems, unreachable], key
        assert share == round(Decimal(inspected) / drawn, 4)

    rectification = _body(book["整改与约谈"])
    due = _scalar(
        url,
        "select count(*) from marts.fct_dishonesty_records"
        " where rectification_deadline between '2026-01-01' and '2026-03-31'",
    )
    assert rectification[-1]["部门"] == "合计" and rectification[-1]["整改到期"] == due
    filed = _scalar(
        url,
        "select count(*) from marts.fct_dishonesty_records"
        " where objection_filed_date between '2026-01-01' and '2026-03-31'",
    )
    objections = _body(book["异议处理"])
    assert (objections[-1]["受理异议"] if objections else 0) == filed

    reported = _scalar(
        url,
        "select count(*) from staging.stg_raw__progress_reports"
        " where is_latest and quarter = '2026Q1' and change_type_code is distinct from 'revoke'",
    )
    assert reported > 0, "the departments sent their Attachment 2 rows"
    assert len(_body(book["附件2汇总"])) == reported
    forms = sorted(export.folder.glob("dept-*/progress_2026Q1_*.xlsx"))
    departments = _scalar(
        url,
        "select count(distinct dept_code) from staging.stg_raw__progress_reports"
        " where is_latest and quarter = '2026Q1'",
    )
    assert len(forms) == departments
    form = openpyxl.load_workbook(forms[0])["附件2"]
    assert form["A1"].value.endswith("重点领域信用监管推进情况季度报送表（2026Q1）")
    assert form["A2"].value.startswith("填报单位（盖章）：")
    assert _header(form)[1] == ATTACHMENT_2
    assert [row["序号"] for row in _body(form)] == list(range(1, len(_body(form)) + 1))


def test_collection_counts_the_batches_of_its_window(quarter_county) -> None:
    # The shared county caught up in one night (logical date 2026-04-08): count its quarter.
    window = {"start": dt.date(2026, 4, 1), "end": QUARTER_LAST_DAY}
    with psycopg.connect(quarter_county.url) as conn:
        rows = conn.execute(COLLECTION_SQL, {"quarter": "2026Q2"}).fetchall()
        received, quarantined = conn.execute(
            "select sum(rows_read), sum(rows_quarantined) from audit.batches"
            " where logical_date between %(start)s and %(end)s",
            window,
        ).fetchone()
    assert received > 0
    assert sum(row[3] for row in rows) == received
    assert sum(row[5] for row in rows) == quarantined


def test_quarter_not_yet_closed_is_refused(quarter_county) -> None:
    from credit.exports.daily import ExportError

    with pytest.raises(ExportError, match="2026Q2 ends 2026-06-30"):
        export_quarterly_statistics("2026Q2")


def test_quarter_before_the_monitoring_window_is_refused(quarter_county) -> None:
    from credit.exports.daily import ExportError

    with pytest.raises(ExportError, match="2025Q1 is outside the marts' monitoring window"):
        export_quarterly_statistics("2025Q1")


def test_formula_text_comes_out_as_text(tmp_path: Path) -> None:
    hostile = ['=HYPERLINK("http://evil.example","点击")', "+1+1", "-2+3", "@SUM(A1:A2)"]
    table = Table(
        "主体",
        "subjects",
        (Column("name", "主体名称"), Column("amount", "金额", "int")),
        [{"name": name, "amount": -5} for name in hostile],
    )
    write_workbook(tmp_path / "t.xlsx", [table], title="t", created=dt.date(2026, 4, 8))
    write_csv(tmp_path / "t.csv", table)
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["主体"]
    cells = [sheet.cell(row=r, column=1) for r in range(2, 2 + len(hostile))]
    assert [cell.value for cell in cells] == ["'" + name for name in hostile]
    assert all(cell.data_type == "s" for cell in cells)
    assert sheet.cell(row=2, column=2).value == -5  # numbers stay numbers
    with (tmp_path / "t.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [row[0] for row in rows] == ["'" + name for name in hostile]
    assert {row[1] for row in rows} == {"-5"}


def test_columns_are_as_wide_as_their_widest_text(tmp_path: Path) -> None:
    # A Chinese character takes two columns, a letter or digit one; at most max_column_width.
    table = Table(
        "主体",
        "subjects",
        (Column("code", "代码"), Column("name", "名称"), Column("facts", "事实")),
        [
            {"code": "91320281MA1XYZ0001", "name": "江阴市澄江机械有限公司", "facts": "长" * 80},
            {"code": "A1", "name": "Jiangyin Co", "facts": "短"},
        ],
    )
    write_workbook(tmp_path / "t.xlsx", [table], title="t", created=dt.date(2026, 4, 8))
    widths = openpyxl.load_workbook(tmp_path / "t.xlsx")["主体"].column_dimensions
    # The fitted width, two columns of margin, and the padding xlsxwriter adds (under one).
    assert [int(widths[letter].width) for letter in "ABC"] == [18 + 2, 22 + 2, 60 + 2]


def test_a_warning_about_a_hostile_name_is_exported_as_text(quarter_county) -> None:
    day = dt.date(2030, 1, 2)  # a period of its own, outside the county's
    row = {
        "warning_id": "w1",
        "rule_code": "repair_eligible",
        "rule_name": "可申请信用修复提示",
        "severity_code": "minor",
        "responsible_dept_code": "market_regulation",
        "dept_name": "市市场监管局",
        "subject_name": "=cmd|' /C calc'!A0",
        "subject_identifier": "91320281MA1XXXXXXX",
        "division_code": "320281001",
        "division_name": "澄江街道",
        "raised_date": day,
        "is_backlog": False,
        "status": "acknowledged",
        "acknowledged_date": day,
        "acknowledged_by": "+handler",
        "closed_date": None,
        "close_method_code": None,
        "closed_by": None,
        "facts": "@facts",
    }
    export = write_daily_warnings(day, [row])
    for recipient in ("credit_office", "dept-market_regulation", "div-320281001"):
        path = export.folder / recipient / f"warnings_{day}_{recipient}.xlsx"
        (only,) = _body(openpyxl.load_workbook(path)["预警明细"])
        assert only["主体名称"] == "'=cmd|' /C calc'!A0"
        assert only["预警事实"] == "'@facts"
        assert only["签收人"] == "'+handler"


def test_no_person_facing_cell_holds_an_internal_code(quarter_county, daily) -> None:
    """Every cell of the daily and quarterly workbooks is Chinese but the codes' own columns
    (规则代码, 部门代码, 预警编号...): no department, severity or measure code in a text."""
    code = re.compile(r"[a-z]{2,}|_")
    quarterly = export_quarterly_statistics("2026Q1")
    found = []
    for folder in (daily.folder, quarterly.folder):
        for path in sorted(folder.rglob("*.xlsx")):
            for sheet in openpyxl.load_workbook(path):
                if not sheet.freeze_panes:
                    continue
                for row in _body(sheet):
                    found += [
                        (path.name, sheet.title, head, value)
                        for head, value in row.items()
                        if isinstance(value, str)
                        and not head.endswith(("代码", "编号"))
                        and code.search(value)
                    ]
    assert found == []


def test_export_dags_run(quarter_county, airflow_ready) -> None:
    assert run_dag("credit_export_daily") == "success"
    export_day = dt.datetime(2026, 4, 8, 6, tzinfo=COUNTY_TIMEZONE)
    assert run_dag("credit_export_quarterly", export_day) == "success"
    with psycopg.connect(quarter_county.url) as conn:
        logged = conn.execute(
            "select kind, period from audit.exports order by export_id desc limit 3"
        ).fetchall()
    assert set(logged) == {
        ("daily_warnings", QUARTER_LAST_DAY.isoformat()),
        ("daily_publicity", QUARTER_LAST_DAY.isoformat()),
        ("quarterly_statistics", "2026Q1"),
    }
    # The DAGs' tasks connect as the exporter role, which the access log names.
    with psycopg.connect(quarter_county.url) as conn:
        accessed = conn.execute(
            "select login, target from audit.access_log where action = 'export'"
            " order by access_id desc limit 3"
        ).fetchall()
    assert set(accessed) == {
        ("credit_exporter", f"daily_warnings/{QUARTER_LAST_DAY.isoformat()}"),
        ("credit_exporter", f"daily_publicity/{QUARTER_LAST_DAY.isoformat()}"),
        ("credit_exporter", "quarterly_statistics/2026Q1"),
    }
