"""Credit commitments (信用承诺): kept or breached as the departments recorded, against the
simulator's truth; a breach is a warning to the department it was made to and a deduction in
the subject's evaluation (the seeds warning_rules and evaluation_indicators)."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from tests.county import QUARTER_LAST_DAY, source_ref


def _rows(url: str, query: str, *params) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, params)
        return list(cur)


@pytest.fixture(scope="module")
def commitments(quarter_county_built) -> dict[str, dict]:
    """fct_commitments of the quarter county, by record key."""
    rows = _rows(quarter_county_built.url, "select * from marts.fct_commitments")
    return {row["record_key"]: row for row in rows}


def test_each_judgement_the_truth_knows_is_the_commitments_state(
    quarter_county_built, commitments
) -> None:
    """Every judgement (履约 / 未履约) the county's departments sent and the warehouse accepted
    is the commitment's state on the as-of date, dated the day it was sent."""
    url = quarter_county_built.url
    lines = (quarter_county_built.truth / "commitments.jsonl").read_text("utf-8").splitlines()
    judged = [json.loads(line) for line in lines]
    accepted = {
        row["source_ref"]: row["record_key"]
        for row in _rows(url, "select source_ref, record_key from staging.stg_raw__commitments")
    }
    checked = {"履约": 0, "未履约": 0}
    for line in judged:
        record_key = accepted.get(source_ref(line["source_row"]))
        if record_key is None:  # the judgement's row was quarantined
            continue
        state = commitments[record_key]
        expected = "breached" if line["fulfilment"] == "未履约" else "kept"
        assert (state["fulfilment_code"], state["fulfilment_zh"]) == (
            expected,
            line["fulfilment"],
        ), record_key
        assert state["settled_date"] == dt.date.fromisoformat(line["day"]), record_key
        checked[line["fulfilment"]] += 1
    assert checked["未履约"] >= 10 and checked["履约"] >= 100, checked
    assert all(c["as_of_date"] == QUARTER_LAST_DAY for c in commitments.values())
    judged_keys = {accepted.get(source_ref(line["source_row"])) for line in judged}
    pending = [c for c in commitments.values() if c["fulfilment_code"] == "pending"]
    assert pending and all(c["settled_date"] is None for c in pending)
    assert not judged_keys & {c["record_key"] for c in pending}


def test_a_breach_is_warned_to_the_department_it_was_made_to(
    quarter_county_built, commitments
) -> None:
    warnings = {
        row["condition_key"]: row
        for row in _rows(
            quarter_county_built.url,
            "select * from marts.fct_warnings where rule_code = 'commitment_breached'",
        )
    }
    breached = {k: c for k, c in commitments.items() if c["fulfilment_code"] == "breached"}
    assert breached and set(warnings) == set(breached)
    for key, commitment in breached.items():
        warning = warnings[key]
        assert warning["responsible_dept_code"] == commitment["dept_code"]
        assert warning["subject_key"] == commitment["subject_key"]
        assert commitment["commitment_no"] in warning["facts"]
        assert "未履约" in warning["facts"]


def test_a_breach_is_deducted_from_the_subjects_score(quarter_county_built, commitments) -> None:
    """Each subject with a breach known on the as-of date has the indicator commitment_breach
    among its current score's contributions: one fact per breach, a deduction of at most 10."""
    breaches: dict[str, int] = {}
    for c in commitments.values():
        if c["fulfilment_code"] == "breached" and c["subject_key"]:
            breaches[c["subject_key"]] = breaches.get(c["subject_key"], 0) + 1
    contributions = {
        row["subject_key"]: row
        for row in _rows(
            quarter_county_built.url,
            "select subject_key, fact_count, points from marts.fct_score_contributions"
            " where indicator_code = 'commitment_breach' and is_current",
        )
    }
    evaluated = {
        row["subject_key"]
        for row in _rows(
            quarter_county_built.url,
            "select subject_key from marts.fct_subject_grades where subject_key = any(%s)",
            list(breaches),
        )
    }
    assert evaluated, "no subject with a breach was evaluated"
    assert set(contributions) == evaluated
    for subject_key in evaluated:
        contribution = contributions[subject_key]
        assert contribution["fact_count"] == breaches[subject_key]
        assert -10 * breaches[subject_key] <= contribution["points"] < 0
