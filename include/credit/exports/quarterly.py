"""Quarterly statistics (季度统计报送), exported after each quarter closes.

The credit office's workbook: collection per department (归集), dishonesty stock, inflow, exit
by reason and distribution (失信存量、增量、退出、分布) with charts, grade distribution (信用等级)
and inspection plans with their coverage and findings (双随机抽查计划), rectification and
interviews (整改与约谈), repair (信用修复), objections (异议处理), every department's progress
rows and the department scorecard (部门考核); beside it the quarter's summary report (季度总结报告,
:mod:`credit.exports.summary_report`) as a Word document. Each department that reported gets
its own Attachment 2 progress form (附件2 推进情况季度报送表), with the columns of the source
document exactly.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from credit.exports.audit import record_export
from credit.exports.daily import ExportError, marts_as_of_date
from credit.exports.labels import (
    DIMENSION_ZH,
    EXIT_REASON_ZH,
    SEVERITY_ZH,
    SUBJECT_TYPE_ZH,
    UNIT_ZH,
)
from credit.exports.outbox import Export, ExportWriter
from credit.exports.periods import last_closed_quarter, quarter_bounds
from credit.exports.settings import recipients
from credit.exports.summary_report import summary_report
from credit.exports.workbook import Chart, Column, Table
from credit.lineage import marts_lineage
from credit.reference import departments, divisions
from credit.roles import EXPORTER
from credit.warehouse import ready_url

KIND = "quarterly_statistics"

# Attachment 2 of 澄信用发〔2021〕5号, its columns exactly as the source document heads them.
PROGRESS_FORM_COLUMNS = (
    Column("seq_no", "序号", "int"),
    Column("policy_documents", "已出台相关文件、政策"),
    Column("policy_source", "政策来源或原创研发"),
    Column("key_measures", "举措要点"),
    Column("implementation_progress", "落实进展情况"),
    Column("achievements", "成效和特色亮点"),
    Column("problems_and_suggestions", "问题困难及工作建议"),
)

# Every table is a mart of dbt's reporting area (dbt/models/marts/reporting, exposure
# quarterly_statistics): this module only picks the quarter's rows and lays them out.
COLLECTION_SQL = """
select dept_code, dept_name, batches, rows_received as received, rows_accepted as accepted,
    rows_quarantined as quarantined, quarantined_share as quarantine_share, rejected_files,
    source_errors, progress_rows
from marts.rpt_collection_by_department
where quarter_label = %(quarter)s
"""

METRICS_SQL = """
select grain, period_start, period_end, dimension, dimension_value, unit, stock_start, inflow,
    transfer_in, exit_total, exit_repair, exit_expiry, exit_revocation, transfer_out, stock_end
from marts.fct_dishonesty_metrics
where period_start between %(start)s and %(end)s and grain = %(grain)s
    and (grain <> 'day' or dimension = 'all')
"""

GRADES_SQL = """
select domain_code, domain_zh, grade_a, grade_b, grade_c, grade_d, subjects
from marts.rpt_grades_by_domain
where quarter_label = %(quarter)s
order by domain_code
"""

PLANS_SQL = """
select plan_quarter, dept_code, grade_a, grade_b, grade_c, grade_d, drawn, in_joint_visits,
    inspected, coverage_share, problems_found, unreachable
from marts.rpt_inspection_plans_by_department
where plan_quarter in (%(quarter)s, %(next_quarter)s)
"""

LIFECYCLE_SQL = """
select dept_code, rectification_due, rectified_in_time, rectified_late, not_rectified,
    reminder_due, reminder_held, warning_due, warning_held, repair_applied, repair_approved,
    repair_refused, exit_repair, objection_filed, objection_closed, objection_confirmed,
    objection_corrected, objection_revoked, objection_pending
from marts.rpt_dishonesty_lifecycle_by_department
where quarter_label = %(quarter)s
"""

PREVIOUS_QUARTER_SQL = """
select grain, period_start, period_end, dimension, dimension_value, unit, stock_start, inflow,
    exit_total, exit_repair, exit_expiry, exit_revocation, stock_end
from marts.fct_dishonesty_metrics
where grain = 'quarter' and dimension = 'all' and period_start = %(previous_start)s
"""

SCORECARD_SQL = """
select dept_code, dept_name, collection_timeliness, collection_completeness, accepted_share,
    interviews_on_time, warnings_closed, warnings_closed_in_time, progress_on_time,
    interviews_due, interviews_held_on_time, warnings_raised, warnings_closed_count, score,
    grade_code, grade_zh, score_rank
from marts.rpt_department_scorecard
where quarter_label = %(quarter)s
"""

# The indicators' names and weights as the scorecard's seed has them (the sheet's headers).
SCORECARD_INDICATORS_SQL = """
select distinct indicator_code, indicator_zh, weight
from marts.rpt_department_scorecard_items
where quarter_label = %(quarter)s
"""

PROGRESS_SQL = """
select dept_code, seq_no, policy_documents, policy_source, key_measures,
    implementation_progress, achievements, problems_and_suggestions, submitted_date
from marts.rpt_progress_reports
where quarter = %(quarter)s
order by dept_code, seq_no
"""


def export_quarterly_statistics(quarter: str | None = None) -> Export:
    """Write a closed quarter's statistics to the outbox as the quarter's next version and log
    the export (an unchanged re-export makes no version and logs nothing).

    ``quarter`` (e.g. ``2026Q1``) defaults to the last quarter that closed on or before the
    marts' as-of date; a quarter the marts have not reached the end of is refused.
    """
    url = ready_url(EXPORTER)  # at head: audit.exports as this release writes it
    with psycopg.connect(url) as conn:
        as_of = marts_as_of_date(conn)
        quarter = quarter or last_closed_quarter(as_of)
        _, end = quarter_bounds(quarter)
        if as_of < end:
            raise ExportError(f"{quarter} ends {end}; the marts are only as of {as_of}")
        data = fetch_quarter(conn, quarter)
        lineage = marts_lineage(conn)
    if not data["collection"]:
        raise ExportError(f"{quarter} is outside the marts' monitoring window (as of {as_of})")
    export = write_quarterly_statistics(quarter, as_of, data, lineage=lineage)
    record_export(url, export)
    return export


def fetch_quarter(conn: psycopg.Connection, quarter: str) -> dict[str, list[dict[str, Any]]]:
    """Every table the quarter's files need, read in one connection."""
    start, end = quarter_bounds(quarter)
    next_quarter = _next_quarter(quarter)
    previous_start, _ = quarter_bounds(_previous_quarter(quarter))
    params = {
        "start": start,
        "end": end,
        "quarter": quarter,
        "next_quarter": next_quarter,
        "previous_start": previous_start,
    }
    with conn.cursor(row_factory=dict_row) as cursor:

        def rows(sql: str, **extra: Any) -> list[dict[str, Any]]:
            return cursor.execute(sql, {**params, **extra}).fetchall()

        return {
            "collection": rows(COLLECTION_SQL),
            "daily": rows(METRICS_SQL, grain="day"),
            "monthly": rows(METRICS_SQL, grain="month"),
            "quarterly": rows(METRICS_SQL, grain="quarter"),
            "previous_quarter": rows(PREVIOUS_QUARTER_SQL),
            "grades": rows(GRADES_SQL),
            "plans": rows(PLANS_SQL),
            "lifecycle": rows(LIFECYCLE_SQL),
            "progress": rows(PROGRESS_SQL),
            "scorecard": rows(SCORECARD_SQL),
            "indicators": rows(SCORECARD_INDICATORS_SQL),
            "domains": rows("select distinct domain_code, domain_zh from rules.industry_domains"),
        }


def _next_quarter(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[5:])
    return f"{year + number // 4}Q{number % 4 + 1}"


def _previous_quarter(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[5:])
    return f"{year - (number == 1)}Q{(number - 2) % 4 + 1}"


def write_quarterly_statistics(
    quarter: str,
    as_of: date,
    data: dict[str, list[dict[str, Any]]],
    *,
    lineage: dict[str, Any] | None = None,
) -> Export:
    start, end = quarter_bounds(quarter)
    writer = ExportWriter(KIND, quarter, as_of, created=end, lineage=lineage)
    everyone = recipients()
    names = _names(data)
    office = everyone["credit_office"]
    title = f"{quarter} 信用监管统计（{office.name}）"
    tables = [
        _collection(data, names, quarter),
        *_stock_and_flows(data, names),
        _grades(data, names),
        _plans(data, names),
        *_lifecycle(data, names),
        _progress_summary(data, names, quarter),
        scorecard := _scorecard(data),
    ]
    for table in tables:
        table.title_lines = (title, f"{table.sheet}：{start} 至 {end}（截至 {as_of}）")
    writer.report(office, f"statistics_{quarter}_{office.recipient_id}", tables, title=title)
    writer.document(
        office,
        f"summary_{quarter}_{office.recipient_id}",
        summary_report(quarter, as_of, office.name, data, scorecard),
    )
    by_dept: dict[str, list[dict[str, Any]]] = {}
    for row in data["progress"]:
        by_dept.setdefault(row["dept_code"], []).append(row)
    for dept_code, rows in sorted(by_dept.items()):
        recipient = everyone[f"dept-{dept_code}"]
        submitted = max(row["submitted_date"] for row in rows if row["submitted_date"])
        form = Table(
            "附件2",
            "progress_form",
            PROGRESS_FORM_COLUMNS,
            rows,
            title_lines=(
                f"{start.year} 年重点领域信用监管推进情况季度报送表（{quarter}）",
                f"填报单位（盖章）：{recipient.name}",
                f"报送时间：{submitted.year} 年 {submitted.month} 月",
            ),
        )
        writer.report(
            recipient,
            f"progress_{quarter}_{recipient.recipient_id}",
            [form],
            title=f"{quarter} 重点领域信用监管推进情况季度报送表（{recipient.name}）",
        )
    return writer.finish()


def _names(data: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    return {
        "all": {"all": "合计"},
        "department": {d.dept_code: d.name_zh for d in departments()},
        "division": {d.division_code: d.name_zh for d in divisions()},
        "domain": {row["domain_code"]: row["domain_zh"] for row in data["domains"]},
        "severity": SEVERITY_ZH,
        "subject_type": SUBJECT_TYPE_ZH,
    }


def _value_name(names: dict[str, dict[str, str]], dimension: str, value: str) -> str:
    if value == "unknown":
        return "未知"
    return names.get(dimension, {}).get(value, value)


def _dept_order(dept_code: str) -> int:
    codes = [d.dept_code for d in departments()]
    return codes.index(dept_code) if dept_code in codes else len(codes)


def _collection(data, names, quarter: str) -> Table:
    rows = sorted(data["collection"], key=lambda r: _dept_order(r["dept_code"]))
    keys = ("batches", "received", "accepted", "quarantined", "rejected_files", "source_errors")
    total = {key: sum(row[key] for row in rows) for key in (*keys, "progress_rows")}
    total["dept_name"] = "合计"
    total["quarantine_share"] = (
        total["quarantined"] / total["received"] if total["received"] else None
    )
    return Table(
        "归集情况",
        "collection",
        (
            Column("dept_code", "部门代码"),
            Column("dept_name", "部门"),
            Column("batches", "批次数", "int"),
            Column("received", "接收条数", "int"),
            Column("accepted", "入库条数", "int"),
            Column("quarantined", "隔离条数", "int"),
            Column("quarantine_share", "隔离率", "ratio"),
            Column("rejected_files", "拒收文件数", "int"),
            Column("source_errors", "系统连接失败次数", "int"),
            Column("progress_rows", f"{quarter}附件2报送条数", "int"),
        ),
        [*rows, total],
    )


FLOW_COLUMNS = (
    Column("stock_start", "期初存量", "int"),
    Column("inflow", "新增", "int"),
    Column("exit_total", "退出", "int"),
    Column("exit_repair", f"其中{EXIT_REASON_ZH['repair']}", "int"),
    Column("exit_expiry", f"其中{EXIT_REASON_ZH['expiry']}", "int"),
    Column("exit_revocation", f"其中{EXIT_REASON_ZH['revocation']}", "int"),
    Column("stock_end", "期末存量", "int"),
)
# By division, domain and grade a subject and its records move between slices on the day the
# subject's attribute changed: the distribution shows those moves beside the flows.
DISTRIBUTION_COLUMNS = (
    *FLOW_COLUMNS[:2],
    Column("transfer_in", "转入（主体属性变更）", "int"),
    *FLOW_COLUMNS[2:-1],
    Column("transfer_out", "转出（主体属性变更）", "int"),
    FLOW_COLUMNS[-1],
)


def _stock_and_flows(data, names) -> list[Table]:
    def pick(rows, dimension, unit):
        return [r for r in rows if r["dimension"] == dimension and r["unit"] == unit]

    daily_records = {r["period_end"]: r for r in pick(data["daily"], "all", "records")}
    daily_subjects = {r["period_end"]: r for r in pick(data["daily"], "all", "subjects")}
    trend = [
        {
            "day": day,
            "records": daily_records[day]["stock_end"],
            "subjects": daily_subjects.get(day, {}).get("stock_end"),
        }
        for day in sorted(daily_records)
    ]
    monthly = sorted(pick(data["monthly"], "all", "records"), key=lambda r: r["period_start"])
    for row in monthly:
        row["month"] = row["period_start"].strftime("%Y-%m")
    distribution = []
    for row in data["quarterly"]:
        dimension = row["dimension"]
        distribution.append(
            {
                **row,
                "dimension_zh": DIMENSION_ZH.get(dimension, dimension),
                "value_zh": _value_name(names, dimension, row["dimension_value"]),
                "unit_zh": UNIT_ZH.get(row["unit"], row["unit"]),
            }
        )
    order = list(DIMENSION_ZH)
    distribution.sort(
        key=lambda r: (
            order.index(r["dimension"]) if r["dimension"] in order else len(order),
            r["unit"],
            -r["stock_end"],
            r["dimension_value"],
        )
    )
    by_division = [
        {"division": r["value_zh"], "stock_end": r["stock_end"], "inflow": r["inflow"]}
        for r in distribution
        if r["dimension"] == "division" and r["unit"] == "records"
    ]
    return [
        Table(
            "失信存量趋势",
            "stock_trend",
            (
                Column("day", "日期", "date"),
                Column("records", "失信记录存量（条）", "int"),
                Column("subjects", "失信主体存量（户）", "int"),
            ),
            trend,
            charts=(Chart("line", "失信存量走势", "day", ("records", "subjects")),),
        ),
        Table(
            "新增与退出",
            "inflow_exit",
            (Column("month", "月份"), *FLOW_COLUMNS),
            monthly,
            charts=(Chart("column", "失信记录新增与退出", "month", ("inflow", "exit_total")),),
        ),
        Table(
            "分布",
            "distribution",
            (
                Column("dimension_zh", "维度"),
                Column("value_zh", "分类"),
                Column("unit_zh", "计量单位"),
                *DISTRIBUTION_COLUMNS,
            ),
            distribution,
        ),
        Table(
            "镇街分布",
            "by_division",
            (
                Column("division", "镇街/园区"),
                Column("stock_end", "期末失信记录存量（条）", "int"),
                Column("inflow", "本季新增（条）", "int"),
            ),
            by_division,
            charts=(Chart("bar", "失信记录按镇街/园区分布", "division", ("stock_end",)),),
        ),
    ]


def _grades(data, names) -> Table:
    rows = [{**row, "domain": row["domain_zh"]} for row in data["grades"]]
    if rows:
        keys = ("grade_a", "grade_b", "grade_c", "grade_d", "subjects")
        rows.append({"domain": "合计", **{key: sum(row[key] for row in rows) for key in keys}})
    return Table(
        "信用等级分布",
        "grades",
        (
            Column("domain", "行业领域"),
            Column("grade_a", "A级", "int"),
            Column("grade_b", "B级", "int"),
            Column("grade_c", "C级", "int"),
            Column("grade_d", "D级", "int"),
            Column("subjects", "主体数", "int"),
        ),
        rows,
        charts=(
            Chart(
                "column",
                "各行业信用等级分布",
                "domain",
                ("grade_a", "grade_b", "grade_c", "grade_d"),
            ),
        )
        if len(rows) > 1
        else (),
    )


def _plans(data, names) -> Table:
    rows = sorted(data["plans"], key=lambda r: (r["plan_quarter"], _dept_order(r["dept_code"])))
    for row in rows:
        row["dept_name"] = names["department"].get(row["dept_code"], row["dept_code"])
    return Table(
        "双随机抽查计划",
        "inspection_plans",
        (
            Column("plan_quarter", "计划季度"),
            Column("dept_name", "部门"),
            Column("grade_a", "抽查A级", "int"),
            Column("grade_b", "抽查B级", "int"),
            Column("grade_c", "抽查C级", "int"),
            Column("grade_d", "抽查D级", "int"),
            Column("drawn", "抽查主体数", "int"),
            Column("in_joint_visits", "其中联合检查", "int"),
            Column("inspected", "已检查主体数", "int"),
            Column("coverage_share", "检查覆盖率", "ratio"),
            Column("problems_found", "发现问题主体数", "int"),
            Column("unreachable", "无法联系主体数", "int"),
        ),
        rows,
    )


def _lifecycle(data, names) -> list[Table]:
    rows = sorted(data["lifecycle"], key=lambda r: _dept_order(r["dept_code"]))
    for row in rows:
        row["dept_name"] = names["department"].get(row["dept_code"], row["dept_code"])

    def table(sheet: str, csv_name: str, columns: tuple[Column, ...]) -> Table:
        keys = [c.key for c in columns]
        chosen = [{"dept_name": r["dept_name"], **{k: r[k] for k in keys}} for r in rows]
        chosen = [r for r in chosen if any(r[k] for k in keys)]
        if chosen:
            chosen.append({"dept_name": "合计", **{k: sum(r[k] for r in chosen) for k in keys}})
        return Table(sheet, csv_name, (Column("dept_name", "部门"), *columns), chosen)

    return [
        table(
            "整改与约谈",
            "rectification_interviews",
            (
                Column("rectification_due", "整改到期", "int"),
                Column("rectified_in_time", "按期整改", "int"),
                Column("rectified_late", "逾期整改", "int"),
                Column("not_rectified", "未整改", "int"),
                Column("reminder_due", "应提示性约谈", "int"),
                Column("reminder_held", "已提示性约谈", "int"),
                Column("warning_due", "应警示性约谈", "int"),
                Column("warning_held", "已警示性约谈", "int"),
            ),
        ),
        table(
            "信用修复",
            "repair",
            (
                Column("repair_applied", "修复申请", "int"),
                Column("repair_approved", "准予修复", "int"),
                Column("repair_refused", "不予修复", "int"),
                Column("exit_repair", "修复退出记录", "int"),
            ),
        ),
        table(
            "异议处理",
            "objections",
            (
                Column("objection_filed", "受理异议", "int"),
                Column("objection_closed", "办结", "int"),
                Column("objection_confirmed", "维持", "int"),
                Column("objection_corrected", "更正", "int"),
                Column("objection_revoked", "撤销", "int"),
                Column("objection_pending", "季末未办结", "int"),
            ),
        ),
    ]


def _progress_summary(data, names, quarter: str) -> Table:
    rows = sorted(data["progress"], key=lambda r: (_dept_order(r["dept_code"]), r["seq_no"]))
    for row in rows:
        row["dept_name"] = names["department"].get(row["dept_code"], row["dept_code"])
    return Table(
        "附件2汇总",
        "progress_reports",
        (
            Column("dept_name", "填报单位"),
            *PROGRESS_FORM_COLUMNS,
            Column("submitted_date", "报送日期", "date"),
        ),
        rows,
    )


def _scorecard(data) -> Table:
    """部门考核: every department's indicators, score, band and rank, best first; the indicators'
    headers carry their weights (seed department_scorecard_indicators)."""
    rows = sorted(
        data["scorecard"],
        key=lambda r: (r["score_rank"] is None, r["score_rank"], _dept_order(r["dept_code"])),
    )
    weights = {row["indicator_code"]: row for row in data["indicators"]}
    indicators = [
        Column(code, f"{weights[code]['indicator_zh']}（{weights[code]['weight']:g}分）", "ratio")
        for code in (
            "collection_timeliness",
            "collection_completeness",
            "accepted_share",
            "interviews_on_time",
            "warnings_closed",
            "warnings_closed_in_time",
            "progress_on_time",
        )
        if code in weights
    ]
    return Table(
        "部门考核",
        "department_scorecard",
        (
            Column("score_rank", "排名", "int"),
            Column("dept_name", "部门"),
            *indicators,
            Column("score", "综合得分", "int"),
            Column("grade_zh", "考核等次"),
        ),
        rows,
        charts=(Chart("bar", "各部门考核得分", "dept_name", ("score",)),)
        if any(r["score"] is not None for r in rows)
        else (),
    )
