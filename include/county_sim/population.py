"""The population of a simulated Jiangyin: market subjects (市场主体) and key-group persons.

Subjects carry valid Unified Social Credit Codes (统一社会信用代码) of division 320281, a
legal representative (法定代表人, shared between subjects for related parties 关联方), an
industry (GB/T 4754 section and division), a town-level division and a registration history
(established, and for some a deregistration 注销 or revocation 吊销 date).  Key-group persons
(重点人群) carry valid resident IDs (居民身份证号码).  The population is a pure function of
(seed, scale, start date): it is rebuilt, not stored, and written to the truth folder once.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field, fields, replace
from functools import cache
from pathlib import Path

from stdnum.cn import ric

from county_sim.randomness import stream, weighted
from county_sim.settings import Scale, simulator_config
from credit.identifiers import make_registration_number, make_uscc, organisation_code_of
from credit.reference import JIANGYIN_DIVISION, divisions
from credit.workdays import next_working_day

SUBJECT_TYPE = {"92": "个体工商户"}  # everything else is 法人及非法人组织
ORGANISATION = "法人及非法人组织"
NATURAL_PERSON = "自然人"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红春晓燕飞鹏辉俊峰亮文斌宇浩凯佳琳雪梅"
)
_TRADE = "澄锦华泰恒通顺达兴隆鑫瑞丰祥利源盛宏远新昌裕德茂康宁安润嘉诚信和金鼎海晨阳江申璜霞云"
_SECTION_WORDS = {
    "A": ("农业", "养殖", "种植", "生态农业"),
    "B": ("矿业", "石材"),
    "C": ("机械制造", "金属制品", "纺织", "化工", "新材料", "电子科技", "精密铸造", "特钢"),
    "D": ("能源", "热电", "燃气"),
    "E": ("建设工程", "建筑安装", "市政工程", "装饰工程"),
    "F": ("商贸", "贸易", "五金", "百货", "超市", "副食品"),
    "G": ("物流", "运输", "货运", "快递"),
    "H": ("餐饮", "饭店", "酒店", "小吃"),
    "I": ("信息技术", "软件", "网络科技"),
    "J": ("投资", "融资担保"),
    "K": ("房地产开发", "置业"),
    "L": ("企业管理咨询", "人力资源", "租赁"),
    "M": ("检测", "设计", "技术服务"),
    "N": ("环保", "水务", "园林"),
    "O": ("家政服务", "美容美发", "维修"),
    "P": ("教育培训", "学校"),
    "Q": ("诊所", "医疗", "康复"),
    "R": ("文化传媒", "体育", "旅游"),
    "S": ("协会", "商会", "服务中心"),
}
_ROADS = (
    "人民路",
    "澄江路",
    "长江路",
    "虹桥路",
    "滨江路",
    "芙蓉大道",
    "澄山路",
    "青果路",
    "黄山路",
    "朝阳路",
)
# Birth-place codes that python-stdnum accepts for every birth year (its table dates codes:
# 320281 Jiangyin only from 1989, so older locals carry 320200 Wuxi, the prefecture).
_MIGRANT_REGIONS = ("340121", "340421", "340621", "510121", "510321", "510421")
_OLD_LOCAL_REGION, _LOCAL_SINCE = "320200", 1989


@dataclass(frozen=True, slots=True)
class Subject:
    """A market subject (市场主体) keyed by its USCC."""

    uscc: str
    name: str
    category: str
    section: str
    industry_code: str
    division_code: str
    address: str
    legal_rep: str
    legal_rep_id: str
    registered_capital: str
    established: int  # date ordinal
    exit_date: int  # date ordinal, 0 while still registered
    exit_kind: str  # 注销 | 吊销 | ""
    # Legacy identifiers of subjects founded before the 2015 reform, "" for later ones.
    registration_number: str = ""  # 工商注册号, market regulation's categories
    organisation_code: str = ""  # 组织机构代码, organisations (USCC positions 9-17)

    @property
    def subject_type(self) -> str:
        return SUBJECT_TYPE.get(self.category, ORGANISATION)

    def active_on(self, ordinal: int) -> bool:
        return self.established <= ordinal and (self.exit_date == 0 or ordinal < self.exit_date)


@dataclass(frozen=True, slots=True)
class Person:
    """A natural person of a key group (重点人群), keyed by the resident ID."""

    id_number: str
    name: str
    key_group: str
    dept_code: str


@dataclass
class Population:
    """Subjects and persons, with the indexes the day generator samples from."""

    subjects: list[Subject]
    persons: list[Person]
    by_section: dict[str, list[int]]
    by_category: dict[str, list[int]]
    persons_by_dept: dict[str, list[int]]
    established_on: dict[int, list[int]]
    exits_on: dict[int, list[int]]
    by_uscc: dict[str, int] = field(default_factory=dict)
    # Sampling pools per (dept_code, organisations only), filled on first use.
    pools: dict[tuple[str, bool], list[Sequence[int]]] = field(default_factory=dict)


def resident_id(rng: random.Random, region: str, born: dt.date) -> str:
    """A valid 18-digit resident ID: region, birth date, sequence, GB 11643 check digit."""
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    # stdnum drops the last character before computing, so it wants a placeholder check digit.
    return body + ric.calc_check_digit(body + "0")


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def subject_name(rng: random.Random, category: str, section: str, town: str) -> str:
    trade = "".join(rng.choice(_TRADE) for _ in range(2))
    word = rng.choice(_SECTION_WORDS[section])
    if category == "91":
        return f"江阴市{trade}{word}{rng.choice(('有限公司', '有限公司', '股份有限公司'))}"
    if category == "92":
        return f"江阴市{town}{trade}{word}{rng.choice(('店', '经营部', '商行', '工作室'))}"
    if category == "93":
        return f"江阴市{town}{trade}{word}专业合作社"
    if category == "12":
        return f"江阴市{town}{word}中心"
    if category == "53":
        return f"江阴市{trade}慈善基金会"
    suffix = "协会" if category == "51" else "服务中心"
    return f"江阴市{trade}{word}{suffix}"


def registered_capital(rng: random.Random, category: str) -> str:
    if category == "91":
        return f"{rng.choice((10, 50, 100, 200, 500, 1000, 3000, 5000, 10000)):.2f}"
    if category in ("92", "93"):
        return f"{rng.choice((0.5, 1, 3, 5, 10, 20, 50)):.2f}"
    return ""


class _Identities:
    """Hands out unique organisation-code bodies and resident IDs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # An affine walk over 10^8 visits every eight-digit body once, so codes never collide.
        self.step = rng.randrange(1, 10**8 // 2) * 2 + 1
        while self.step % 5 == 0:
            self.step += 2
        self.position = rng.randrange(10**8)
        self.ids: set[str] = set()

    def org_body(self) -> str:
        self.position = (self.position + self.step) % 10**8
        return f"{self.position:08d}"

    def person_id(self, start: dt.date) -> str:
        while True:
            born = start - dt.timedelta(days=self.rng.randrange(22 * 365, 65 * 365))
            if self.rng.random() < 0.8:
                region = JIANGYIN_DIVISION if born.year >= _LOCAL_SINCE else _OLD_LOCAL_REGION
            else:
                region = self.rng.choice(_MIGRANT_REGIONS)
            value = resident_id(self.rng, region, born)
            if value not in self.ids and ric.is_valid(value):
                self.ids.add(value)
                return value


@cache
def build_population(seed: int, scale: Scale, start: dt.date) -> Population:
    """The whole population for (seed, scale, start), future registrations included."""
    config = simulator_config()
    pop_cfg = config["population"]
    rng = stream(seed, "population", scale.name)
    ids = _Identities(rng)
    towns = divisions()
    categories = {code: entry["share"] for code, entry in pop_cfg["categories"].items()}
    start_ordinal = start.toordinal()
    horizon_days = int(config["horizon_years"] * 365.25)
    initial = scale.subjects
    future = round(initial * pop_cfg["yearly_growth"] * config["horizon_years"])
    reps: list[tuple[str, str]] = []
    subjects: list[Subject] = []
    for index in range(initial + future):
        if index < initial:
            founded = start_ordinal - 1 - rng.randrange(int(pop_cfg["history_years"] * 365))
        else:
            founded = start_ordinal + rng.randrange(horizon_days)
        founded = next_working_day(dt.date.fromordinal(founded)).toordinal()
        category = weighted(rng, categories)
        section = weighted(rng, pop_cfg["categories"][category]["sections"])
        town = rng.choice(towns)
        if reps and rng.random() < pop_cfg["legal_rep_reuse"]:
            rep_name, rep_id = rng.choice(reps)
        else:
            rep_name, rep_id = person_name(rng), ids.person_id(start)
            reps.append((rep_name, rep_id))
        subjects.append(
            Subject(
                uscc=make_uscc(f"{_authority(category)}{category[1]}", "320281", ids.org_body()),
                name=subject_name(rng, category, section, town.name_zh[:2]),
                category=category,
                section=section,
                industry_code=f"{section}{rng.choice(pop_cfg['sections'][section]):02d}",
                division_code=town.division_code,
                address=f"江阴市{town.name_zh}{rng.choice(_ROADS)}{rng.randrange(1, 999)}号",
                legal_rep=rep_name,
                legal_rep_id=rep_id,
                registered_capital=registered_capital(rng, category),
                established=founded,
                exit_date=0,
                exit_kind="",
            )
        )
    subjects = _with_legacy_identifiers(subjects, pop_cfg, config["legacy_identifiers"])
    subjects = _with_exits(subjects, rng, start_ordinal, horizon_days, pop_cfg, config)
    persons = _key_group_persons(rng, ids, scale.persons, start, config["departments"])
    return _indexed(subjects, persons)


def _authority(category: str) -> str:
    """Registration authority (pos 1): 9 market regulation, 5 civil affairs, 1 staffing office."""
    return {"5": "5", "1": "1"}.get(category[0], "9")


def _with_legacy_identifiers(subjects: list[Subject], pop_cfg: dict, legacy: dict) -> list[Subject]:
    """Old identifiers for the subjects founded before the reform, drawing no random numbers
    (the rest of the population stays as it was): a registration number for market
    regulation's categories, numbered in founding order, and the organisation code inside the
    USCC for every organisation."""
    reform = dt.date.fromisoformat(str(legacy["reform_date"])).toordinal()
    registered_by_market = set(pop_cfg["registrars"]["market_regulation"])
    authority = str(legacy["registration_authority"])
    numbered = sorted(
        (subject.established, index)
        for index, subject in enumerate(subjects)
        if subject.established < reform and subject.category in registered_by_market
    )
    numbers = {
        index: make_registration_number(authority, f"{sequence:08d}")
        for sequence, (_, index) in enumerate(numbered, start=1)
    }
    result = []
    for index, subject in enumerate(subjects):
        if subject.established >= reform:
            result.append(subject)
            continue
        organisation = subject.subject_type == ORGANISATION
        result.append(
            replace(
                subject,
                registration_number=numbers.get(index, ""),
                organisation_code=organisation_code_of(subject.uscc) if organisation else "",
            )
        )
    return result


def _with_exits(
    subjects: list[Subject],
    rng: random.Random,
    start_ordinal: int,
    horizon_days: int,
    pop_cfg: dict,
    config: dict,
) -> list[Subject]:
    exits = round(len(subjects) * pop_cfg["yearly_exit"] * config["horizon_years"])
    chosen = rng.sample(range(len(subjects)), min(exits, len(subjects)))
    result = list(subjects)
    for index in sorted(chosen):
        subject = subjects[index]
        earliest = max(start_ordinal, subject.established + 30)
        exit_day = earliest + rng.randrange(max(1, start_ordinal + horizon_days - earliest))
        kind = "吊销" if rng.random() < pop_cfg["revoked_share_of_exits"] else "注销"
        result[index] = replace(
            subject,
            exit_date=next_working_day(dt.date.fromordinal(exit_day)).toordinal(),
            exit_kind=kind,
        )
    return result


def _key_group_persons(
    rng: random.Random, ids: _Identities, count: int, start: dt.date, departments: dict
) -> list[Person]:
    groups = {code: entry["key_group"] for code, entry in departments.items() if entry["key_group"]}
    weights = {code: departments[code]["weight"] for code in groups}
    persons = []
    for _ in range(count):
        dept = weighted(rng, weights)
        persons.append(Person(ids.person_id(start), person_name(rng), groups[dept], dept))
    return persons


def _indexed(subjects: list[Subject], persons: list[Person]) -> Population:
    population = Population(subjects, persons, {}, {}, {}, {}, {})
    for index, subject in enumerate(subjects):
        population.by_uscc[subject.uscc] = index
        population.by_section.setdefault(subject.section, []).append(index)
        population.by_category.setdefault(subject.category, []).append(index)
        population.established_on.setdefault(subject.established, []).append(index)
        if subject.exit_date:
            population.exits_on.setdefault(subject.exit_date, []).append(index)
    for index, person in enumerate(persons):
        population.persons_by_dept.setdefault(person.dept_code, []).append(index)
    return population


def write_population(population: Population, folder: Path) -> None:
    """Write subjects and persons as UTF-8 CSV: the population part of the ground truth."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows, cls in (
        ("subjects.csv", population.subjects, Subject),
        ("persons.csv", population.persons, Person),
    ):
        with (folder / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([f.name for f in fields(cls)])
            for row in rows:
                values = list(astuple(row))
                if cls is Subject:
                    values[10] = dt.date.fromordinal(values[10]).isoformat()
                    values[11] = dt.date.fromordinal(values[11]).isoformat() if values[11] else ""
                writer.writerow(values)
