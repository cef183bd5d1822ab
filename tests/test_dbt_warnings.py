"""Warnings (信用预警) of every rule of the `warning_rules` seed.

Each rule's trigger and non-trigger cases are dbt unit tests beside the models
(dbt/models/intermediate/warnings/_warnings__models.yml, marts/warnings); here they run, with the
project's other unit tests, and the warnings of the session's quarter county are checked against
the records they come from.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re

import psycopg
from psycopg import sql

from credit.dbt import run_dbt
from credit.paths import DBT_PROJECT_DIR
from tests.county import QUARTER_LAST_DAY as LAST_DAY

# An internal code: a lower-case word of the seeds (market_regulation, joint_punishment).
CODE = re.compile(r"[a-z]{2,}|_")


def _rows(url: str, query: str | sql.Composed, *params) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, params)
        return list(cur)


def test_each_rule_has_a_case_that_triggers_it_and_one_that_does_not(quarter_county) -> None:
    """The unit tests cover every rule of the seed, with cases built to raise and not to; they
    pass, with every other unit test of the project (no night runs them: NIGHTLY_BUILD)."""
    with (DBT_PROJECT_DIR / "seeds" / "rules" / "warning_rules.csv").open(encoding="utf-8") as f:
        rules = {row["rule_code"] for row in csv.DictReader(f)}
    tests = "".join(
        path.read_text(encoding="utf-8")
        for path in (DBT_PROJECT_DIR / "models").glob("*/warnings/_warnings__*.yml")
    )
    assert all(f"rule_code: {rule}" in tests for rule in rules)
    results = run_dbt(["test", "--select", "test_type:unit"]).results
    ran = {result.node.unique_id.split(".")[2] for result in results}
    assert {"int_warnings_rule_violations", "fct_warnings"} <= ran, ran


def test_interview_warnings_follow_the_records(quarter_county) -> None:
    url = quarter_county.url
    for kind in ("reminder", "warning"):
        records = {
            r["decision_doc_no"]: r
            for r in _rows(
                url,
                sql.SQL(
                    "select * from marts.fct_dishonesty_records"
                    " where {} is not null and rectification_deadline + 1 <= %s"
                ).format(sql.Identifier(f"{kind}_interview_due_date")),
                LAST_DAY,
            )
        }
        warnings = {
            w["condition_key"]: w
            for w in _rows(
                url,
                "select * from marts.fct_warnings where rule_code = %s",
                f"{kind}_interview_due",
            )
        }
        assert records and set(warnings) <= set(records)
        for doc, record in records.items():
            cleared = min(
                (d for d in (record[f"{kind}_interview_date"], record["exit_date"]) if d),
                default=None,
            )
            held = record["rectification_deadline"] + dt.timedelta(days=1)
            # The county's one night is the warehouse's first: what held before is backlog.
            raised = max(held, LAST_DAY)
            if cleared is not None and cleared <= raised:
                assert doc not in warnings  # cleared before it was raised: never raised
                continue
            warning = warnings[doc]
            assert warning["responsible_dept_code"] == record["dept_code"]
            assert warning["condition_date"] == held
            assert warning["raised_date"] == raised
            assert warning["is_backlog"] == (held < LAST_DAY)
            assert warning["status"] == ("closed" if cleared else "open")
            assert warning["closed_date"] == cleared
            assert warning["subject_key"] == record["subject_key"]


def test_every_rule_the_county_meets_raises_warnings_once(quarter_county) -> None:
    rows = _rows(
        quarter_county.url,
        "select rule_code, count(*) as n, count(distinct condition_key) as conditions,"
        " count(*) filter (where status = 'open') as open_n"
        " from marts.fct_warnings group by rule_code",
    )
    by_rule = {r["rule_code"]: r for r in rows}
    for rule in (
        "reminder_interview_due",
        "warning_interview_due",
        "joint_punishment_notice",
        "grade_fell",
        "red_black_conflict",
        "related_party_risk",
        "repair_eligible",
        "objection_overdue",
        "unlisted_behaviour",
        "repair_against_rules",
        "commitment_breached",
    ):
        assert by_rule[rule]["n"] > 0, rule
    assert all(r["n"] == r["conditions"] for r in rows)
    # Every department sent data on the county's one night: no collection gap.
    assert "collection_gap_silent" not in by_rule


def test_open_red_black_conflicts_hold_an_honour_and_active_dishonesty(quarter_county) -> None:
    conflicts = _rows(
        quarter_county.url,
        "select d.active_commendation_count, d.active_dishonesty_count"
        " from marts.fct_warnings as w join marts.dossiers as d using (subject_key)"
        " where w.rule_code = 'red_black_conflict' and w.status = 'open'",
    )
    assert conflicts
    assert all(c["active_commendation_count"] > 0 for c in conflicts)
    assert all(c["active_dishonesty_count"] > 0 for c in conflicts)


def test_texts_a_person_reads_hold_no_internal_code(quarter_county) -> None:
    """Warnings' names and facts and the measures' names are Chinese: departments, severities
    and measures appear by name, their codes only in their own columns."""
    texts = _rows(
        quarter_county.url,
        "select rule_code as source, rule_name as text from marts.fct_warnings"
        " union all select rule_code, facts from marts.fct_warnings"
        " union all select decision_doc_no, applicable_measures_zh"
        " from marts.fct_dishonesty_records where applicable_measures_zh is not null"
        " union all select subject_key, applicable_measures_zh from marts.dossiers"
        " where applicable_measures_zh is not null",
    )
    assert {t["source"] for t in texts} >= {"joint_punishment_notice", "red_black_conflict"}
    assert [t for t in texts if CODE.search(t["text"])] == []


def test_grade_falls_go_to_the_departments_supervising_the_domain(quarter_county) -> None:
    url = quarter_county.url
    sent = _rows(
        url,
        "select w.subject_key, w.responsible_dept_code, d.domain_code, d.industry_section"
        " from marts.fct_warnings as w"
        " join intermediate.int_subject_domains as d using (subject_key)"
        " where w.rule_code = 'grade_fell'",
    )
    supervisors: dict[str, set[str]] = {}
    for row in _rows(url, "select domain_code, dept_code from rules.domain_supervisors"):
        supervisors.setdefault(row["domain_code"], set()).add(row["dept_code"])
    recorded: dict[str, set[str]] = {}
    for row in _rows(url, "select distinct subject_key, dept_code from marts.fct_credit_records"):
        recorded.setdefault(row["subject_key"], set()).add(row["dept_code"])
    assert sent
    received: dict[str, set[str]] = {}
    for row in sent:
        received.setdefault(row["subject_key"], set()).add(row["responsible_dept_code"])
    for row in sent:
        # A subject of no known domain goes to the departments that recorded it.
        by_records = row["industry_section"] == "*" and recorded.get(row["subject_key"])
        expected = by_records or supervisors[row["domain_code"]]
        assert received[row["subject_key"]] == expected, row
    office = sum(row["responsible_dept_code"] == "development_reform" for row in sent)
    assert office <= len(sent) / 10


def test_industry_risk_needs_a_previous_quarter_to_compare_with(quarter_county) -> None:
    """The county's data start in 2026Q1: its previous quarter is empty, so no domain's rate
    is compared with it."""
    rows = _rows(
        quarter_county.url,
        "select condition_key from marts.fct_warnings where rule_code = 'industry_risk'",
    )
    assert [r for r in rows if r["condition_key"].endswith("|2026Q1")] == []


def test_related_parties_share_a_legal_representative_in_the_truth(quarter_county) -> None:
    """Each shared-legal-representative risk links two different subjects whose legal
    representative is one person in the simulator's population (no firm is its own relative)."""
    with (quarter_county.truth / "subjects.csv").open(encoding="utf-8", newline="") as f:
        legal_rep = {row["uscc"]: row["legal_rep_id"] for row in csv.DictReader(f)}
    # A record the warehouse rightly files under a legacy identifier no rule links (its
    # registration was quarantined): the truth knows whose it is.
    with (quarter_county.truth / "legacy_identifiers.jsonl").open(encoding="utf-8") as f:
        firm = {line["legacy_identifier"]: line["uscc"] for line in map(json.loads, f)}
    risks = _rows(
        quarter_county.url,
        "select subject_key, related_subject_key from marts.fct_related_party_risks"
        " where relation_type = 'shared_legal_rep'",
    )
    assert risks
    for risk in risks:
        subject, related = (firm.get(key, key) for key in risk.values())
        assert subject != related, risk
        assert legal_rep[subject] == legal_rep[related], risk
