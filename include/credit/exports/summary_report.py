"""The quarterly summary report (季度总结报告) drafted for the credit office.

澄信用发〔2021〕5号 五(四) asks for a summary report at the end of every quarter; this drafts it
from the quarter's statistics: dishonesty stock, inflow and exit and their change on the previous
quarter, collection, grades, rectification and interviews, warnings raised and closed, and the
department scorecard's leaders and laggards. Every number is a value of the marts the quarterly
export read (:func:`credit.exports.quarterly.fetch_quarter`); the prose around them is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from credit.exports.document import Document, Section
from credit.exports.labels import EXIT_REASON_ZH
from credit.exports.periods import quarter_bounds
from credit.exports.workbook import Table

QUARTER_ZH = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
# How many departments the report names as leaders and as laggards.
NAMED_DEPARTMENTS = 3


def quarter_zh(quarter: str) -> str:
    """``2026Q1`` → ``2026年第一季度``."""
    return f"{quarter[:4]}年{QUARTER_ZH[int(quarter[5:])]}"


def _day_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def change_zh(current: int, previous: int | None, unit: str) -> str:
    """The change of a count on the previous quarter, as a report says it."""
    if previous is None:
        return "上季度无可比数据"
    if current == previous:
        return "与上季度持平"
    direction = "增加" if current > previous else "减少"
    amount = f"{direction}{abs(current - previous)}{unit}"
    if not previous:
        return f"较上季度{amount}（上季度为0）"
    return f"较上季度{amount}（{(current - previous) / previous:+.1%}）"


def _flows(rows: Sequence[dict[str, Any]], unit: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["dimension"] == "all" and r["unit"] == unit), None)


def summary_report(
    quarter: str,
    as_of: date,
    office_name: str,
    data: dict[str, list[dict[str, Any]]],
    scorecard: Table,
) -> Document:
    """The report of ``quarter`` from the data of the quarterly export and its scorecard table."""
    start, end = quarter_bounds(quarter)
    return Document(
        title=f"江阴市“行业+信用”监管{quarter_zh(quarter)}工作总结报告",
        lines=(
            f"（草稿，供{office_name}审定）",
            f"统计期间：{_day_zh(start)}至{_day_zh(end)}；数据截至{_day_zh(as_of)}",
        ),
        sections=(
            _stock_and_flows(data),
            _collection(data),
            _grades(data, quarter),
            _lifecycle(data),
            _warnings(data),
            _scorecard(data, scorecard),
            _next_steps(data),
        ),
    )


def _stock_and_flows(data: dict[str, list[dict[str, Any]]]) -> Section:
    records, subjects = _flows(data["quarterly"], "records"), _flows(data["quarterly"], "subjects")
    previous = _flows(data["previous_quarter"], "records")
    if records is None or subjects is None:
        return Section("一、失信存量、增量与退出", ("本季度无失信监测数据。",))
    previous_inflow = previous["inflow"] if previous else None
    previous_exit = previous["exit_total"] if previous else None
    paragraphs = [
        f"季度末全市有效失信记录{records['stock_end']}条，涉及失信主体{subjects['stock_end']}户；"
        f"失信记录存量{change_zh(records['stock_end'], records['stock_start'], '条')}，"
        f"失信主体{change_zh(subjects['stock_end'], subjects['stock_start'], '户')}。",
        f"本季度新增失信记录{records['inflow']}条，"
        f"{change_zh(records['inflow'], previous_inflow, '条')}；新进入失信名单的主体"
        f"{subjects['inflow']}户。退出失信记录{records['exit_total']}条，"
        f"{change_zh(records['exit_total'], previous_exit, '条')}，其中"
        f"{EXIT_REASON_ZH['repair']}{records['exit_repair']}条、"
        f"{EXIT_REASON_ZH['expiry']}{records['exit_expiry']}条、"
        f"{EXIT_REASON_ZH['revocation']}{records['exit_revocation']}条；"
        f"退出失信名单的主体{subjects['exit_total']}户。",
    ]
    by_department = sorted(
        (
            r
            for r in data["quarterly"]
            if r["dimension"] == "department" and r["unit"] == "records" and r["inflow"]
        ),
        key=lambda r: (-r["inflow"], r["dimension_value"]),
    )[:NAMED_DEPARTMENTS]
    if by_department:
        names = {r["dept_code"]: r["dept_name"] for r in data["collection"]}
        named = "、".join(
            f"{names.get(r['dimension_value'], '未知部门')}（{r['inflow']}条）"
            for r in by_department
        )
        paragraphs.append(f"新增失信记录较多的认定部门为{named}。")
    return Section("一、失信存量、增量与退出", paragraphs)


def _collection(data: dict[str, list[dict[str, Any]]]) -> Section:
    rows = data["collection"]
    received = sum(r["received"] for r in rows)
    quarantined = sum(r["quarantined"] for r in rows)
    sent = sum(1 for r in rows if r["received"])
    reported = sum(1 for r in rows if r["progress_rows"])
    collected = (
        f"本季度{sent}个部门向市公共信用信息平台报送数据，共接收{received}条，"
        f"入库{sum(r['accepted'] for r in rows)}条，因校验未通过隔离{quarantined}条"
        f"（隔离率{_share(quarantined, received)}）"
        if sent
        else "本季度平台未进行数据归集"
    )
    paragraphs = [f"{collected}；{reported}个部门报送了附件2推进情况季度报送表。"]
    silent = [r["dept_name"] for r in rows if not r["received"]]
    if silent and sent:
        paragraphs.append(f"本季度未报送数据的部门共{len(silent)}个：{'、'.join(silent)}。")
    return Section("二、信用信息归集", paragraphs)


def _grades(data: dict[str, list[dict[str, Any]]], quarter: str) -> Section:
    rows = data["grades"]
    total = sum(r["subjects"] for r in rows)
    if not total:
        return Section("三、信用评价与分级分类监管", ("季度末无参评主体。",))
    counts = {grade: sum(r[f"grade_{grade.lower()}"] for r in rows) for grade in "ABCD"}
    parts = "、".join(f"{g}级{n}户（{_share(n, total)}）" for g, n in counts.items())
    paragraphs = [f"季度末参与信用评价的主体{total}户，其中{parts}。"]
    plans = [r for r in data["plans"] if r["plan_quarter"] == quarter]
    if plans:
        drawn = sum(r["drawn"] for r in plans)
        joint = sum(r["in_joint_visits"] for r in plans)
        inspected = sum(r["inspected"] for r in plans)
        problems = sum(r["problems_found"] for r in plans)
        paragraphs.append(
            f"本季度双随机抽查计划共抽取主体{drawn}户，其中纳入跨部门联合检查{joint}户；"
            f"已检查{inspected}户（覆盖率{_share(inspected, drawn)}），发现问题{problems}户。"
        )
    return Section("三、信用评价与分级分类监管", paragraphs)


def _lifecycle(data: dict[str, list[dict[str, Any]]]) -> Section:
    rows = data["lifecycle"]

    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    due = total("rectification_due")
    interviews_due = total("reminder_due") + total("warning_due")
    return Section(
        "四、限期整改、约谈、信用修复与异议处理",
        (
            f"本季度整改到期的失信记录{due}条，其中按期整改{total('rectified_in_time')}条"
            f"（{_share(total('rectified_in_time'), due)}）、逾期整改{total('rectified_late')}条、"
            f"未整改{total('not_rectified')}条。应开展约谈{interviews_due}次（提示性约谈"
            f"{total('reminder_due')}次、警示性约谈{total('warning_due')}次），"
            f"本季度已约谈{total('reminder_held') + total('warning_held')}次。",
            f"受理信用修复申请{total('repair_applied')}件，准予修复{total('repair_approved')}件、"
            f"不予修复{total('repair_refused')}件；受理异议{total('objection_filed')}件，"
            f"办结{total('objection_closed')}件，季度末尚未办结{total('objection_pending')}件。",
        ),
    )


def _warnings(data: dict[str, list[dict[str, Any]]]) -> Section:
    rows = data["scorecard"]
    raised = sum(r["warnings_raised"] for r in rows)
    closed = sum(r["warnings_closed_count"] for r in rows)
    due = sum(r["interviews_due"] for r in rows)
    on_time = sum(r["interviews_held_on_time"] for r in rows)
    return Section(
        "五、信用预警与处置",
        (
            f"本季度新增信用预警{raised}条，截至数据日已办结{closed}条"
            f"（办结率{_share(closed, raised)}）。应完成约谈{due}次，按期完成{on_time}次"
            f"（按时率{_share(on_time, due)}）。",
        ),
    )


def _scorecard(data: dict[str, list[dict[str, Any]]], scorecard: Table) -> Section:
    scored = sorted(
        (r for r in data["scorecard"] if r["score"] is not None),
        key=lambda r: (r["score_rank"], r["dept_code"]),
    )
    if not scored:
        return Section("六、部门考核（政务诚信）", ("本季度无可考核的部门。",))
    bands: dict[str, int] = {}
    for row in scored:
        bands[row["grade_zh"]] = bands.get(row["grade_zh"], 0) + 1
    band_text = "、".join(f"{band}{count}个" for band, count in bands.items())
    leaders = scored[:NAMED_DEPARTMENTS]
    laggards = scored[-NAMED_DEPARTMENTS:][::-1] if len(scored) > NAMED_DEPARTMENTS else []
    paragraphs = [
        f"本季度对{len(scored)}个部门开展信用监管工作考核，其中{band_text}。",
        "得分居前的部门："
        + "、".join(f"{r['dept_name']}（{r['score']}分）" for r in leaders)
        + "。",
    ]
    if laggards:
        paragraphs.append(
            "得分靠后的部门："
            + "、".join(f"{r['dept_name']}（{r['score']}分）" for r in laggards)
            + "。各部门得分明细见下表。"
        )
    table = Table(
        scorecard.sheet,
        scorecard.csv_name,
        [c for c in scorecard.columns if c.key in ("score_rank", "dept_name", "score", "grade_zh")],
        scorecard.rows,
    )
    return Section("六、部门考核（政务诚信）", paragraphs, table)


def _next_steps(data: dict[str, list[dict[str, Any]]]) -> Section:
    failing = [r["dept_name"] for r in data["scorecard"] if r["grade_code"] == "fail"]
    late = [r["dept_name"] for r in data["scorecard"] if r["progress_on_time"] == 0 and r["score"]]
    paragraphs = [
        "继续督促各部门做到公共信用信息“应归尽归”，对隔离数据及时核实更正后重新报送；"
        "对整改逾期的失信主体按期开展提示性约谈和警示性约谈；对可申请信用修复的主体做好告知服务。",
    ]
    if failing:
        paragraphs.append(f"对考核不合格的部门（{'、'.join(failing)}）进行通报，督促其限期整改。")
    if late:
        paragraphs.append(f"督促未按时报送附件2的部门（{'、'.join(late)}）及时报送。")
    return Section("七、下一步工作建议", paragraphs)
