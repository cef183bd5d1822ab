"""The dishonesty lifecycle in dbt against the simulated county's ground truth: real systems,
real ingestion, real dbt on PostgreSQL.

Five months of a test-scale county are ingested as one catch-up night per source.  Drop-folder
sources deliver one file per kind and day, so a five-month catch-up is hundreds of batches each;
the test takes a few exchange-database and HTTP-API departments, which land five months in one
batch per kind, and compares every dishonesty record of those departments with the truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import credit.dbt
from credit.dbt import run_dbt
from credit.ingest import exchange_url, ingest_source
from credit.paths import DBT_PROJECT_DIR
from credit.workdays import add_months
from tests.county import simulated_county

FIRST_DAY = dt.date(2026, 1, 5)
LAST_DAY = dt.date(2026, 6, 15)
# Busy departments of both pull-based shapes.
DEPARTMENTS = ("housing_construction", "public_security", "industry_it")
LIFECYCLE = "path:models/intermediate/lifecycle path:models/marts/lifecycle"


def _vars(day: dt.date) -> list[str]:
    return ["--vars", json.dumps({"as_of_date": day.isoformat()})]


def _build_lifecycle(day: dt.date) -> None:
    run_dbt(["build", "--select", *LIFECYCLE.split(), *_vars(day)])


@pytest.fixture(scope="module")
def county(tmp_path_factory, warehouse_url) -> Iterator[dict]:
    """The county advanced five months, ingested for DEPARTMENTS, seeded and built by dbt."""
    with simulated_county(tmp_path_factory, "lifecycle", FIRST_DAY, LAST_DAY) as county:
        for dept_code in DEPARTMENTS:
            ingest_source(dept_code, LAST_DAY)
        run_dbt(["seed"])
        run_dbt(["build", *_vars(LAST_DAY)])
        yield county


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
    """The earliest of revocation, approved repair (unless barred) and expiry by the last day."""
    candidates = []  # (date, precedence on the same day, reason)
    if "revoked" in events:
        candidates.append((events["revoked"], 0, "revocation"))
    if "repair_approved" in events and not barred:
        candidates.append((events["repair_approved"], 1, "repair"))
    if record["publicity_max_end"] <= LAST_DAY.isoformat():
        candidates.append((record["publicity_max_end"], 2, "expiry"))
    if not candidates:
        return None, None
    day, _, reason = min(candidates)
    return reason, day


def test_every_dishonesty_record_matches_the_truth(county) -> None:
    defective = {_row(d) for d in _truth(county["truth"], "defects")}
    events: dict[str, list[dict]] = defaultdict(list)
    for event in _truth(county["truth"], "lifecycle"):
        events[event["decision_doc_no"]].append(event)
    facts = _records(county["url"])
    truth = [
        r
        for r in _truth(county["truth"], "dishonesty")
        if r["dept_code"] in DEPARTMENTS and _row(r) not in defective
    ]
    assert len(truth) > 500
    reasons: dict[str, int] = defaultdict(int)
    for record in truth:
        fact = facts.get(record["decision_doc_no"])
        assert fact is not None, record["decision_doc_no"]
        assert fact["severity_code"] == record["severity_code"]
        assert fact["decision_date"].isoformat() == record["decision_date"]
        assert fact["publicity_min_end"].isoformat() == record["publicity_min_end"]
        assert fact["publicity_end"].isoformat() == record["publicity_max_end"]
        life = events[record["decision_doc_no"]]
        if any(_row(e) in defective for e in life):
            continue  # a follow-up was quarantined: the warehouse rightly lacks it
        happened = {e["event"]: e["date"] for e in life}
        expected = _expected_exit(record, happened, fact["early_end_barred"])
        exit_date = fact["exit_date"].isoformat() if fact["exit_date"] else None
        assert (fact["exit_reason"], exit_date) == expected, (record, happened)
        for kind in ("reminder_interview", "warning_interview"):
            held = fact[f"{kind}_date"]
            assert (held.isoformat() if held else None) == happened.get(kind)
            if kind in happened:
                assert fact[f"{kind}_due_date"] is not None
        reasons[fact["exit_reason"]] += 1
    assert {"repair", "expiry", "revocation", None} <= set(reasons)
    with psycopg.connect(county["url"]) as conn:
        subjects, active = conn.execute(
            "select count(*), sum(active_dishonesty_count) from marts.dossiers"
        ).fetchone()
    assert active == sum(1 for f in facts.values() if f["is_active"])
    assert subjects > 0


def test_a_changed_publicity_rule_moves_repair_eligibility_without_code(county, tmp_path) -> None:
    before = _records(county["url"])
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    seed = project / "seeds" / "rules" / "publicity_rules.csv"
    with seed.open(encoding="utf-8") as f:
        rules = list(csv.DictReader(f))
    for rule in rules:
        if rule["severity_code"] == "general":
            rule["min_publicity_months"] = "6"
    with seed.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rules[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rules)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
            run_dbt(["seed", "--full-refresh", "--select", "publicity_rules"])
            _build_lifecycle(LAST_DAY)
        after = _records(county["url"])
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
        run_dbt(["seed", "--full-refresh", "--select", "publicity_rules"])
        _build_lifecycle(LAST_DAY)
    assert _records(county["url"]) == before


def test_a_correction_days_later_moves_the_record_and_keeps_its_history(county) -> None:
    dept_code = "housing_construction"
    facts = _records(county["url"])
    doc = next(
        d
        for d, r in sorted(facts.items())
        if r["dept_code"] == dept_code
        and r["severity_code"] == "general"
        and r["is_active"]
        and r["version_count"] == 1
        and r["decision_date"] < LAST_DAY - dt.timedelta(days=100)
    )
    minor_code, minor_behaviour = _listed_behaviour(dept_code, "minor")
    corrected_on = LAST_DAY + dt.timedelta(days=3)
    with psycopg.connect(exchange_url()) as conn:
        conn.execute(
            f"""insert into {dept_code}.dishonesty
            select subject_name, subject_type, uscc, legal_rep, legal_rep_id_number, id_number,
                decision_doc_no, %s, %s, '轻微', basis, decision_date, rectification_deadline,
                publicity_until, authority, authority_code, '更正失信行为认定', source_unit,
                source_unit_code, '更正', record_id || '-C', %s
            from {dept_code}.dishonesty where decision_doc_no = %s and change_type = '新增'
            """,  # noqa: S608 (dept_code is a constant)
            (
                minor_code,
                minor_behaviour,
                dt.datetime.combine(corrected_on, dt.time(9), dt.timezone(dt.timedelta(hours=8))),
                doc,
            ),
        )
    ingest_source(dept_code, corrected_on)  # an exchange database: no API needed
    _build_lifecycle(corrected_on)
    record = _records(county["url"])[doc]
    assert record["severity_code"] == "minor"
    assert record["version_count"] == 2
    assert record["last_corrected_date"] == corrected_on
    # Three months from a decision over a hundred days ago have passed: out by correction.
    assert record["publicity_end"] < corrected_on
    assert (record["exit_reason"], record["exit_date"]) == ("correction", corrected_on)
    with psycopg.connect(county["url"]) as conn:
        versions = conn.execute(
            "select version_number, change_type_code, severity_code, is_current, valid_to"
            " from marts.fct_dishonesty_record_versions where decision_doc_no = %s"
            " order by version_number",
            (doc,),
        ).fetchall()
    assert [v[:4] for v in versions] == [
        (1, "insert", "general", False),
        (2, "correct", "minor", True),
    ]
    assert versions[0][4] is not None and versions[1][4] is None
    _build_lifecycle(LAST_DAY)
    back = _records(county["url"])[doc]
    assert (back["severity_code"], back["is_active"]) == ("general", True)


def _listed_behaviour(dept_code: str, severity_code: str) -> tuple[str, str]:
    seed = DBT_PROJECT_DIR / "seeds" / "rules" / "dishonesty_behaviours.csv"
    with seed.open(encoding="utf-8") as f:
        return next(
            (row["behaviour_code"], row["behaviour"])
            for row in csv.DictReader(f)
            if row["dept_code"] == dept_code and row["severity_code"] == severity_code
        )
