"""The compliance-risk evaluation (合规风险评价) on the shared quarter county: serious dishonesty
in force as the simulator made it, points and levels as the seeds say, every subject and every
industry domain evaluated."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

from tests.county import QUARTER_LAST_DAY
from tests.test_dbt_lifecycle import Truth


def _rows(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql).fetchall()


def test_serious_dishonesty_in_force_is_a_factor_as_the_truth_has_it(quarter_county) -> None:
    """Every subject whose serious records (all with a clean life in the truth) are in force on
    the last day has the factor, counting exactly those records; no other subject has it. No
    serious record can be repaired yet (its minimum publicity is a year), so only a revocation
    ends one."""
    url = quarter_county.url
    truth = Truth(quarter_county.truth)
    links = {
        row["legacy_identifier"]
        for row in _rows(url, "select legacy_identifier from staging.stg_legacy_identifier_links")
    }
    in_force: Counter[str] = Counter()
    unclean: set[str] = set()
    for record in truth.records:
        if record["severity_code"] != "serious":
            continue
        # A record sent by a legacy identifier no registration links is filed under it.
        key, *legacy = truth.subject_keys(record, links)
        life = truth.clean_life(record["decision_doc_no"])
        if life is None or legacy:
            unclean.update([key, *legacy])
            continue
        ended = [
            day
            for event, day in life.items()
            if event in ("revoked", "objection_revoked") and day <= QUARTER_LAST_DAY.isoformat()
        ]
        if not ended:
            in_force[key] += 1
    factors = {
        row["subject_key"]: row
        for row in _rows(
            url,
            "select * from marts.fct_compliance_risk_factors"
            " where factor_code = 'serious_dishonesty'",
        )
    }
    assert in_force, "the county has serious dishonesty in force"
    got = {key: row["fact_count"] for key, row in factors.items() if key not in unclean}
    assert got == {key: n for key, n in in_force.items() if key not in unclean}
    (rule,) = _rows(
        url, "select * from rules.compliance_risk_factors where factor_code = 'serious_dishonesty'"
    )
    for row in factors.values():
        expected = min(
            rule["max_points"], rule["points"] + rule["points_per_extra"] * (row["fact_count"] - 1)
        )
        assert row["points"] == expected


def test_every_subject_has_its_points_and_level(quarter_county) -> None:
    url = quarter_county.url
    risks = _rows(url, "select * from marts.fct_compliance_risk")
    profiles = _rows(url, "select subject_key from marts.subject_profiles")
    assert {r["subject_key"] for r in risks} == {p["subject_key"] for p in profiles}
    points: dict[str, Decimal] = defaultdict(Decimal)
    counts: Counter[str] = Counter()
    for factor in _rows(url, "select * from marts.fct_compliance_risk_factors"):
        points[factor["subject_key"]] += factor["points"]
        counts[factor["subject_key"]] += 1
    levels = _rows(
        url,
        "select * from rules.compliance_risk_levels where scope = 'subject'"
        " order by min_value desc",
    )
    for risk in risks:
        assert risk["risk_points"] == points[risk["subject_key"]]
        assert risk["factor_count"] == counts[risk["subject_key"]]
        level = next(lv for lv in levels if risk["risk_points"] >= lv["min_value"])
        assert (risk["level_code"], risk["level_zh"]) == (level["level_code"], level["level_zh"])
        assert (risk["factors_zh"] is None) == (risk["factor_count"] == 0)
    assert {r["level_code"] for r in risks} >= {"low", "elevated"}, "risk levels spread"

    domains = _rows(url, "select * from marts.fct_industry_compliance_risk")
    industry = _rows(
        url,
        "select * from rules.compliance_risk_levels where scope = 'industry'"
        " order by min_value desc",
    )
    by_domain = Counter(r["domain_code"] for r in risks)
    risky = Counter(r["domain_code"] for r in risks if r["is_risky"])
    assert {d["domain_code"]: d["subjects"] for d in domains} == dict(by_domain)
    for domain in domains:
        assert domain["risky_subjects"] == risky[domain["domain_code"]]
        assert (
            sum(domain[f"level_{c}"] for c in ("low", "medium", "elevated", "high"))
            == (domain["subjects"])
        )
        share = Decimal(domain["risky_subjects"]) / domain["subjects"]
        level = next(lv for lv in industry if share >= lv["min_value"])
        assert domain["level_code"] == level["level_code"]
