"""Quarterly progress submissions (工作进展情况, the scheme's Attachment 2).

After each quarter every department sends a short table: 序号, 已出台相关文件、政策,
政策来源或原创研发, 举措要点, 落实进展情况, 成效和特色亮点, 问题困难及工作建议.
"""

from __future__ import annotations

import datetime as dt
import random

from county_sim.records import DayContext, Row, trailer
from credit.workdays import add_working_days, is_working_day

_SOURCES = (
    "国家发展改革委文件",
    "省信用办部署",
    "无锡市信用办部署",
    "原创研发",
    "行业主管部门文件",
)
_MEASURES = (
    "建立{domain}领域信用承诺制度，事前环节全面推行告知承诺",
    "开展{domain}行业信用评价，评价结果与双随机抽查比例挂钩",
    "编制{domain}领域失信行为清单和信用监管措施清单",
    "推动{domain}领域信用修复\u201c一网通办\u201d",
    "对{domain}领域失信主体开展提示性约谈和限期整改",
)
_PROGRESS = ("已印发实施", "已完成征求意见，待印发", "正在起草", "已在全市推开", "试点运行中")
_EFFECTS = (
    "归集信用信息{n}条，双公示上报及时率100%",
    "约谈失信主体{n}家，整改完成率明显提升",
    "完成信用评价{n}家，A级主体享受绿色通道",
    "信用修复办理时限压缩至{n}个工作日",
)
_PROBLEMS = (
    "基层信用监管力量不足，建议加强培训",
    "行业系统与公共信用平台对接不畅，建议统一接口标准",
    "信用评价指标有待细化，建议出台行业评价指引",
    None,
)


def report_day(year: int, quarter_month: int, nth_working_day: int) -> dt.date:
    """The ``nth`` working day of the month after a quarter (Jan, Apr, Jul, Oct)."""
    return add_working_days(dt.date(year, quarter_month, 1) - dt.timedelta(days=1), nth_working_day)


def quarter_reported_on(day: dt.date, nth_working_day: int) -> str | None:
    """The quarter (e.g. ``2026Q1``) whose report is due on ``day``, if any."""
    if day.month not in (1, 4, 7, 10) or not is_working_day(day):
        return None
    if report_day(day.year, day.month, nth_working_day) != day:
        return None
    previous = day.replace(day=1) - dt.timedelta(days=1)
    return f"{previous.year}Q{(previous.month - 1) // 3 + 1}"


def progress_rows(ctx: DayContext, rng: random.Random, quarter: str) -> list[Row]:
    low, high = ctx.config["lifecycle"]["quarterly_report_rows"]
    rows = []
    for seq_no in range(1, rng.randint(int(low), int(high)) + 1):
        domain = rng.choice(ctx.department.domains_zh)
        problem = rng.choice(_PROBLEMS)
        rows.append(
            {
                "quarter": quarter,
                "seq_no": str(seq_no),
                "policy_documents": f"《江阴市{domain}领域信用监管实施方案（{quarter[:4]}）》",
                "policy_source": rng.choice(_SOURCES),
                "key_measures": rng.choice(_MEASURES).format(domain=domain),
                "implementation_progress": rng.choice(_PROGRESS),
                "achievements": rng.choice(_EFFECTS).format(n=rng.randint(3, 500)),
                "problems_and_suggestions": problem,
                "submitted_date": ctx.day.isoformat(),
                **trailer(ctx),
            }
        )
    return rows
