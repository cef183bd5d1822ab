"""Publicity (公示): what the credit portal may publish, and the daily publicity list.

Each rule is a dbt unit test beside its model (models/*/publicity/_publicity__unit_tests.yml):
in period, past the maximum, minor, repaired or revoked with its deadline in working days,
penalties' own 公示截止期. Here they run against the real warehouse, the session's quarter county
(tests/county.py) is checked against the simulator's truth, and its publicity list is exported.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import psycopg
import pytest
from psycopg.rows import dict_row

import credit.dbt
from credit.dbt import run_dbt
from credit.exports.outbox import period_folder
from credit.exports.publicity import KIND_ORDER, export_daily_publicity, write_daily_publicity
from credit.paths import DBT_PROJECT_DIR
from credit.workdays import CALENDAR_SEED, add_months, add_working_days, render_calendar_seed
from tests.county import QUARTER_LAST_DAY as LAST_DAY
from tests.county import mart_digests, project_with_rules
from tests.test_dbt_lifecycle import Truth, _expected_exit

UNIT_TESTS = (
    "test_publicity_periods_and_withdrawals_by_kind",
    "test_publicity_withdrawal_deadlines",
    "test_publicity_status_on_the_as_of_date",
    "test_publicity_withdrawal_learned_day",
)


def _publicity(url: str, kind: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from marts.fct_publicity_records where record_kind = %s", (kind,))
        return {row["doc_no"]: row for row in cur}


def _in_principle() -> dict[str, bool]:
    with (DBT_PROJECT_DIR / "seeds" / "rules" / "publicity_rules.csv").open(encoding="utf-8") as f:
        return {
            row["severity_code"]: row["published_in_principle"] == "true"
            for row in csv.DictReader(f)
        }


def _penalty_tier(category: str, fine: Decimal | None) -> str:
    """A penalty's tier as the seed penalty_publicity_tiers sets it: its category's, serious from
    the category's fine threshold."""
    with (DBT_PROJECT_DIR / "seeds" / "rules" / "penalty_publicity_tiers.csv").open(
        encoding="utf-8"
    ) as f:
        tier = next(row for row in csv.DictReader(f) if row["penalty_category"] == category)
    threshold = tier["serious_fine_from_wan"]
    if threshold and fine is not None and fine >= Decimal(threshold):
        return "serious"
    return tier["severity_code"]


def test_the_calendar_seed_is_the_projects_working_day_calendar() -> None:
    """The warehouse counts working days on the calendar of credit.workdays (chinese_calendar):
    regenerate the seed (python -m credit.workdays) when it changes."""
    assert CALENDAR_SEED.read_text(encoding="utf-8") == render_calendar_seed()


def test_each_publicity_rule_holds_in_its_unit_test(quarter_county) -> None:
    results = run_dbt(["test", "--select", *(f"unit_test:{name}" for name in UNIT_TESTS)]).results
    ran = {r.node.name: r.status for r in results if r.node.resource_type == "unit_test"}
    assert ran == dict.fromkeys(UNIT_TESTS, "pass")


def test_dishonesty_publicity_matches_the_truth(quarter_county) -> None:
    """Every clean dishonesty record of the county: listed while in its period, minor ones never,
    repaired and revoked ones withdrawn by the 3rd working day after the change (counted on the
    project's calendar in Python here, on the seed in the warehouse), or after the night that
    learned of it when that was past the deadline (逾期撤下), expired ones ended."""
    truth = Truth(quarter_county.truth)
    rows = _publicity(quarter_county.url, "dishonesty")
    with psycopg.connect(quarter_county.url) as conn:
        barred = dict(
            conn.execute(
                "select decision_doc_no, early_end_barred from marts.fct_dishonesty_records"
            ).fetchall()
        )
    in_principle = _in_principle()
    mismatches, statuses, learned_late = [], set(), 0
    for record in truth.records:
        life = truth.clean_life(record["decision_doc_no"])
        if life is None:  # a follow-up was quarantined: the warehouse rightly lacks it
            continue
        row = rows[record["decision_doc_no"]]
        reason, day = _expected_exit(record, life, barred[record["decision_doc_no"]])
        expected: dict = {"is_listed": False, "withdrawal_reason_code": None}
        if not in_principle[record["severity_code"]]:
            expected["publicity_status_code"] = "not_published"
        elif reason is None:
            expected |= {"publicity_status_code": "published", "is_listed": True}
        elif reason == "expiry":
            expected["publicity_status_code"] = "ended"
        else:
            deadline = add_working_days(date.fromisoformat(day), 3)
            # A repair or a revocation is learned the night its row was landed: for the quarter's
            # backlog, the county's one night (LAST_DAY); a correction on its day.
            known = date.fromisoformat(day)
            if reason != "correction":
                known = max(known, LAST_DAY)
            late = known > deadline
            until = add_working_days(known, 3) if late else deadline
            expected |= {
                "publicity_status_code": "withdrawn",
                "withdrawal_reason_code": reason,
                "withdrawal_date": day,
                "withdrawal_deadline": deadline.isoformat(),
                "withdrawal_pending": until >= LAST_DAY,
                "withdrawal_known_date": known.isoformat(),
                "withdrawal_late": late,
            }
        got = {
            key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in row.items()
            if key in expected
        }
        if got != expected:
            mismatches.append((record["decision_doc_no"], expected, got))
        statuses.add((expected["publicity_status_code"], expected.get("withdrawal_pending")))
        learned_late += bool(expected.get("withdrawal_late"))
    assert not mismatches, f"{len(mismatches)} records differ, e.g. {mismatches[:3]}"
    # The first night learned the quarter's earlier withdrawals after their deadlines.
    assert learned_late > 0
    # The county has every case: listed, minor, withdrawn. Every withdrawal is still pending: the
    # county's one night learned the quarter's, late or not, three working days or less before
    # (a passed deadline is the unit test's, test_publicity_status_on_the_as_of_date).
    assert {("published", None), ("not_published", None), ("withdrawn", True)} <= statuses, statuses


def test_penalties_and_permits_follow_what_the_departments_sent(quarter_county) -> None:
    """The simulated departments send each penalty's 公示截止期, the maximum of its tier: 3
    months for 警告 and 通报批评 (minor), 36 for a serious one (吊销许可证件 and the like, a fine of
    10万元 or more), 12 for the others; and revoke some permits and penalties. Warnings and
    criticism are never listed, the others until the date sent, held within their tier (a fine
    corrected below the threshold is general again: 12 months at most), revoked ones are
    withdrawn from the day the revocation came."""
    penalties = _publicity(quarter_county.url, "penalty")
    permits = _publicity(quarter_county.url, "permit")
    with psycopg.connect(quarter_county.url) as conn, conn.cursor(row_factory=dict_row) as cur:
        sent = {
            row["penalty_doc_no"]: row
            for row in cur.execute(
                "select penalty_doc_no, penalty_category, fine_amount, publicity_until,"
                " change_type_code,"
                " (updated_at at time zone 'Asia/Shanghai')::date as known_date"
                " from staging.stg_raw__penalties where is_latest and decision_date <= %s"
                " and updated_at < (%s::date + 1)::timestamp at time zone 'Asia/Shanghai'",
                (LAST_DAY, LAST_DAY),
            )
        }
        revoked_permits = {
            doc_no
            for (doc_no,) in conn.execute(
                "select permit_doc_no from staging.stg_raw__permits"
                " where is_latest and change_type_code = 'revoke'"
            )
        }
    assert set(penalties) == set(sent)
    kinds = set()
    for doc_no, row in penalties.items():
        source = sent[doc_no]
        tier = _penalty_tier(source["penalty_category"], source["fine_amount"])
        assert row["severity_code"] == tier, row
        if tier == "minor":
            assert row["publicity_status_code"] == "not_published", row
            kinds.add("minor")
        elif source["change_type_code"] == "revoke":
            assert row["publicity_status_code"] == "withdrawn", row
            assert row["withdrawal_date"] == source["known_date"]
            assert row["withdrawal_deadline"] == add_working_days(source["known_date"], 3)
            kinds.add("revoked")
        else:
            # A row sent without its optional 公示截止期, or beyond its tier, gets the tier's
            # maximum: 36 months for a serious penalty, 12 for a general one.
            maximum = add_months(row["decision_date"], 36 if tier == "serious" else 12)
            sent_until = source["publicity_until"]
            until = min(sent_until, maximum) if sent_until else maximum
            assert row["publicity_end"] == until, row
            assert row["publicity_end_basis"] == (
                "source" if sent_until and sent_until <= maximum else "rule_maximum"
            )
            assert row["is_listed"] == (row["publicity_end"] > LAST_DAY), row
            kinds.add(f"listed {tier}")
    assert kinds == {"minor", "revoked", "listed general", "listed serious"}
    # Serious penalties are published for longer than any general one can be.
    assert any(
        row["severity_code"] == "serious"
        and row["publicity_end"] > add_months(row["decision_date"], 12)
        for row in penalties.values()
    )
    assert revoked_permits
    assert all(permits[doc]["publicity_status_code"] == "withdrawn" for doc in revoked_permits)
    assert any(row["is_listed"] for row in permits.values())


def _csv(export, table: str) -> list[dict[str, str]] | None:
    """The rows of one of the export's CSV files (``listed``, ``changes``), None when absent."""
    found = [f for f in export.files if f.path.endswith(f"_{table}.csv")]
    if not found:
        return None
    with (export.folder / found[0].path).open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_the_daily_publicity_list(quarter_county) -> None:
    """The first export gives the credit office's portal the whole list (a CSV file) and, as the
    day's changes, every record of it new; the list holds exactly what the mart lists, its
    workbook the withdrawals by their deadline and the count, naming both files; natural persons
    appear by masked name only, with no identifier, and no ID number of the county's people is
    in any file; re-exporting gives the same bytes."""
    export = export_daily_publicity()
    assert export.folder.parent == period_folder("daily_publicity", LAST_DAY.isoformat())
    assert export.folder.name == f"v{export.version}"
    assert export.period == LAST_DAY.isoformat()
    [workbook] = sorted(export.folder.rglob("*.xlsx"))
    assert workbook.name == f"publicity_{LAST_DAY.isoformat()}_credit_office.xlsx"
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["撤下清单", "按类别汇总"]
    listed_csv = workbook.with_name(f"{workbook.stem}_listed.csv")
    changes_csv = workbook.with_name(f"{workbook.stem}_changes.csv")
    assert changes_csv.name in book["按类别汇总"]["A3"].value
    assert listed_csv.name in book["按类别汇总"]["A4"].value
    rows = {Path(f.path).name: f.rows for f in export.files}
    assert set(rows[workbook.name]) == {"撤下清单", "按类别汇总"}
    with psycopg.connect(quarter_county.url) as conn, conn.cursor(row_factory=dict_row) as cur:
        listed = {
            row["publicity_record_id"]: row
            for row in cur.execute("select * from marts.fct_publicity_records where is_listed")
        }
        pending = {
            row["publicity_record_id"]: row
            for row in cur.execute(
                "select * from marts.fct_publicity_records where withdrawal_pending"
            )
        }
        logged = cur.execute(
            "select row_count from audit.exports where kind = 'daily_publicity'"
            " order by export_id desc limit 1"
        ).fetchone()["row_count"]
    body = _csv(export, "listed")
    assert rows[listed_csv.name] == {"公示清单": len(listed)}
    assert rows[changes_csv.name] == {"公示清单变更": len(listed)}
    changes = _csv(export, "changes")
    assert {row["变更"] for row in changes} == {"新增"}
    assert sorted(row["公示编号"] for row in changes) == sorted(listed)
    kinds = {row["record_kind"] for row in (*listed.values(), *pending.values())}
    assert logged == 2 * len(listed) + len(pending) + len(kinds)
    assert [row["公示编号"] for row in body] == sorted(
        listed,
        key=lambda i: (KIND_ORDER[listed[i]["record_kind"]], listed[i]["decision_date"], i),
    )
    persons = [
        row for row in body if listed[row["公示编号"]]["subject_type_code"] == "natural_person"
    ]
    assert persons
    for row in persons:
        name = listed[row["公示编号"]]["subject_name"]
        assert row["主体名称"] == name and set(name[1:]) == {"*"}, row
        assert row["统一社会信用代码"] == "", row
    withdrawals = book["撤下清单"]
    header_row = int("".join(ch for ch in withdrawals.freeze_panes if ch.isdigit())) - 1
    assert withdrawals.max_row - header_row == len(pending) > 0
    text = "".join(
        path.read_text(encoding="utf-8-sig") for path in sorted(export.folder.rglob("*.csv"))
    )
    with (quarter_county.truth / "persons.csv").open(encoding="utf-8") as f:
        assert not [p["id_number"] for p in csv.DictReader(f) if p["id_number"] in text]
    assert export_daily_publicity().content_sha256 == export.content_sha256


def _listings(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select publicity_record_id, listed_from, listed_until, row_md5"
            " from audit.publicity_listings order by 1, 2"
        ).fetchall()


def test_the_portal_gets_the_days_changes(quarter_county, monkeypatch) -> None:
    """After the first export the portal gets what differs from the list it was given: records
    it was not given (新增), given with other cells (更新), given and no longer listed (撤下: one
    withdrawn, with its cells; one that is no more, with its id alone); a record taken off
    before stays off. The whole list goes only on its weekday or when asked. What the portal was
    given (audit.publicity_listings) becomes today's list; the same export again gives the same
    bytes; a day before one already exported gets the whole list alone and changes no listing."""
    saved = _listings(quarter_county.url)
    try:
        full = _csv(export_daily_publicity(), "listed")
        cells = {row["公示编号"]: row for row in full}
        ids = sorted(cells)
        added, changed, kept = ids[:3], ids[3:5], ids[5:]
        yesterday = LAST_DAY - timedelta(days=1)
        with psycopg.connect(quarter_county.url) as conn:
            (withdrawn,) = conn.execute(
                "select publicity_record_id from marts.fct_publicity_records"
                " where withdrawal_pending order by 1 limit 1"
            ).fetchone()
            # As if the list had been given the day before, but for these records.
            conn.execute(
                "update audit.publicity_listings set listed_from = %s where listed_from = %s",
                (yesterday, LAST_DAY),
            )
            conn.execute(
                "delete from audit.publicity_listings where publicity_record_id = any(%s)",
                (added,),
            )
            conn.execute(
                "update audit.publicity_listings set row_md5 = 'stale'"
                " where publicity_record_id = any(%s)",
                (changed,),
            )
            conn.cursor().executemany(
                "insert into audit.publicity_listings values (%s, %s, %s, 'x')",
                [
                    (withdrawn, yesterday, None),
                    ("permit:gone|none", yesterday, None),
                    ("permit:old|off", LAST_DAY - timedelta(days=30), yesterday),
                ],
            )
        assert LAST_DAY.isoweekday() != 7  # not the whole list's weekday
        second = export_daily_publicity()
        got = {row["公示编号"]: row for row in _csv(second, "changes")}
        assert {record: row["变更"] for record, row in got.items()} == {
            **dict.fromkeys(added, "新增"),
            **dict.fromkeys(changed, "更新"),
            withdrawn: "撤下",
            "permit:gone|none": "撤下",
        }
        for record in added + changed:
            assert {k: v for k, v in got[record].items() if k != "变更"} == cells[record]
        assert got[withdrawn]["信息类别"] and got[withdrawn]["决定文书号"]
        assert set(got["permit:gone|none"].values()) == {"撤下", "permit:gone|none", ""}
        assert _csv(second, "listed") is None
        given = _listings(quarter_county.url)
        assert sorted(r[0] for r in given if r[2] is None) == ids
        assert {r[0]: r[1] for r in given if r[2] is None} == {
            **dict.fromkeys(kept, yesterday),
            **dict.fromkeys(added + changed, LAST_DAY),
        }
        assert sorted(r[0] for r in given if r[2] == LAST_DAY) == sorted(
            [*changed, withdrawn, "permit:gone|none"]
        )
        assert export_daily_publicity().content_sha256 == second.content_sha256
        assert _listings(quarter_county.url) == given
        asked = export_daily_publicity(full=True)
        assert _csv(asked, "listed") == full
        assert _csv(asked, "changes") == _csv(second, "changes")
        monkeypatch.setattr(
            "credit.exports.publicity.export_settings",
            lambda: {"daily_publicity": {"full_list_weekday": LAST_DAY.isoweekday()}},
        )
        assert export_daily_publicity().content_sha256 == asked.content_sha256
        monkeypatch.undo()
        with psycopg.connect(quarter_county.url) as conn:
            conn.execute(
                "insert into audit.publicity_listings values ('permit:later|x', %s, null, 'x')",
                (LAST_DAY + timedelta(days=1),),
            )
        later = _listings(quarter_county.url)
        alone = export_daily_publicity()
        assert _csv(alone, "changes") is None and _csv(alone, "listed") == full
        assert _listings(quarter_county.url) == later
    finally:
        with psycopg.connect(quarter_county.url) as conn:
            conn.execute("delete from audit.publicity_listings")
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into audit.publicity_listings values (%s, %s, %s, %s)", saved
                )


def test_a_withdrawal_learned_late_is_on_the_list_flagged(tmp_path, monkeypatch) -> None:
    """A repair the warehouse learned of after its withdrawal deadline (the mart's rule, in the
    unit test test_publicity_withdrawal_deadlines) is on the day's 撤下清单 all the
    same, first, flagged 逾期撤下, with the day it was learned."""
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    day = date(2026, 5, 6)
    base = {
        "as_of_date": day,
        "record_kind": "dishonesty",
        "record_kind_zh": "失信行为认定",
        "dept_name": "市卫生健康委",
        "subject_name": "甲公司",
        "subject_identifier": "91320281MA1XXXXXXX",
        "category": "严重",
        "content": "虚假申报",
        "decision_date": date(2025, 3, 1),
        "publicity_start": date(2025, 3, 1),
        "publicity_end": date(2028, 3, 1),
        "under_objection": False,
        "is_listed": False,
        "withdrawal_pending": True,
        "withdrawal_reason_code": "repair",
    }
    rows = [
        base
        | {
            "publicity_record_id": "dishonesty:health|D",
            "doc_no": "D",
            "withdrawal_date": date(2026, 4, 30),
            "withdrawal_deadline": date(2026, 5, 8),
            "withdrawal_known_date": date(2026, 4, 30),
            "withdrawal_late": False,
        },
        base
        | {
            "publicity_record_id": "dishonesty:health|J",
            "doc_no": "J",
            "withdrawal_date": date(2026, 4, 20),
            "withdrawal_deadline": date(2026, 4, 23),
            "withdrawal_known_date": day,
            "withdrawal_late": True,
        },
    ]
    counts = [
        {"record_kind": "dishonesty", "record_kind_zh": "失信行为认定", "listed": 0, "pending": 2}
    ]
    export = write_daily_publicity(day, rows, [], None, counts)
    [workbook] = sorted(export.folder.rglob("*.xlsx"))
    sheet = openpyxl.load_workbook(workbook)["撤下清单"]
    header_row = int("".join(ch for ch in sheet.freeze_panes if ch.isdigit())) - 1
    header = [cell.value for cell in sheet[header_row]]
    body = [
        dict(zip(header, values, strict=True))
        for values in sheet.iter_rows(min_row=header_row + 1, values_only=True)
    ]
    assert [(row["公示编号"], row["逾期撤下"]) for row in body] == [
        ("dishonesty:health|J", "是"),
        ("dishonesty:health|D", "否"),
    ]
    assert body[0]["获知日期"].date() == day
    assert "其中逾期撤下 1 条" in sheet["A2"].value


PUBLICITY_MARTS = ("fct_publicity_periods", "fct_publicity_records")


def _build_publicity(day: date) -> None:
    """The publicity marts and what they are built from, as of ``day``, and every view: a table
    rebuilt drops the views on it (dbt drops the old table with ``cascade``), which the shared
    county's other tests read."""
    as_of = json.dumps({"as_of_date": day.isoformat()})
    selected = ["+fct_publicity_records", "config.materialized:view"]
    run_dbt(["run", "--select", *selected, "--vars", as_of])


def test_the_periods_follow_the_as_of_date_back_and_forth(quarter_county) -> None:
    """The periods are incremental by the versions staged and the as-of night. Built as of a day
    before the county's one night, they know no record, as a full build of that day; built as of
    the night again, they are what they were (the records landed after the earlier as-of night
    written again)."""
    before = mart_digests(quarter_county.url, PUBLICITY_MARTS)
    assert before["fct_publicity_periods"][0] > 0
    try:
        _build_publicity(LAST_DAY - timedelta(days=7))
        earlier = mart_digests(quarter_county.url, PUBLICITY_MARTS)
        assert earlier["fct_publicity_periods"][0] == earlier["fct_publicity_records"][0] == 0
    finally:
        _build_publicity(LAST_DAY)
    assert mart_digests(quarter_county.url, PUBLICITY_MARTS) == before


def test_changed_withdrawal_days_move_every_deadline(quarter_county, tmp_path) -> None:
    """A rule behind the periods changed in its seed (5 working days to withdraw a record, not
    3): the next build writes every record again, each withdrawal's deadline 5 working days
    after its change; the rule restored, the periods are what they were."""
    url = quarter_county.url
    before = mart_digests(url, PUBLICITY_MARTS)
    project = project_with_rules(
        tmp_path, {"publicity_record_kinds": lambda kind: kind.update(withdrawal_working_days="5")}
    )
    selected = ["--select", "fct_publicity_periods+"]
    selected += ["--vars", json.dumps({"as_of_date": LAST_DAY.isoformat()})]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
            run_dbt(["seed", "--select", "publicity_record_kinds"])
            run_dbt(["run", *selected])
        with psycopg.connect(url) as conn:
            withdrawals = conn.execute(
                "select withdrawal_date, withdrawal_deadline from marts.fct_publicity_periods"
                " where withdrawal_date is not null"
            ).fetchall()
        assert withdrawals
        assert all(deadline == add_working_days(day, 5) for day, deadline in withdrawals)
    finally:
        run_dbt(["seed", "--select", "publicity_record_kinds"])
        run_dbt(["run", *selected])
    assert mart_digests(url, PUBLICITY_MARTS) == before
