"""Warnings (信用预警) of every rule of the `warning_rules` seed.

Each rule's trigger and non-trigger cases are dbt unit tests beside the models
(dbt/models/intermediate/warnings/_warnings__models.yml, marts/warnings); here they run, and the
warnings of the session's quarter county are checked against the records they come from.
"""

from __future__ import annotations

import csv

import psycopg
from psycopg import sql

from credit.dbt import run_dbt
from credit.paths import DBT_PROJECT_DIR
from tests.county import QUARTER_LAST_DAY as LAST_DAY


def _rows(url: str, query: str | sql.Composed, *params) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, params)
        return list(cur)


def test_each_rule_has_a_case_that_triggers_it_and_one_that_does_not(quarter_county) -> None:
    """The unit tests cover every rule of the seed, with cases built to raise and not to."""
    with (DBT_PROJECT_DIR / "seeds" / "rules" / "warning_rules.csv").open(encoding="utf-8") as f:
        rules = {row["rule_code"] for row in csv.DictReader(f)}
    tests = "".join(
        path.read_text(encoding="utf-8")
        for path in (DBT_PROJECT_DIR / "models").glob("*/warnings/_warnings__*.yml")
    )
    assert all(f"rule_code: {rule}" in tests for rule in rules)
    run_dbt(["test", "--select", "test_type:unit,path:models/intermediate/warnings"])
    run_dbt(["test", "--select", "test_type:unit,path:models/marts/warnings"])


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
            raised = record["rectification_deadline"].toordinal() + 1
            if cleared is not None and cleared.toordinal() <= raised:
                assert doc not in warnings  # cleared before it was due: never raised
                continue
            warning = warnings[doc]
            assert warning["responsible_dept_code"] == record["dept_code"]
            assert warning["raised_date"].toordinal() == raised
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
