"""Follow-ups of records (后续事件), decided when the original record is made.

A dishonesty record (失信行为认定) gets its whole life at once: rectification (限期整改) in time
or late, a reminder or warning interview (提示性/警示性约谈) when the deadline passes, repair
(信用修复) after the minimum publicity period of Order 36, and objections (异议) that uphold,
correct or revoke it.  Ordinary records may be corrected (更正) or revoked (撤销) days later, and
court enforcement listings are removed.  Every follow-up is a complete row with its due date,
drawn from a random stream of the original record alone, so the pending queue is a pure
function of what was generated before and can be persisted between runs.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from county_sim.randomness import stream, weighted
from county_sim.records import DayContext, Row, authority_columns, trailer
from credit.workdays import add_months, add_working_days, next_working_day

SUBJECT_COLUMNS = (
    "subject_name",
    "subject_type",
    "uscc",
    "legal_rep",
    "legal_rep_id_number",
    "id_number",
)
SEVERITY_CODE = {"轻微": "minor", "一般": "general", "严重": "serious"}
_VERSIONED_KINDS = {
    "permit",
    "inspection",
    "commendation",
    "registration",
    "industry_evaluation",
    "tax_credit",
    "customs_credit",
    "commitment",
}


@dataclass(frozen=True)
class FollowUp:
    """A row due on a later day, with the truth event it stands for (dishonesty only)."""

    due: int  # date ordinal
    dept_code: str
    kind: str
    order_key: str
    row: Row
    truth: dict[str, Any] | None = None

    def to_json(self) -> list[Any]:
        return [self.due, self.dept_code, self.kind, self.order_key, self.row, self.truth]

    @classmethod
    def from_json(cls, item: list[Any]) -> FollowUp:
        return cls(int(item[0]), item[1], item[2], item[3], item[4], item[5])


def schedule(ctx: DayContext, kind: str, row: Row) -> list[FollowUp]:
    """Every later event of a freshly made clean row."""
    key = "|".join(str(row.get(column)) for column in _key_columns(kind))
    rng = stream(ctx.seed, "lifecycle", ctx.source.dept_code, kind, key)
    if kind == "dishonesty":
        return _dishonesty_life(ctx, rng, row)
    if kind == "court_enforcement":
        return _court_removal(ctx, rng, row)
    if kind == "penalty":
        share = float(ctx.config["lifecycle"]["objection_share"]["penalty"])
        if rng.random() < share:
            return _objection(ctx, rng, row, "penalty", str(row["penalty_doc_no"]), "行政处罚")
        return _versions(ctx, rng, kind, row)
    if kind == "commitment":
        return _commitment_life(ctx, rng, row)
    if kind in _VERSIONED_KINDS:
        return _versions(ctx, rng, kind, row)
    return []


def _key_columns(kind: str) -> tuple[str, ...]:
    from credit.catalogue import record_kind

    return record_kind(kind).business_key


def _uniform(rng: random.Random, bounds: list[int]) -> int:
    return rng.randint(int(bounds[0]), int(bounds[1]))


def _base(ctx: DayContext, row: Row) -> Row:
    """Subject, authority and trailer columns shared by every follow-up of ``row``."""
    return {
        **{column: row.get(column) for column in SUBJECT_COLUMNS},
        **authority_columns(ctx),
        **trailer(ctx),
    }


def _follow(
    ctx: DayContext,
    due: dt.date,
    kind: str,
    key: str,
    step: int,
    row: Row,
    truth: dict[str, Any] | None = None,
) -> FollowUp:
    return FollowUp(due.toordinal(), ctx.source.dept_code, kind, f"{key}|{step:02d}", row, truth)


def _version(row: Row, change_type: str, changes: Row) -> Row:
    return {**row, **changes, "change_type": change_type, "record_id": None, "updated_at": None}


def _versions(ctx: DayContext, rng: random.Random, kind: str, row: Row) -> list[FollowUp]:
    """At most one later version of an ordinary record: a correction or a revocation."""
    life = ctx.config["lifecycle"]
    key = "|".join(str(row.get(c)) for c in _key_columns(kind))
    draw = rng.random()
    if draw < life["correction_share"]:
        due = add_working_days(ctx.day, _uniform(rng, life["correction_delay_working_days"]))
        return [_follow(ctx, due, kind, key, 1, _version(row, "更正", _correction(kind, row)))]
    if draw < life["correction_share"] + life["revocation_share"]:
        due = add_working_days(ctx.day, _uniform(rng, life["revocation_delay_working_days"]))
        changes: Row = {"remarks": "原决定已依法撤销"}
        if kind == "permit":
            changes["permit_status"] = "无效"
        return [_follow(ctx, due, kind, key, 1, _version(row, "撤销", changes))]
    return []


def _commitment_life(ctx: DayContext, rng: random.Random, row: Row) -> list[FollowUp]:
    """A commitment's later versions: a correction or revocation as any record's, then, unless
    revoked, the department's judgement that it was kept (履约) or breached (未履约)."""
    events = _versions(ctx, rng, "commitment", row)
    if events and events[0].row["change_type"] == "撤销":
        return events
    life = ctx.config["lifecycle"]
    settled = ctx.day + dt.timedelta(days=_uniform(rng, life["commitment_settled_days"]))
    settled = max([next_working_day(settled), *(dt.date.fromordinal(e.due) for e in events)])
    breached = rng.random() < life["commitment_breach_share"]
    fulfilment = "未履约" if breached else "履约"
    changes: Row = {
        "fulfilment": fulfilment,
        "remarks": "未按承诺履行，依约实施失信约束" if breached else "已按承诺履行",
    }
    latest = events[0].row if events else row
    truth = {
        "commitment_no": row["commitment_no"],
        "uscc": row.get("uscc"),
        "subject_type": row.get("subject_type"),
        "fulfilment": fulfilment,
    }
    version = _version(latest, "更正", changes)
    settle = _follow(ctx, settled, "commitment", str(row["commitment_no"]), 2, version, truth)
    return [*events, settle]


def _correction(kind: str, row: Row) -> Row:
    """What a correction changes: an amount or a date typed wrongly the first time."""
    if kind == "penalty" and row.get("fine_amount"):
        fine = float(str(row["fine_amount"])) * 0.8
        return {"fine_amount": f"{fine:.2f}", "remarks": "更正罚款金额"}
    if kind == "permit":
        return {"license_no": f"{row['license_no']}-1", "remarks": "更正许可编号"}
    return {"remarks": "更正原记录录入错误"}


def _court_removal(ctx: DayContext, rng: random.Random, row: Row) -> list[FollowUp]:
    life = ctx.config["lifecycle"]
    if rng.random() >= life["court_removal_share"]:
        return []
    due = next_working_day(ctx.day + dt.timedelta(days=_uniform(rng, life["court_removal_days"])))
    changes: Row = {"removal_date": due.isoformat(), "remarks": "已履行，移除失信被执行人名单"}
    version = _version(row, "更正", changes)
    return [_follow(ctx, due, "court_enforcement", str(row["case_no"]), 1, version)]


def _objection(
    ctx: DayContext, rng: random.Random, row: Row, kind: str, doc_no: str, target_kind: str
) -> list[FollowUp]:
    """An objection (异议): accepted, then closed with an outcome that may revoke the record."""
    life = ctx.config["lifecycle"]
    filed = add_working_days(ctx.day, _uniform(rng, life["objection_filed_working_days"]))
    closed = add_working_days(filed, _uniform(rng, life["objection_decision_working_days"]))
    outcome = weighted(rng, life["objection_outcomes"])
    marker = "S" if kind == "dishonesty" else "C"
    number = f"YY{marker}{ctx.day:%Y}{_doc_seq(doc_no)}{filed:%m%d}"
    base = {
        **_base(ctx, row),
        "objection_no": number,
        "target_doc_no": doc_no,
        "target_kind": target_kind,
        "filed_date": filed.isoformat(),
        "reason": "对认定事实有异议，申请核查",
        "outcome": None,
        "outcome_date": None,
    }
    truthful = kind == "dishonesty"
    events = [
        _follow(
            ctx,
            filed,
            "objection",
            doc_no,
            10,
            {**base, "stage": "受理"},
            _event(doc_no, "objection_filed") if truthful else None,
        ),
        _follow(
            ctx,
            closed,
            "objection",
            doc_no,
            11,
            {**base, "stage": "办结", "outcome": outcome, "outcome_date": closed.isoformat()},
            _event(doc_no, f"objection_{_OUTCOME[outcome]}") if truthful else None,
        ),
    ]
    if outcome in ("撤销", "更正"):
        # The objection's outcome reaches the record itself as a new version (可查可核可溯).
        changes: Row
        if outcome == "撤销":
            changes, event = {"remarks": "经异议核查，撤销原认定"}, "revoked"
        else:
            changes, event = _correction(kind, row) | {"remarks": "经异议核查更正"}, "corrected"
        events.append(
            _follow(
                ctx,
                closed,
                kind,
                doc_no,
                12,
                _version(row, outcome, changes),
                _event(doc_no, event) if truthful else None,
            )
        )
    return events


def _doc_seq(doc_no: str) -> str:
    """The sequence part of a document number such as 澄市场监罚〔2026〕0640012号."""
    return doc_no[-8:-1]


_OUTCOME = {"维持": "upheld", "更正": "corrected", "撤销": "revoked"}


def _event(doc_no: str, event: str) -> dict[str, Any]:
    return {"decision_doc_no": doc_no, "event": event}


def publicity_window(decided: dt.date, severity: str, config: dict) -> tuple[dt.date, dt.date]:
    """Earliest repair date and latest exit date of a dishonesty record (Order 36)."""
    months = config["lifecycle"]["publicity_months"][severity]
    return add_months(decided, int(months["min"])), add_months(decided, int(months["max"]))


def _dishonesty_life(ctx: DayContext, rng: random.Random, row: Row) -> list[FollowUp]:
    life = ctx.config["lifecycle"]
    severity, doc_no = str(row["severity"]), str(row["decision_doc_no"])
    deadline = dt.date.fromisoformat(str(row["rectification_deadline"]))
    base = {**_base(ctx, row), "dishonesty_doc_no": doc_no}
    events: list[FollowUp] = []
    rectified: dt.date | None = None
    draw = rng.random()
    in_time, late = life["rectified_in_time"][severity], life["rectified_late"][severity]
    if draw < in_time:
        span = max(1, _working_days_between(ctx.day, deadline))
        rectified = add_working_days(ctx.day, rng.randint(1, span))
        events.append(_rectification(ctx, base, deadline, rectified, "按期整改", doc_no))
    else:
        interviewed = add_working_days(
            deadline, _uniform(rng, life["interview_delay_working_days"])
        )
        interview_type = "警示性约谈" if severity == "严重" else "提示性约谈"
        interview = {
            **base,
            "interview_type": interview_type,
            "interview_date": interviewed.isoformat(),
            "interviewee": row.get("legal_rep") or row.get("subject_name"),
            "content": "逾期未完成整改，约谈主要负责人，督促限期整改到位",
        }
        event = "warning_interview" if severity == "严重" else "reminder_interview"
        events.append(
            _follow(ctx, interviewed, "interview", doc_no, 2, interview, _event(doc_no, event))
        )
        if draw < in_time + late:
            delay = _uniform(rng, life["late_rectification_delay_working_days"])
            rectified = add_working_days(interviewed, delay)
            events.append(_rectification(ctx, base, deadline, rectified, "逾期整改", doc_no))
    if rectified is not None and rng.random() < life["repair_share"][severity]:
        events.extend(_repair(ctx, rng, row, base, rectified))
    if rng.random() < life["objection_share"]["dishonesty"]:
        objection = _objection(ctx, rng, row, "dishonesty", doc_no, "失信行为认定")
        revoked = [
            f.due for f in objection if f.kind == "dishonesty" and f.row["change_type"] == "撤销"
        ]
        if revoked:
            # A revoked record has no later life: nothing after the revocation happens.
            events = [f for f in events if f.due < revoked[0]]
        events.extend(objection)
    return events


def _working_days_between(start: dt.date, end: dt.date) -> int:
    count, day = 0, start
    while day < end:
        day = add_working_days(day, 1)
        count += 1
    return count


def _rectification(
    ctx: DayContext, base: Row, deadline: dt.date, done: dt.date, outcome: str, doc_no: str
) -> FollowUp:
    row = {
        **base,
        "rectification_deadline": deadline.isoformat(),
        "outcome": outcome,
        "completion_date": done.isoformat(),
        "measures": "已完成整改并提交整改报告",
    }
    event = "rectified_in_time" if outcome == "按期整改" else "rectified_late"
    return _follow(ctx, done, "rectification", doc_no, 1, row, _event(doc_no, event))


def _repair(
    ctx: DayContext, rng: random.Random, row: Row, base: Row, rectified: dt.date
) -> list[FollowUp]:
    """Repair application (with its credit commitment) and decision, inside the window; at
    the configured share (a rule violation, from a stream of its own), applied for right after
    the rectification, so that it may be decided before the minimum publicity period ends."""
    life = ctx.config["lifecycle"]
    doc_no, severity = str(row["decision_doc_no"]), str(row["severity"])
    earliest, latest = publicity_window(ctx.day, severity, ctx.config)
    wait = dt.timedelta(days=_uniform(rng, life["repair_wait_days"]))
    applied = next_working_day(max(earliest, rectified + dt.timedelta(days=1)) + wait)
    violation = stream(ctx.seed, "violation", "repair", doc_no)
    if violation.random() < float(ctx.config["rule_violations"]["early_repair"]):
        applied = next_working_day(rectified + dt.timedelta(days=1))
    decided = add_working_days(applied, _uniform(rng, life["repair_decision_working_days"]))
    if decided >= latest:
        return []  # the record would expire first: nobody repairs what is about to drop out
    approved = rng.random() < life["repair_approved"]
    repair = {
        **base,
        "repair_no": f"XF{ctx.day:%Y}{_doc_seq(doc_no)}{applied:%Y%m%d}",
        "application_date": applied.isoformat(),
        "repair_method": rng.choice(("信用承诺", "信用培训", "信用报告", "公益慈善")),
        "decision": None,
        "decision_date": None,
    }
    commitment = {
        **{k: v for k, v in base.items() if k != "dishonesty_doc_no"},
        "commitment_no": f"CN{ctx.day:%Y}{_doc_seq(doc_no)}{applied:%m%d}",
        "commitment_type": "信用修复型",
        "commitment_date": applied.isoformat(),
        "content": "本单位承诺已纠正失信行为，今后依法诚信经营，如违反承诺自愿接受惩戒。",
        "fulfilment": "履约中",
    }
    decision = {
        **repair,
        "stage": "决定",
        "decision": "同意修复" if approved else "不予修复",
        "decision_date": decided.isoformat(),
    }
    outcome = "repair_approved" if approved else "repair_refused"
    decided_truth = {**_event(doc_no, outcome), "before_min_period": decided < earliest}
    return [
        _follow(
            ctx,
            applied,
            "credit_repair",
            doc_no,
            3,
            {**repair, "stage": "申请"},
            _event(doc_no, "repair_applied"),
        ),
        _follow(ctx, applied, "commitment", doc_no, 4, commitment),
        _follow(ctx, decided, "credit_repair", doc_no, 5, decision, decided_truth),
    ]
