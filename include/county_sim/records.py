"""Builders of original rows: what a department's system records on a day, kind by kind.

Each builder takes the day's context, a random stream, the subject the record is about and a
sequence number (unique per department, kind and day, for document numbers), and returns a
clean row keyed by the canonical column names of ``record_kinds.yaml``.  Follow-ups of these
rows (corrections, rectification, repair, ...) live in :mod:`county_sim.lifecycle`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from county_sim.population import NATURAL_PERSON, Population
from county_sim.randomness import stream, weighted
from credit.catalogue import RecordKind
from credit.reference import Department
from credit.sources import Source
from credit.workdays import add_months, add_working_days

Row = dict[str, str | None]
LONG_TERM = "2099-12-31"  # 长期有效, as the 双公示 templates spell it
COURT_NAME = "江阴市人民法院"

# A subject reference: ("s", index into subjects) or ("p", index into persons).
SubjectRef = tuple[str, int]

_PENALTY_CATEGORIES = {
    "罚款": 55,
    "警告": 18,
    "没收违法所得": 6,
    "通报批评": 5,
    "责令停产停业": 3,
    "暂扣许可证件": 2,
    "没收非法财物": 2,
    "吊销许可证件": 1.5,
    "限制从业": 1,
    "降低资质等级": 1,
    "责令关闭": 1,
    "限制开展生产经营活动": 0.5,
    "其他": 2,
}
_PERMIT_CATEGORIES = {"普通": 60, "登记": 15, "核准": 10, "认可": 8, "特许": 4, "其他": 3}
_INSPECTION_RESULTS = {
    "未发现问题": 70,
    "发现问题已责令改正": 15,
    "发现问题待后续处理": 5,
    "未发现开展本次抽查涉及的经营活动": 6,
    "通过登记的住所（经营场所）无法联系": 4,
}
_HONOURS = (
    "守合同重信用企业",
    "诚信经营示范单位",
    "江阴市文明单位",
    "质量信得过企业",
    "优秀志愿服务组织",
    "劳动保障守法诚信单位",
    "A级纳税信用示范户",
    "安全生产标准化先进单位",
    "诚信建设先进集体",
)
_COMMITMENT_TEXT = {
    "审批替代型": "本单位承诺所提交的申请材料真实有效，并按承诺事项在规定期限内补齐相关材料。",
    "证明事项告知承诺": "本人已知晓告知的证明义务和内容，承诺符合告知的条件、标准和要求。",
    "主动型": "本单位承诺依法诚信经营，自觉接受政府、行业组织、社会公众和新闻舆论的监督。",
    "行业自律型": "本单位承诺遵守行业自律公约，公平竞争，不以不正当手段损害同行利益。",
}


@dataclass(frozen=True)
class DayContext:
    """Everything a builder may look at for one department on one day."""

    seed: int
    day: dt.date
    population: Population
    config: dict
    source: Source
    department: Department
    start: dt.date  # the county's first day, when the registrars deliver their register

    @property
    def authority(self) -> str:
        name = self.department.name_zh
        return f"江阴{name}" if name.startswith("市") else f"江阴市{name}"

    @property
    def doc_prefix(self) -> str:
        """Short form of the department in document numbers, e.g. 澄市场监."""
        return "澄" + self.department.name_zh.removeprefix("市")[:3]

    def seq_text(self, seq: int) -> str:
        return f"{self.day.timetuple().tm_yday:03d}{seq:04d}"


def subject_columns(population: Population, ref: SubjectRef) -> Row:
    """The 行政相对人 columns for a subject or a key-group person."""
    if ref[0] == "p":
        person = population.persons[ref[1]]
        return {
            "subject_name": person.name,
            "subject_type": NATURAL_PERSON,
            "uscc": None,
            "legal_rep": None,
            "legal_rep_id_number": None,
            "id_number": person.id_number,
        }
    subject = population.subjects[ref[1]]
    return {
        "subject_name": subject.name,
        "subject_type": subject.subject_type,
        "uscc": subject.uscc,
        "legal_rep": subject.legal_rep,
        "legal_rep_id_number": subject.legal_rep_id,
        "id_number": None,
    }


def authority_columns(ctx: DayContext) -> Row:
    return {"authority": ctx.authority, "authority_code": ctx.source.organ_uscc}


def trailer(ctx: DayContext) -> Row:
    return {
        "remarks": None,
        "source_unit": ctx.authority,
        "source_unit_code": ctx.source.organ_uscc,
        "change_type": "新增",
        "record_id": None,
        "updated_at": None,
    }


def _domain(ctx: DayContext, rng: random.Random) -> str:
    return rng.choice(ctx.department.domains_zh)


def _behaviour(ctx: DayContext, rng: random.Random) -> tuple[str, str, str]:
    code, text, severity = rng.choice(ctx.config["dishonesty_lists"][ctx.source.dept_code])
    return str(code), str(text), str(severity)


def _unlisted_behaviour(ctx: DayContext, seq: int) -> tuple[str, str, str] | None:
    """At the configured share (a rule violation), a behaviour of another department's
    dishonesty list for the day's ``seq``-th record, drawn from a stream of its own."""
    rng = stream(ctx.seed, "violation", ctx.day, ctx.source.dept_code, "dishonesty", seq)
    if rng.random() >= float(ctx.config["rule_violations"]["unlisted_behaviour"]):
        return None
    lists = ctx.config["dishonesty_lists"]
    others = [
        item for dept in sorted(lists) if dept != ctx.source.dept_code for item in lists[dept]
    ]
    code, text, severity = rng.choice(others)
    return str(code), str(text), str(severity)


def _recent(ctx: DayContext, rng: random.Random, most: int) -> dt.date:
    """A decision date up to ``most`` days before the day it is entered (录入滞后)."""
    return ctx.day - dt.timedelta(days=rng.randrange(most + 1))


def build_permit(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    domain = _domain(ctx, rng)
    decided = _recent(ctx, rng, 3)
    years = rng.choice((1, 3, 5, 0))
    return {
        **subject_columns(ctx.population, ref),
        "permit_doc_no": f"{ctx.doc_prefix}许〔{ctx.day.year}〕{ctx.seq_text(seq)}号",
        "permit_doc_name": f"{domain}行政许可决定书",
        "permit_category": weighted(rng, _PERMIT_CATEGORIES),
        "license_name": f"{domain}许可证",
        "license_no": f"JY{ctx.day:%Y}{ctx.seq_text(seq)}",
        "permit_content": f"准予从事{domain}相关经营活动",
        "decision_date": decided.isoformat(),
        "valid_from": decided.isoformat(),
        "valid_to": add_months(decided, 12 * years).isoformat() if years else LONG_TERM,
        **authority_columns(ctx),
        "permit_status": "有效",
        **trailer(ctx),
    }


def build_penalty(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    category = weighted(rng, _PENALTY_CATEGORIES)
    _, behaviour, _ = _behaviour(ctx, rng)
    decided = _recent(ctx, rng, 5)
    fine = (
        f"{rng.choice((0.05, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 50)):.2f}"
        if category == "罚款"
        else None
    )
    confiscated = f"{rng.uniform(0.1, 30):.2f}" if category == "没收违法所得" else None
    lifecycle = ctx.config["lifecycle"]
    months = int(lifecycle["publicity_months"][_penalty_tier(lifecycle, category, fine)]["max"])
    return {
        **subject_columns(ctx.population, ref),
        "penalty_doc_no": f"{ctx.doc_prefix}罚〔{ctx.day.year}〕{ctx.seq_text(seq)}号",
        "violation_type": behaviour,
        "violation_facts": f"经查，当事人存在{behaviour}的违法行为，事实清楚，证据确凿。",
        "penalty_basis": f"《{_domain(ctx, rng)}管理条例》第{rng.randrange(10, 80)}条",
        "penalty_category": category,
        "penalty_content": f"{category}{'人民币' + fine + '万元' if fine else ''}",
        "fine_amount": fine,
        "confiscated_amount": confiscated,
        "license_affected": "相关许可证件" if "许可证件" in category else None,
        "decision_date": decided.isoformat(),
        "valid_until": add_months(decided, 12).isoformat(),
        "publicity_until": add_months(decided, months).isoformat(),
        **authority_columns(ctx),
        **trailer(ctx),
    }


def _penalty_tier(lifecycle: dict[str, Any], category: str, fine: str | None) -> str:
    """The Order 36 tier (轻微/一般/严重) a department publishes a penalty under."""
    tiers = lifecycle["penalty_tiers"]
    if category in tiers["minor_categories"]:
        return "轻微"
    if category in tiers["serious_categories"]:
        return "严重"
    if fine is not None and float(fine) >= float(tiers["serious_fine_from_wan"]):
        return "严重"
    return "一般"


def build_dishonesty(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    code, behaviour, severity = _behaviour(ctx, rng)
    code, behaviour, severity = _unlisted_behaviour(ctx, seq) or (code, behaviour, severity)
    lifecycle = ctx.config["lifecycle"]
    deadline = add_working_days(ctx.day, int(lifecycle["rectification_working_days"][severity]))
    months = int(lifecycle["publicity_months"][severity]["max"])
    return {
        **subject_columns(ctx.population, ref),
        "decision_doc_no": f"{ctx.doc_prefix}信认〔{ctx.day.year}〕{ctx.seq_text(seq)}号",
        "behaviour_code": code,
        "behaviour": behaviour,
        "severity": severity,
        "basis": f"《江阴市{_domain(ctx, rng)}领域失信行为认定办法》",
        "decision_date": ctx.day.isoformat(),
        "rectification_deadline": deadline.isoformat(),
        "publicity_until": add_months(ctx.day, months).isoformat(),
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_court_enforcement(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    amount = rng.choice((2, 5, 8, 12, 30, 50, 120, 300)) * 10000
    return {
        **subject_columns(ctx.population, ref),
        "case_no": f"（{ctx.day.year}）苏0281执{ctx.seq_text(seq)}号",
        "executing_court": COURT_NAME,
        "obligation": f"支付款项人民币{amount}元及相应利息",
        "performance": "全部未履行" if rng.random() < 0.8 else "部分履行",
        "dishonest_conduct": "有履行能力而拒不履行生效法律文书确定义务",
        "filing_date": (ctx.day - dt.timedelta(days=rng.randrange(30, 365))).isoformat(),
        "listing_date": ctx.day.isoformat(),
        "removal_date": None,
        **trailer(ctx),
    }


def build_tax_credit(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    subject = ctx.population.subjects[ref[1]]
    level = weighted(rng, {"A": 10, "B": 55, "M": 25, "C": 6, "D": 4})
    return {
        "uscc": subject.uscc,
        "subject_name": subject.name,
        "tax_year": str(ctx.day.year - 1),
        "credit_level": level,
        "evaluation_date": ctx.day.isoformat(),
        "major_violation": "是" if level == "D" and rng.random() < 0.3 else "否",
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_customs_credit(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    subject = ctx.population.subjects[ref[1]]
    return {
        "uscc": subject.uscc,
        "subject_name": subject.name,
        "customs_code": f"3222{subject.uscc[10:16]}",
        "credit_grade": weighted(rng, {"高级认证企业": 5, "一般信用企业": 90, "失信企业": 5}),
        "decision_date": ctx.day.isoformat(),
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_inspection(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    result = weighted(rng, _INSPECTION_RESULTS)
    domain = _domain(ctx, rng)
    found = result.startswith("发现问题")
    return {
        **subject_columns(ctx.population, ref),
        "plan_id": f"{ctx.doc_prefix}双随机{ctx.day:%Y%m}",
        "inspection_no": f"JC{ctx.day:%Y}{ctx.seq_text(seq)}",
        "task_name": f"{ctx.day.year}年度{domain}领域双随机抽查",
        "inspection_method": weighted(
            rng, {"双随机抽查": 70, "重点检查": 12, "专项检查": 12, "投诉举报核查": 6}
        ),
        "inspection_date": _recent(ctx, rng, 2).isoformat(),
        "result": result,
        "problems_found": f"{_behaviour(ctx, rng)[1]}隐患" if found else None,
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_commendation(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    return {
        **subject_columns(ctx.population, ref),
        "doc_no": f"{ctx.doc_prefix}表〔{ctx.day.year}〕{ctx.day.timetuple().tm_yday:03d}号",
        "honour_no": f"RY{ctx.day:%Y}{ctx.seq_text(seq)}",
        "honour_name": rng.choice(_HONOURS),
        "honour_level": weighted(rng, {"国家级": 1, "省级": 6, "市级": 30, "县级": 63}),
        "award_date": ctx.day.isoformat(),
        "valid_to": add_months(ctx.day, 12 * rng.choice((1, 2, 3))).isoformat(),
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_industry_evaluation(
    ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int
) -> Row:
    score = min(100.0, max(40.0, rng.gauss(84, 8)))
    level = "A" if score >= 90 else "B" if score >= 80 else "C" if score >= 70 else "D"
    return {
        **subject_columns(ctx.population, ref),
        "evaluation_no": f"PJ{ctx.day:%Y}{ctx.seq_text(seq)}",
        "domain": _domain(ctx, rng),
        "eval_year": str(ctx.day.year - 1 if ctx.day.month < 6 else ctx.day.year),
        "score": f"{score:.1f}",
        "level": level,
        "eval_date": ctx.day.isoformat(),
        **authority_columns(ctx),
        **trailer(ctx),
    }


def build_commitment(ctx: DayContext, rng: random.Random, ref: SubjectRef, seq: int) -> Row:
    kind = rng.choice(tuple(_COMMITMENT_TEXT))
    return {
        **subject_columns(ctx.population, ref),
        "commitment_no": f"CN{ctx.source.organ_uscc[8:12]}{ctx.day:%Y%m%d}{seq:04d}",
        "commitment_type": kind,
        "commitment_date": ctx.day.isoformat(),
        "content": _COMMITMENT_TEXT[kind],
        "fulfilment": "履约中",
        **authority_columns(ctx),
        **trailer(ctx),
    }


def registration_row(
    ctx: DayContext, index: int, event: str, event_date: dt.date | None = None
) -> Row:
    """A registration (登记) row: establishment, change, deregistration or revocation, approved
    on ``event_date`` (by default the day)."""
    subject = ctx.population.subjects[index]
    category_label = ctx.config["population"]["categories"][subject.category]["label"]
    status = {"注销": "注销", "吊销": "吊销"}.get(event, "存续")
    return {
        "uscc": subject.uscc,
        "subject_name": subject.name,
        "registration_number": subject.registration_number or None,
        "subject_category": category_label,
        "legal_rep": subject.legal_rep,
        "legal_rep_id_number": subject.legal_rep_id,
        "registered_capital": subject.registered_capital or None,
        "industry_code": subject.industry_code,
        "division_code": subject.division_code,
        "address": subject.address,
        "established_date": dt.date.fromordinal(subject.established).isoformat(),
        "registration_event": event,
        "event_date": (event_date or ctx.day).isoformat(),
        "status": status,
        **authority_columns(ctx),
        **trailer(ctx),
    }


def legacy_names(ctx: DayContext, kind: RecordKind, rows: list[Row]) -> dict[int, str]:
    """Which of the day's rows name their subject by a legacy identifier instead of its USCC:
    row index → the identifier. Only kinds whose USCC column accepts one (catalogue
    ``legacy: true``), only subjects founded before the reform, at the configured share."""
    if not any(column.legacy for column in kind.columns):
        return {}
    config = ctx.config["legacy_identifiers"]
    rng = stream(ctx.seed, "legacy", ctx.day, ctx.source.dept_code, kind.name)
    names = {}
    for index, row in enumerate(rows):
        found = ctx.population.by_uscc.get(str(row.get("uscc")))
        if found is None or rng.random() >= float(config["share"]):
            continue
        subject = ctx.population.subjects[found]
        by_code = rng.random() < float(config["organisation_code_share"])
        choices = [subject.organisation_code, subject.registration_number]
        if not by_code:
            choices.reverse()
        identifier = next((choice for choice in choices if choice), None)
        if identifier:
            names[index] = identifier
    return names


Builder = Callable[[DayContext, random.Random, SubjectRef, int], Row]

# Kinds drawn at a daily rate from the population; registration and the follow-up kinds are
# produced by the population's own calendar and by the lifecycle.
BUILDERS: dict[str, Builder] = {
    "permit": build_permit,
    "penalty": build_penalty,
    "dishonesty": build_dishonesty,
    "court_enforcement": build_court_enforcement,
    "tax_credit": build_tax_credit,
    "customs_credit": build_customs_credit,
    "inspection": build_inspection,
    "commendation": build_commendation,
    "industry_evaluation": build_industry_evaluation,
    "commitment": build_commitment,
}
# Kinds only about organisations (a USCC is their key).
ORGANISATION_ONLY = {"tax_credit", "customs_credit"}
# Kinds where natural persons appear even outside key groups (失信被执行人 are often people).
PERSON_SHARE_OVERRIDE = {"court_enforcement": 0.4}


def pick_subjects(ctx: DayContext, rng: random.Random, kind: str, count: int) -> list[SubjectRef]:
    """``count`` distinct subjects active on the day, from the department's field of work."""
    population, dept = ctx.population, ctx.config["departments"][ctx.source.dept_code]
    ordinal = ctx.day.toordinal()
    persons = population.persons_by_dept.get(ctx.source.dept_code, [])
    if kind in PERSON_SHARE_OVERRIDE:
        persons = persons or list(range(len(population.persons)))
    person_share = 0.0 if kind in ORGANISATION_ONLY else ctx.config["person_share"]
    person_share = PERSON_SHARE_OVERRIDE.get(kind, person_share if persons else 0.0)
    key = (ctx.source.dept_code, kind in ORGANISATION_ONLY)
    if key not in population.pools:
        population.pools[key] = _subject_pools(population, dept, kind)
    pools = population.pools[key]
    chosen: list[SubjectRef] = []
    seen: set[SubjectRef] = set()
    attempts = 0
    while len(chosen) < count and attempts < count * 30:
        attempts += 1
        if persons and rng.random() < person_share:
            ref: SubjectRef = ("p", rng.choice(persons))
        else:
            pool = pools[0] if rng.random() < 0.85 or len(pools) == 1 else pools[1]
            index = rng.choice(pool)
            if not population.subjects[index].active_on(ordinal):
                continue
            ref = ("s", index)
        if ref not in seen:
            seen.add(ref)
            chosen.append(ref)
    return chosen


def _subject_pools(population: Population, dept: dict, kind: str) -> list[Sequence[int]]:
    """The department's preferred subjects first, then everyone as a fallback."""
    everyone = range(len(population.subjects))
    if kind in ORGANISATION_ONLY:
        return [population.by_category.get("91", everyone)]
    if dept.get("categories"):
        return [[i for c in dept["categories"] for i in population.by_category.get(c, [])]]
    if dept.get("sections"):
        preferred = [i for s in dept["sections"] for i in population.by_section.get(s, [])]
        return [preferred or everyone, everyone]
    return [everyone]
