"""The dishonesty lifecycle in dbt against the simulated county's ground truth: real systems,
real ingestion, real dbt on PostgreSQL.

The session's quarter county (tests/county.py: every department, 2026-01-05 to 2026-04-08, built
as of the last day) is compared record by record with the simulator's truth.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import psycopg
import pytest

import credit.dbt
from credit.dbt import run_dbt
from credit.identifiers import hash_identifier
from credit.sources import sources
from credit.workdays import add_months
from tests.county import QUARTER_LAST_DAY as LAST_DAY
from tests.county import project_with_rules

LIFECYCLE = "path:models/intermediate/lifecycle path:models/marts/lifecycle"
OBJECTION_OUTCOMES = {
    "objection_upheld": "confirm",
    "objection_corrected": "correct",
    "objection_revoked": "revoke",
}


def _build_lifecycle() -> None:
    as_of = json.dumps({"as_of_date": LAST_DAY.isoformat()})
    run_dbt(["build", "--select", *LIFECYCLE.split(), "--vars", as_of])


def _truth(folder: Path, name: str) -> list[dict]:
    with (folder / f"{name}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _row(line: dict) -> tuple[str, str]:
    return line["dept_code"], json.dumps(line["source_row"], sort_keys=True)


def _records(url: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from marts.fct_dishonesty_records")
        return {row["decision_doc_no"]: row for row in cur}


def _expected_exit(record: dict, events: dict[str, str], barred: bool) -> tuple:
    """The earliest of revocation, approved repair (unless barred; not before the minimum
    publicity period ends) and expiry by the last day."""
    candidates = []  # (date, precedence on the same day, reason)
    if "revoked" in events:
        candidates.append((events["revoked"], 0, "revocation"))
    repaired = max(events.get("repair_approved", ""), record["publicity_min_end"])
    if "repair_approved" in events and not barred and repaired <= LAST_DAY.isoformat():
        candidates.append((repaired, 1, "repair"))
    if record["publicity_max_end"] <= LAST_DAY.isoformat():
        candidates.append((record["publicity_max_end"], 2, "expiry"))
    if not candidates:
        return None, None
    day, _, reason = min(candidates)
    return reason, day


class Truth:
    """The simulator's truth about dishonesty: clean records and their events, by document."""

    def __init__(self, folder: Path) -> None:
        self.defective = {_row(d) for d in _truth(folder, "defects")}
        self.records = [r for r in _truth(folder, "dishonesty") if _row(r) not in self.defective]
        self.events: dict[str, list[dict]] = defaultdict(list)
        for event in _truth(folder, "lifecycle"):
            self.events[event["decision_doc_no"]].append(event)
        self.legacy = {
            _row(line): line["legacy_identifier"] for line in _truth(folder, "legacy_identifiers")
        }

    def subject_keys(self, record: dict, links: set[str]) -> list[str]:
        """The keys the warehouse may rightly file a record under: its subject's true key (USCC
        or person's hash) first, then each legacy identifier that one of its rows (the original,
        a correction) named the subject by and no registration links."""
        rows = [_row(record), *(_row(event) for event in self.events[record["decision_doc_no"]])]
        sent = [self.legacy[row] for row in rows if row in self.legacy]
        unlinked = [identifier for identifier in sent if identifier not in links]
        return [record["uscc"] or f"P:{hash_identifier(record['id_number'])}", *unlinked]

    def clean_life(self, doc_no: str) -> dict[str, str] | None:
        """Event → date of a record's follow-ups; None when one of them was quarantined."""
        life = self.events[doc_no]
        if any(_row(e) in self.defective for e in life):
            return None
        return {e["event"]: e["date"] for e in life}


def test_every_dishonesty_record_of_every_department_matches_the_truth(quarter_county) -> None:
    truth = Truth(quarter_county.truth)
    facts = _records(quarter_county.url)
    assert {r["dept_code"] for r in truth.records} == set(sources())
    mismatches: list[tuple] = []
    reasons: dict[str | None, int] = defaultdict(int)
    for record in truth.records:
        fact = facts.get(record["decision_doc_no"])
        assert fact is not None, record["decision_doc_no"]
        expected = {
            "dept_code": record["dept_code"],
            "severity_code": record["severity_code"],
            "decision_date": record["decision_date"],
            "publicity_min_end": record["publicity_min_end"],
            "publicity_end": record["publicity_max_end"],
            "severity_source": "dishonesty_list" if record["behaviour_listed"] else "as_sent",
        }
        happened = truth.clean_life(record["decision_doc_no"])
        if happened is not None:  # else a follow-up was quarantined: the warehouse rightly lacks it
            reason, day = _expected_exit(record, happened, fact["early_end_barred"])
            expected |= {"exit_reason": reason, "exit_date": day}
            approved = happened.get("repair_approved")
            expected["repair_before_min_period"] = bool(
                approved and approved < record["publicity_min_end"]
            )
            for kind in ("reminder_interview", "warning_interview"):
                expected[f"{kind}_date"] = happened.get(kind)
            expected["objection_filed_date"] = happened.get("objection_filed")
            outcomes = [OBJECTION_OUTCOMES[e] for e in happened if e in OBJECTION_OUTCOMES]
            expected["objection_outcome"] = outcomes[0] if outcomes else None
        got = {
            column: value.isoformat() if hasattr(value, "isoformat") else value
            for column, value in fact.items()
            if column in expected
        }
        if got != expected:
            mismatches.append((record["decision_doc_no"], expected, got))
        reasons[fact["exit_reason"]] += 1
    assert not mismatches, f"{len(mismatches)} records differ, e.g. {mismatches[:3]}"
    assert len(truth.records) > 1000
    assert {"repair", "expiry", "revocation", None} <= set(reasons)
    with psycopg.connect(quarter_county.url) as conn:
        subjects, active = conn.execute(
            "select count(*), sum(active_dishonesty_count) from marts.dossiers"
        ).fetchone()
    assert active == sum(1 for f in facts.values() if f["is_active"])
    assert subjects > 0


def test_a_changed_publicity_rule_moves_repair_eligibility_without_code(
    quarter_county, tmp_path
) -> None:
    before = _records(quarter_county.url)
    project = project_with_rules(
        tmp_path,
        {
            "publicity_rules": (
                lambda rule: (
                    rule.update(min_publicity_months="6")
                    if rule["severity_code"] == "general"
                    else None
                )
            )
        },
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
            run_dbt(["seed", "--full-refresh", "--select", "publicity_rules"])
            _build_lifecycle()
        after = _records(quarter_county.url)
        general = [doc for doc, r in after.items() if r["severity_code"] == "general"]
        assert general
        for doc in general:
            record = after[doc]
            assert record["publicity_min_end"] == add_months(record["decision_date"], 6)
            if not record["early_end_barred"]:
                assert record["repair_eligible_date"] == record["publicity_min_end"]
                assert record["repair_eligible_date"] > before[doc]["repair_eligible_date"]
        others = [doc for doc, r in after.items() if r["severity_code"] != "general"]
        assert all(
            after[doc]["repair_eligible_date"] == before[doc]["repair_eligible_date"]
            for doc in others
        )
    finally:
        # A full-refresh seed drops, by cascade, every view built on it in any area, even where
        # dbt's graph does not lead there: rebuild every model.
        run_dbt(["seed", "--full-refresh", "--select", "publicity_rules"])
        as_of = json.dumps({"as_of_date": LAST_DAY.isoformat()})
        run_dbt(["run", "--vars", as_of])
    assert _records(quarter_county.url) == before


@pytest.mark.parametrize(
    ("column", "value", "refusal"),
    [
        ("grade", "E", 'violates check constraint "grade_thresholds__grade__check"'),
        ("grade", "B", 'violates unique constraint "grade_thresholds__grade__unique"'),
        ("min_score", "", 'column "min_score" of relation "grade_thresholds" violates not-null'),
    ],
)
def test_a_rule_seed_row_that_breaks_its_constraints_is_refused_and_the_rules_stay(
    quarter_county, tmp_path, column, value, refusal
) -> None:
    """The seed's YAML constraints are the database's: the load fails, naming the constraint,
    what is built on the seed is skipped, and the loaded rules are those of before."""
    with psycopg.connect(quarter_county.url) as conn:
        before = conn.execute("select * from rules.grade_thresholds order by grade").fetchall()
    project = project_with_rules(
        tmp_path,
        {
            "grade_thresholds": lambda row: (
                row.update({column: value}) if row["grade"] == "A" else None
            )
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
        outcome = credit.dbt.invoke_dbt(
            ["build", "--select", "grade_thresholds+", "--exclude", "resource_type:unit_test"],
            {"CREDIT_AS_OF_DATE": LAST_DAY.isoformat()},
        )
    statuses = {
        result.node.unique_id: str(result.status)
        for result in outcome.result.results
        if result.node.resource_type != "operation"  # the on-run-start hook
    }
    assert statuses.pop("seed.credit.grade_thresholds") == "error"
    assert statuses and set(statuses.values()) == {"skipped"}
    message = credit.dbt.failure_message(["build"], outcome)
    assert refusal in message
    with psycopg.connect(quarter_county.url) as conn:
        after = conn.execute("select * from rules.grade_thresholds order by grade").fetchall()
    assert after == before


def test_a_revocation_days_later_moves_the_exit_and_keeps_the_old_version(quarter_county) -> None:
    """An objection's outcome reaches the record as a new version days after the decision."""
    truth = Truth(quarter_county.truth)
    facts = _records(quarter_county.url)
    later: dict[str, list[str]] = defaultdict(list)
    for record in truth.records:
        doc = record["decision_doc_no"]
        happened = truth.clean_life(doc) or {}
        if happened.get("corrected", "") > record["decision_date"]:
            later["corrected"].append(doc)
        # A record repaired before its revocation has already left: take one still in the stock.
        exit_reason, _ = _expected_exit(record, happened, facts[doc]["early_end_barred"])
        if exit_reason == "revocation" and happened["revoked"] > record["decision_date"]:
            later["revoked"].append(doc)
    assert later["revoked"] and later["corrected"]
    with psycopg.connect(quarter_county.url) as conn:
        for event, doc in ((event, docs[0]) for event, docs in sorted(later.items())):
            on = truth.clean_life(doc)[event]
            versions = conn.execute(
                "select version_number, change_type_code, is_current, valid_to, publicity_end"
                " from marts.fct_dishonesty_record_versions where decision_doc_no = %s"
                " order by version_number",
                (doc,),
            ).fetchall()
            change = "revoke" if event == "revoked" else "correct"
            assert [v[:3] for v in versions] == [(1, "insert", False), (2, change, True)], doc
            assert versions[0][3] is not None and versions[1][3] is None
            record = facts[doc]
            assert record["version_count"] == 2
            if event == "revoked":
                # The first version would have run to its publicity end: the exit moved forward.
                assert (record["exit_reason"], record["exit_date"].isoformat()) == (
                    "revocation",
                    on,
                )
                assert record["exit_date"] < versions[0][4]
            else:
                assert record["last_corrected_date"].isoformat() == on


def test_records_against_the_rules_are_kept_marked_and_warned(quarter_county) -> None:
    """The simulator's rule violations (a behaviour of another department's list, a repair
    decided before the minimum publicity period) are in the marts and marked, none accepted
    silently; each still holding on the warehouse's first night (the county's one night) is
    warned once to the credit office, and no other record is."""
    truth = Truth(quarter_county.truth)
    unlisted = {r["decision_doc_no"] for r in truth.records if not r["behaviour_listed"]}
    early = {
        r["decision_doc_no"]
        for r in truth.records
        if truth.clean_life(r["decision_doc_no"]) is not None
        and any(
            e["event"] == "repair_approved" and e["before_min_period"]
            for e in truth.events[r["decision_doc_no"]]
        )
    }
    assert unlisted and early
    facts = _records(quarter_county.url)
    # A record whose row the simulator made defective may rightly differ (a garbled code).
    clean = [facts[r["decision_doc_no"]] for r in truth.records]
    assert {f["decision_doc_no"] for f in clean if f["severity_source"] == "as_sent"} == unlisted
    marked = {f["decision_doc_no"] for f in clean if f["repair_before_min_period"]}
    assert {doc for doc in marked if truth.clean_life(doc) is not None} == early
    with psycopg.connect(quarter_county.url) as conn:
        warned = conn.execute(
            "select rule_code, condition_key, responsible_dept_code from marts.fct_warnings"
            " where rule_code in ('unlisted_behaviour', 'repair_against_rules')"
        ).fetchall()
    assert {dept for _, _, dept in warned} == {"development_reform"}

    def held(until: date | None) -> bool:
        return until is None or until > LAST_DAY

    assert {key for rule, key, _ in warned if rule == "unlisted_behaviour"} == {
        doc for doc in unlisted if held(facts[doc]["exit_date"])
    }
    assert {key for rule, key, _ in warned if rule == "repair_against_rules"} >= {
        doc for doc in early if held(facts[doc]["publicity_min_end"])
    }
