"""Daily warnings (每日信用预警): the new and still-open warnings of the marts' day.

One workbook for the credit office (every warning, summaries by department and by rule), one
per responsible department (谁认定、谁负责: its own warnings) and one per town, street or zone
(镇街/园区: warnings about subjects registered there). A warning is in the day's files when it
is open or acknowledged (signed for by its department), or was raised or closed that day; the
files say who signed for and who closed it, which the departments report through their systems
(预警处置反馈, the ``warning_feedback`` record kind) by the warning's id.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from credit.exports.audit import record_export
from credit.exports.labels import (
    CLOSE_METHOD_ZH,
    SEVERITY_RANK,
    SEVERITY_ZH,
    WARNING_STATUS_ZH,
)
from credit.exports.outbox import Export, ExportWriter
from credit.exports.settings import Recipient, export_settings, recipients
from credit.exports.workbook import Chart, Column, Table
from credit.lineage import marts_lineage
from credit.roles import EXPORTER
from credit.transform import last_build
from credit.warehouse import ready_url

log = logging.getLogger(__name__)

KIND = "daily_warnings"
# What the operator's message says of a transform build that did not succeed.
BUILD_STATES = {
    "running": "has not finished (still building, or stopped before its end)",
    "failed": "failed",
}

# The warnings the day's notices list, with their names: the mart rpt_warning_notices (dbt
# exposure daily_warnings); this module lays them out per recipient.
WARNINGS_SQL = """
select warning_id, rule_code, rule_name, severity_code, responsible_dept_code, dept_name,
    subject_name, subject_identifier, division_code, division_name, raised_date, is_backlog, status,
    acknowledged_date, acknowledged_by, closed_date, close_method_code, closed_by, facts
from marts.rpt_warning_notices
"""

WARNING_COLUMNS = (
    Column("warning_id", "预警编号"),
    Column("is_new", "今日新增"),
    Column("backlog", "存量预警"),
    Column("rule_name", "预警规则"),
    Column("rule_code", "规则代码"),
    Column("severity", "预警等级"),
    Column("dept_name", "责任部门"),
    Column("subject_name", "主体名称"),
    Column("subject_identifier", "统一社会信用代码/身份证号（脱敏）"),
    Column("division_name", "所属镇街/园区"),
    Column("raised_date", "预警日期", "date"),
    Column("days_open", "已持续天数", "int"),
    Column("status_zh", "状态"),
    Column("acknowledged_date", "签收日期", "date"),
    Column("acknowledged_by", "签收人"),
    Column("closed_date", "关闭日期", "date"),
    Column("close_method", "关闭方式"),
    Column("closed_by", "办结人"),
    Column("facts", "预警事实"),
)


class ExportError(RuntimeError):
    """An export cannot be made as asked (the marts describe another day, are half built, hold
    no data)."""


def marts_as_of_date(conn: psycopg.Connection) -> date:
    """The county day the marts were last built as of (dbt's ``as_of_date``), once they are
    known to be a complete build of it: a transform whose last attempt failed, or did not finish,
    left them half rebuilt (what it built as of its day, the rest as of the day before), and
    nothing is exported from them until the transform completes."""
    build = last_build(conn)
    if build is not None and build.status != "succeeded":
        raise ExportError(
            f"the marts are half built: the transform's last build (run {build.run_id},"
            f" attempt {build.attempt}, as of {build.as_of_date}) {BUILD_STATES[build.status]};"
            f" complete it (clear its build task, or run credit_transform for"
            f" {build.as_of_date} again), then export"
        )
    row = conn.execute(
        "select max(as_of_date) from marts.fct_dishonesty_records"
        " union all select max(as_of_date) from marts.fct_warnings"
    ).fetchall()
    days = [day for (day,) in row if day is not None]
    if not days:
        raise ExportError("the marts are empty: run the transform before exporting")
    day = max(days)
    if build is None:
        log.warning(
            "no transform build recorded: exporting the marts as of %s as dbt left them", day
        )
    elif build.as_of_date != day:
        raise ExportError(
            f"the marts are as of {day}, not {build.as_of_date} as the transform's last build"
            f" (run {build.run_id}) left them: dbt ran by hand since; run credit_transform for"
            " the day to export, then export"
        )
    return day


def fetch_warnings(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(WARNINGS_SQL).fetchall()


def _as_listed(day: date, warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The warnings with their Chinese labels and age, most severe and oldest first."""
    rows = [dict(row) for row in warnings]
    for row in rows:
        row["is_new"] = "是" if row["raised_date"] == day else "否"
        row["backlog"] = "是" if row["is_backlog"] else "否"
        row["severity"] = SEVERITY_ZH.get(row["severity_code"], row["severity_code"])
        row["status_zh"] = WARNING_STATUS_ZH.get(row["status"], row["status"])
        row["close_method"] = CLOSE_METHOD_ZH.get(row["close_method_code"])
        row["days_open"] = ((row["closed_date"] or day) - row["raised_date"]).days
    rows.sort(
        key=lambda r: (-SEVERITY_RANK.get(r["severity_code"], 0), r["raised_date"], r["warning_id"])
    )
    return rows


def export_daily_warnings(day: date | None = None) -> Export:
    """Write the day's warnings workbooks to the outbox as the day's next version and log the
    export (an unchanged re-export makes no version and logs nothing).

    ``day`` defaults to the marts' as-of date; any other day is refused, since the marts
    describe only the day they were built as of.
    """
    url = ready_url(EXPORTER)  # at head: audit.exports as this release writes it
    with psycopg.connect(url) as conn:
        marts_day = marts_as_of_date(conn)
        if day is not None and day != marts_day:
            raise ExportError(f"the marts are as of {marts_day}, not {day}: transform {day} first")
        rows = fetch_warnings(conn)
        lineage = marts_lineage(conn)
    export = write_daily_warnings(marts_day, rows, lineage=lineage)
    record_export(url, export)
    return export


def write_daily_warnings(
    day: date,
    warnings: list[dict[str, Any]],
    *,
    workers: int | None = None,
    lineage: dict[str, Any] | None = None,
) -> Export:
    """Lay out the warnings' workbooks, one folder per recipient (written by ``workers``
    processes, by default one per core), ``lineage`` in the manifest."""
    rows = _as_listed(day, warnings)
    everyone = recipients()
    skip_empty = export_settings()["daily_warnings"]["skip_empty_recipients"]
    writer = ExportWriter(KIND, day.isoformat(), day, created=day, workers=workers, lineage=lineage)
    office = everyone["credit_office"]
    _report(writer, office, day, rows, by_department=True)
    by_dept: dict[str, list] = defaultdict(list)
    by_division: dict[str, list] = defaultdict(list)
    for row in rows:
        by_dept[row["responsible_dept_code"]].append(row)
        if row["division_code"]:
            by_division[row["division_code"]].append(row)
    for recipient in everyone.values():
        if recipient.scope == "department":
            own = by_dept.get(recipient.code, [])
        elif recipient.scope == "division":
            own = by_division.get(recipient.code, [])
        else:
            continue
        if own or not skip_empty:
            _report(writer, recipient, day, own, by_department=recipient.scope == "division")
    return writer.finish()


def _report(
    writer: ExportWriter,
    recipient: Recipient,
    day: date,
    rows: list[dict[str, Any]],
    *,
    by_department: bool,
) -> None:
    title = f"{day.isoformat()} 信用预警（{recipient.name}）"
    tables = [
        Table(
            "预警明细",
            "warnings",
            WARNING_COLUMNS,
            rows,
            title_lines=(title, f"截至 {day.isoformat()}：新增及未关闭预警 {len(rows)} 条"),
        ),
        _summary_by_rule(rows),
    ]
    if by_department:
        tables.insert(1, _summary_by_department(rows))
    stem = f"warnings_{day.isoformat()}_{recipient.recipient_id}"
    writer.report(recipient, stem, tables, title=title)


def _counts(rows: Iterable[dict[str, Any]], key: str) -> dict[str, Counter]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        bucket = counts[row[key]]
        bucket["total"] += 1
        bucket["new"] += row["is_new"] == "是"
        bucket[row["severity_code"]] += 1
    return counts


def _summary_by_department(rows: list[dict[str, Any]]) -> Table:
    names = {row["responsible_dept_code"]: row["dept_name"] for row in rows}
    summary = [
        {
            "dept_code": code,
            "dept_name": names[code],
            "total": counts["total"],
            "new": counts["new"],
            "serious": counts["serious"],
            "general": counts["general"],
            "minor": counts["minor"],
        }
        for code, counts in sorted(
            _counts(rows, "responsible_dept_code").items(), key=lambda kv: (-kv[1]["total"], kv[0])
        )
    ]
    return Table(
        "按部门汇总",
        "summary_by_department",
        (
            Column("dept_code", "部门代码"),
            Column("dept_name", "责任部门"),
            Column("total", "预警数", "int"),
            Column("new", "其中今日新增", "int"),
            Column("serious", "严重", "int"),
            Column("general", "一般", "int"),
            Column("minor", "轻微", "int"),
        ),
        summary,
        charts=(Chart("bar", "各部门新增及未关闭预警", "dept_name", ("total", "new")),),
    )


def _summary_by_rule(rows: list[dict[str, Any]]) -> Table:
    names = {row["rule_code"]: row["rule_name"] for row in rows}
    summary = [
        {"rule_code": code, "rule_name": names[code], "total": c["total"], "new": c["new"]}
        for code, c in sorted(_counts(rows, "rule_code").items(), key=lambda kv: kv[0])
    ]
    return Table(
        "按规则汇总",
        "summary_by_rule",
        (
            Column("rule_code", "规则代码"),
            Column("rule_name", "预警规则"),
            Column("total", "预警数", "int"),
            Column("new", "其中今日新增", "int"),
        ),
        summary,
    )
