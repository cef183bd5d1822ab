"""Daily publicity list (信用信息公示清单): what the credit office's portal may publish today.

Files a day for the credit office, which runs the county's credit portal (信用门户): the
administrative permits and penalties (双公示) and dishonesty records in their publicity period
(公示清单, a CSV file the portal synchronises with: hundreds of thousands of rows, which no one
reads as a sheet and an XLSX sheet would cap at 1,048,576), and a workbook of the records
repaired, revoked or corrected that must come off the portal by their deadline (撤下清单; one
the warehouse learned of only after its deadline is on the next list, flagged 逾期撤下) and a
count by kind. Every row is the mart ``marts.fct_publicity_records`` (dbt exposure
``daily_publicity``), which applies the rules; natural persons appear by masked name only, with
no identifier.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from credit.exports.audit import record_export
from credit.exports.daily import ExportError, marts_as_of_date
from credit.exports.labels import WITHDRAWAL_REASON_ZH
from credit.exports.outbox import Export, ExportWriter, csv_file_name
from credit.exports.settings import recipients
from credit.exports.workbook import Column, Table
from credit.roles import EXPORTER
from credit.warehouse import ready_url

KIND = "daily_publicity"

# The rows the day's files list: those published today and those whose withdrawal is pending.
PUBLICITY_SQL = """
select publicity_record_id, as_of_date, record_kind, record_kind_zh, dept_name, doc_no,
    subject_name, subject_identifier, category, content, decision_date, publicity_start,
    publicity_end, under_objection, is_listed, withdrawal_pending, withdrawal_reason_code,
    withdrawal_date, withdrawal_deadline, withdrawal_known_date, withdrawal_late
from marts.fct_publicity_records
where is_listed or withdrawal_pending
"""

RECORD_COLUMNS = (
    Column("publicity_record_id", "公示编号"),
    Column("record_kind_zh", "信息类别"),
    Column("doc_no", "决定文书号"),
    Column("subject_name", "主体名称"),
    Column("subject_identifier", "统一社会信用代码"),
    Column("dept_name", "决定部门"),
    Column("decision_date", "决定日期", "date"),
)
LISTED_COLUMNS = (
    *RECORD_COLUMNS,
    Column("category", "类别"),
    Column("content", "内容"),
    Column("publicity_start", "公示起始日", "date"),
    Column("publicity_end", "公示期满日", "date"),
    Column("objection", "异议处理中"),
)
WITHDRAWAL_COLUMNS = (
    *RECORD_COLUMNS,
    Column("withdrawal_reason", "撤下原因"),
    Column("withdrawal_date", "事由日期", "date"),
    Column("withdrawal_deadline", "撤下时限", "date"),
    Column("withdrawal_known_date", "获知日期", "date"),
    Column("late", "逾期撤下"),
)
# The kinds in the order the portal lists them.
KIND_ORDER = {"permit": 0, "penalty": 1, "dishonesty": 2}


def fetch_publicity(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(PUBLICITY_SQL).fetchall()


def export_daily_publicity(day: date | None = None) -> Export:
    """Write the day's publicity workbook to the outbox and log the export.

    ``day`` defaults to the marts' as-of date; any other day is refused, as for the warnings.
    """
    url = ready_url(EXPORTER)
    with psycopg.connect(url) as conn:
        marts_day = marts_as_of_date(conn)
        if day is not None and day != marts_day:
            raise ExportError(f"the marts are as of {marts_day}, not {day}: transform {day} first")
        rows = fetch_publicity(conn)
    stale = {row["as_of_date"] for row in rows} - {marts_day}
    if stale:
        raise ExportError(
            f"marts.fct_publicity_records is as of {sorted(stale)}, not {marts_day}:"
            " run credit_transform again"
        )
    export = write_daily_publicity(marts_day, rows)
    record_export(url, export)
    return export


def write_daily_publicity(day: date, rows: list[dict[str, Any]]) -> Export:
    """Lay out the credit office's publicity workbook of ``day``."""
    # The rows are labelled in place: copied, the county's half a million took twice the memory.
    ordered = sorted(
        rows,
        key=lambda r: (KIND_ORDER[r["record_kind"]], r["decision_date"], r["publicity_record_id"]),
    )
    for row in ordered:
        row["objection"] = "是" if row["under_objection"] else "否"
        row["withdrawal_reason"] = WITHDRAWAL_REASON_ZH.get(row["withdrawal_reason_code"])
        row["late"] = "是" if row["withdrawal_late"] else "否"
    listed = [row for row in ordered if row["is_listed"]]
    withdrawals = sorted(
        (row for row in ordered if row["withdrawal_pending"]),
        key=lambda r: (r["withdrawal_deadline"], r["publicity_record_id"]),
    )
    # Learned after their deadline: on the list all the same, flagged.
    late = sum(row["withdrawal_late"] for row in withdrawals)
    office = recipients()["credit_office"]
    title = f"{day.isoformat()} 信用信息公示清单（{office.name}）"
    stem = f"publicity_{day.isoformat()}_{office.recipient_id}"
    listed_table = Table("公示清单", "listed", LISTED_COLUMNS, listed, in_workbook=False)
    tables = [
        listed_table,
        Table(
            "撤下清单",
            "withdrawals",
            WITHDRAWAL_COLUMNS,
            withdrawals,
            title_lines=(
                f"{day.isoformat()} 应撤下的公示信息",
                f"已修复、撤销或更正，须于撤下时限前撤下：{len(withdrawals)} 条"
                f"（其中逾期撤下 {late} 条）",
            ),
        ),
        _summary_by_kind(
            ordered,
            title_lines=(
                title,
                f"截至 {day.isoformat()}：可公示信息 {len(listed)} 条，"
                f"全部列于公示清单 {csv_file_name(stem, listed_table)}（门户按公示编号同步）",
            ),
        ),
    ]
    writer = ExportWriter(KIND, day.isoformat(), day, created=day)
    writer.report(office, stem, tables, title=title)
    return writer.finish()


def _summary_by_kind(rows: list[dict[str, Any]], title_lines: tuple[str, ...]) -> Table:
    names = {row["record_kind"]: row["record_kind_zh"] for row in rows}
    listed = Counter(row["record_kind"] for row in rows if row["is_listed"])
    pending = Counter(row["record_kind"] for row in rows if row["withdrawal_pending"])
    summary = [
        {"record_kind_zh": names[kind], "listed": listed[kind], "pending": pending[kind]}
        for kind in sorted(names, key=KIND_ORDER.__getitem__)
    ]
    return Table(
        "按类别汇总",
        "summary_by_kind",
        (
            Column("record_kind_zh", "信息类别"),
            Column("listed", "可公示", "int"),
            Column("pending", "待撤下", "int"),
        ),
        summary,
        title_lines=title_lines,
    )
