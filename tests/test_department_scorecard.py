"""The quarterly department scorecard (部门考核) and the summary report (季度总结报告) on the shared
quarter county: the marts against the simulator's truth (quarantined rows, interviews, the
Attachment 2 schedule), the score against its seed, and the export's sheet and Word document.

The county caught up in one night (logical date 2026-04-08): its collection is 2026Q2's, its
dishonesty records' deadlines and interviews mostly 2026Q1's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from decimal import Decimal

import docx
import openpyxl
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from county_sim.progress import report_day
from county_sim.settings import simulator_config
from credit.exports.quarterly import export_quarterly_statistics
from credit.sources import sources
from tests.county import QUARTER_LAST_DAY, source_ref
from tests.test_dbt_lifecycle import Truth, _truth
from tests.test_exports import _body

Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
# Lower-case words or underscores: an internal code where a person reads Chinese.
CODE = re.compile(r"[a-z]{2,}|_")


def _rows(url: str, sql: str, *params) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def _items(url: str, quarter: str, indicator: str) -> dict[str, dict]:
    return {
        row["dept_code"]: row
        for row in _rows(
            url,
            "select * from marts.rpt_department_scorecard_items"
            " where quarter_label = %s and indicator_code = %s",
            quarter,
            indicator,
        )
    }


def _quarantined_defects(county) -> Counter[str]:
    """The defects the truth lists per department that validation rejects on the catch-up night:
    all but a date set in the future of its day that the night (later) has reached."""
    kept: Counter[str] = Counter()
    with psycopg.connect(county.url) as conn:
        for line in _truth(county.truth, "defects"):
            if line["defect"] == "future_date":
                (value,) = conn.execute(
                    sql.SQL("select {} from raw.{} where dept_code = %s and source_ref = %s")
                    .format(sql.Identifier(line["column"]), sql.Identifier(line["record_kind"]))
                    .as_string(conn),
                    (line["dept_code"], source_ref(line["source_row"])),
                ).fetchone()
                if dt.date.fromisoformat(value) <= QUARTER_LAST_DAY:
                    continue
            kept[line["dept_code"]] += 1
    return kept


def test_quarantined_rows_and_collection_nights_match_the_truth(quarter_county) -> None:
    defects = _quarantined_defects(quarter_county)
    accepted = _items(quarter_county.url, "2026Q2", "accepted_share")
    assert set(accepted) == set(sources())
    for dept_code, item in accepted.items():
        quarantined = item["denominator"] - item["numerator"]
        assert quarantined == defects[dept_code], dept_code
        assert item["rate"] == pytest.approx(1 - defects[dept_code] / item["denominator"])
    assert sum(defects.values()) > 0, "the county injected defects"
    # One night, read from every system without a failure.
    for indicator in ("collection_timeliness", "collection_completeness"):
        items = _items(quarter_county.url, "2026Q2", indicator)
        assert {item["denominator"] for item in items.values()} == {1}, indicator
    timely = _items(quarter_county.url, "2026Q2", "collection_timeliness")
    assert {item["numerator"] for item in timely.values()} == {1}
    # 2026Q1 had no night of the warehouse: nothing to measure, no rate.
    for indicator in ("collection_timeliness", "accepted_share"):
        q1 = _items(quarter_county.url, "2026Q1", indicator)
        assert {(item["denominator"], item["rate"]) for item in q1.values()} == {(0, None)}


def test_interviews_held_on_time_match_the_truth(quarter_county) -> None:
    """Per department, the interviews due in 2026Q1 (deadline + the days interview_rules allows)
    and those held by then, as the simulator made them; records the truth cannot tell (a
    follow-up or the original row quarantined, so the warehouse rightly knows less) are counted
    as the warehouse knows them."""
    url = quarter_county.url
    truth = Truth(quarter_county.truth)
    allowed = {
        row["severity_code"]: row["days_allowed"]
        for row in _rows(url, "select * from rules.interview_rules")
    }
    due: Counter[str] = Counter()
    held: Counter[str] = Counter()
    clean = []
    for record in truth.records:
        life = truth.clean_life(record["decision_doc_no"])
        if life is None:
            continue
        clean.append(record["decision_doc_no"])
        deadline = dt.date.fromisoformat(record["rectification_deadline"])
        due_date = deadline + dt.timedelta(days=allowed[record["severity_code"]])
        # Rectified or revoked (an objection's outcome) by the deadline: no interview is due.
        revoked = life.get("revoked", "9999") <= deadline.isoformat()
        if "rectified_in_time" in life or revoked or not Q1[0] <= due_date <= Q1[1]:
            continue
        due[record["dept_code"]] += 1
        interview = life.get("warning_interview") or life.get("reminder_interview")
        if interview and dt.date.fromisoformat(interview) <= due_date:
            held[record["dept_code"]] += 1
    for row in _rows(
        url,
        "select dept_code,"
        " coalesce(reminder_interview_due_date, warning_interview_due_date) as due,"
        " coalesce(reminder_interview_date, warning_interview_date) as held"
        " from marts.fct_dishonesty_records where not decision_doc_no = any(%s)",
        clean,
    ):
        if row["due"] and Q1[0] <= row["due"] <= Q1[1]:
            due[row["dept_code"]] += 1
            held[row["dept_code"]] += bool(row["held"] and row["held"] <= row["due"])
    assert sum(due.values()) > 0 and 0 < sum(held.values()) < sum(due.values())
    items = _items(url, "2026Q1", "interviews_on_time")
    assert {d: i["denominator"] for d, i in items.items() if i["denominator"]} == dict(due)
    assert {d: i["numerator"] for d, i in items.items() if i["numerator"]} == dict(held)


def test_attachment_2_on_the_simulators_schedule_is_on_time(quarter_county) -> None:
    url = quarter_county.url
    nth = int(simulator_config()["lifecycle"]["quarterly_report_working_day"])
    sent_on = report_day(2026, 4, nth)
    (threshold,) = _rows(
        url,
        "select threshold_days from rules.department_scorecard_indicators"
        " where indicator_code = 'progress_on_time'",
    )
    assert sent_on <= Q1[1] + dt.timedelta(days=threshold["threshold_days"])
    reported = {
        row["dept_code"]
        for row in _rows(url, "select distinct dept_code from marts.rpt_progress_reports")
    }
    assert reported, "the departments sent Attachment 2"
    items = _items(url, "2026Q1", "progress_on_time")
    for dept_code, item in items.items():
        if dept_code in reported:
            assert (item["numerator"], item["denominator"]) == (1, 1), dept_code
        else:  # its deadline (10 days after the quarter) is after the county's last day
            assert Q1[1] + dt.timedelta(days=threshold["threshold_days"]) > QUARTER_LAST_DAY
            assert item["denominator"] == 0, dept_code


def test_warnings_counted_for_their_responsible_department(quarter_county) -> None:
    url = quarter_county.url
    raised = {
        row["responsible_dept_code"]: row
        for row in _rows(
            url,
            "select responsible_dept_code, count(*) as raised, count(closed_date) as closed"
            " from marts.fct_warnings where raised_date between '2026-04-01' and '2026-06-30'"
            " group by 1",
        )
    }
    assert raised, "the county raised warnings"
    items = _items(url, "2026Q2", "warnings_closed")
    for dept_code, item in items.items():
        expected = raised.get(dept_code, {"raised": 0, "closed": 0})
        assert (item["denominator"], item["numerator"]) == (
            expected["raised"],
            expected["closed"],
        ), dept_code


def test_score_and_band_follow_the_seeds(quarter_county) -> None:
    url = quarter_county.url
    bands = _rows(url, "select * from rules.department_scorecard_grades order by min_score desc")
    cards = _rows(url, "select * from marts.rpt_department_scorecard")
    items = _rows(url, "select * from marts.rpt_department_scorecard_items")
    assert len(cards) == 4 * len(sources())  # every department, every quarter of the window
    for card in cards:
        mine = [
            i
            for i in items
            if (i["quarter_label"], i["dept_code"]) == (card["quarter_label"], card["dept_code"])
            and i["rate"] is not None
        ]
        if not mine:
            assert card["score"] is None and card["grade_code"] is None
            continue
        score = Decimal(100) * sum(i["points"] for i in mine) / sum(i["weight"] for i in mine)
        assert abs(card["score"] - score) <= Decimal("0.06"), card
        band = next(b for b in bands if card["score"] >= b["min_score"])
        assert (card["grade_code"], card["grade_zh"]) == (band["grade_code"], band["grade_zh"])
    q1 = sorted(
        (c for c in cards if c["quarter_label"] == "2026Q1" and c["score"] is not None),
        key=lambda c: c["score_rank"],
    )
    assert q1 and q1[0]["score_rank"] == 1
    assert [c["score"] for c in q1] == sorted((c["score"] for c in q1), reverse=True)


def test_quarterly_export_has_the_scorecard_and_the_summary_report(quarter_county) -> None:
    url = quarter_county.url
    export = export_quarterly_statistics("2026Q1")
    office = export.folder / "credit_office"
    book = openpyxl.load_workbook(office / "statistics_2026Q1_credit_office.xlsx")
    sheet = book["部门考核"]
    assert sheet._charts, "the scorecard has its chart"
    rows = _body(sheet)
    cards = {
        c["dept_name"]: c
        for c in _rows(
            url, "select * from marts.rpt_department_scorecard where quarter_label = '2026Q1'"
        )
    }
    assert len(rows) == len(cards) == len(sources())
    for row in rows:
        card = cards[row["部门"]]
        assert row["排名"] == card["score_rank"]
        assert row["综合得分"] == (None if card["score"] is None else float(card["score"]))
        assert row["考核等次"] == card["grade_zh"]
    headers = [cell.value for cell in sheet[3]]
    assert "约谈按时率（15分）" in headers and "附件2按时报送（15分）" in headers

    manifest = json.loads((export.folder / "manifest.json").read_text(encoding="utf-8"))
    summary = office / "summary_2026Q1_credit_office.docx"
    listed = {item["path"]: item for item in manifest["files"]}
    entry = listed["credit_office/summary_2026Q1_credit_office.docx"]
    assert entry["sha256"] == hashlib.sha256(summary.read_bytes()).hexdigest()
    assert entry["rows"] == {"部门考核": len(sources())}

    first = summary.read_bytes()
    document = docx.Document(str(summary))
    text = "\n".join(p.text for p in document.paragraphs)
    assert document.paragraphs[0].text == "江阴市“行业+信用”监管2026年第一季度工作总结报告"
    closing, subjects, inflow, previous_inflow = _rows(
        url,
        "select (select stock_end from marts.fct_dishonesty_metrics where grain = 'quarter'"
        "   and period_start = '2026-01-01' and dimension = 'all' and unit = 'records') as a,"
        " (select stock_end from marts.fct_dishonesty_metrics where grain = 'quarter'"
        "   and period_start = '2026-01-01' and dimension = 'all' and unit = 'subjects') as b,"
        " (select inflow from marts.fct_dishonesty_metrics where grain = 'quarter'"
        "   and period_start = '2026-01-01' and dimension = 'all' and unit = 'records') as c,"
        " (select inflow from marts.fct_dishonesty_metrics where grain = 'quarter'"
        "   and period_start = '2025-10-01' and dimension = 'all' and unit = 'records') as d",
    )[0].values()
    assert closing > 0 and inflow > 0
    assert f"季度末全市有效失信记录{closing}条，涉及失信主体{subjects}户" in text
    assert f"本季度新增失信记录{inflow}条，较上季度增加{inflow - previous_inflow}条" in text
    leader = min(
        (c for c in cards.values() if c["score"] is not None), key=lambda c: c["score_rank"]
    )
    assert f"得分居前的部门：{leader['dept_name']}（{leader['score']}分）" in text
    grades = _rows(
        url,
        "select sum(subjects) as n from marts.rpt_grades_by_domain where quarter_label = '2026Q1'",
    )[0]
    assert f"季度末参与信用评价的主体{grades['n']}户" in text
    table = document.tables[0]
    assert [cell.text for cell in table.rows[0].cells] == ["排名", "部门", "综合得分", "考核等次"]
    assert len(table.rows) == len(sources()) + 1
    every_text = [text, *(cell.text for row in table.rows for cell in row.cells)]
    assert [t for t in every_text if CODE.search(t)] == []

    again = export_quarterly_statistics("2026Q1")
    assert (again.folder / "credit_office" / summary.name).read_bytes() == first
