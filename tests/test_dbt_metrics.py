"""Dishonesty stock, inflow and exit (失信存量、增量、退出) in dbt against the simulator's truth.

The session's quarter county (tests/county.py) is built as of its last day; every day of the
quarter is recounted here from the truth's records and their clean follow-ups, independently of
the warehouse's SQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import psycopg

from tests.county import QUARTER_FIRST_DAY, QUARTER_LAST_DAY
from tests.test_dbt_lifecycle import Truth, _expected_exit, _records

FLOWS = ("inflow", "exit_total", "exit_repair", "exit_expiry", "exit_revocation", "stock_end")


def _days() -> list[date]:
    span = (QUARTER_LAST_DAY - QUARTER_FIRST_DAY).days
    return [QUARTER_FIRST_DAY + timedelta(days=n) for n in range(span + 1)]


def _metrics(url: str, unit: str, dimensions: tuple[str, ...]) -> dict[tuple, dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "select * from marts.fct_dishonesty_metrics"
            " where grain = 'day' and unit = %s and dimension = any(%s)",
            (unit, list(dimensions)),
        )
        return {(r["period_start"], r["dimension"], r["dimension_value"]): r for r in cur}


def _truth_intervals(county) -> list[dict]:
    """Each record's interval in the stock: identified on its decision date, out on its exit
    (revocation, repair, expiry) as the truth tells it. A record whose row or follow-up the
    simulator marked defective takes the warehouse's values when the warehouse holds it (a
    later clean version was accepted, or the defect was one ingestion repairs): the truth
    cannot say what the pipeline rightly made of it."""
    truth = Truth(county.truth)
    facts = _records(county.url)
    with psycopg.connect(county.url) as conn:
        links = {
            row[0]
            for row in conn.execute(
                "select legacy_identifier from staging.stg_legacy_identifier_links"
            )
        }
    clean = {record["decision_doc_no"]: record for record in truth.records}
    intervals = []
    for doc, fact in facts.items():
        record = clean.get(doc)
        happened = truth.clean_life(doc) if record else None
        if happened is None:
            reason = fact["exit_reason"]
            day = fact["exit_date"].isoformat() if fact["exit_date"] else None
        else:
            reason, day = _expected_exit(record, happened, fact["early_end_barred"])
        if record is None:
            subject, start = fact["subject_key"], fact["decision_date"]
            department, severity = fact["dept_code"], fact["severity_code"]
        else:
            keys = truth.subject_keys(record, links)
            subject = fact["subject_key"] if fact["subject_key"] in keys else keys[0]
            start = date.fromisoformat(record["decision_date"])
            department, severity = record["dept_code"], record["severity_code"]
        intervals.append(
            {
                "subject": subject,
                "start": start,
                "end": date.fromisoformat(day) if day else None,
                "reason": "revocation" if reason == "correction" else reason,
                "all": "all",
                "department": department,
                "severity": severity,
            }
        )
    assert len(clean) > 0.95 * len(facts)
    return intervals


def test_record_flows_per_day_match_the_truth(quarter_county) -> None:
    intervals = _truth_intervals(quarter_county)
    dimensions = ("all", "department", "severity")
    expected: dict[tuple, Counter] = defaultdict(Counter)
    for interval in intervals:
        for dimension in dimensions:
            for day in _days():
                key = (day, dimension, interval[dimension])
                if interval["start"] == day:
                    expected[key]["inflow"] += 1
                if interval["end"] == day:
                    expected[key]["exit_total"] += 1
                    expected[key][f"exit_{interval['reason']}"] += 1
                if interval["start"] <= day and (interval["end"] is None or interval["end"] > day):
                    expected[key]["stock_end"] += 1
    got = _metrics(quarter_county.url, "records", dimensions)
    assert len(intervals) > 1000
    mismatches = []
    for key in set(expected) | {k for k in got if k[0] in set(_days())}:
        want = {flow: expected[key][flow] for flow in FLOWS}
        have = {flow: got[key][flow] for flow in FLOWS} if key in got else dict.fromkeys(FLOWS, 0)
        if want != have:
            mismatches.append((key, want, have))
    assert not mismatches, f"{len(mismatches)} slices differ, e.g. {sorted(mismatches)[:3]}"
    last = got[(QUARTER_LAST_DAY, "all", "all")]
    assert last["stock_end"] > 0 and sum(expected[k]["exit_repair"] for k in expected) > 0


def test_subject_stock_per_day_matches_the_truth(quarter_county) -> None:
    intervals = _truth_intervals(quarter_county)
    got = _metrics(quarter_county.url, "subjects", ("all",))
    for day in _days():
        holding = {
            i["subject"]
            for i in intervals
            if i["start"] <= day and (i["end"] is None or i["end"] > day)
        }
        assert got[(day, "all", "all")]["stock_end"] == len(holding), day


def test_stock_balances_on_every_slice_and_periods_add_up(quarter_county) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        unbalanced = conn.execute(
            "select count(*) from marts.fct_dishonesty_metrics"
            " where stock_end <> stock_start + inflow + transfer_in - exit_total - transfer_out"
            " or exit_total <> exit_repair + exit_expiry + exit_revocation"
        ).fetchone()[0]
        slices = conn.execute(
            "select count(distinct (dimension, dimension_value, unit)), count(distinct dimension)"
            " from marts.fct_dishonesty_metrics"
        ).fetchone()
        # A month's and a quarter's flows are the sums of their days; stocks are the days'.
        differing = conn.execute(
            """
            with days as (
                select * from marts.fct_dishonesty_metrics where grain = 'day'
            ),
            summed as (
                select
                    periods.metric_key,
                    sum(days.inflow) as inflow,
                    sum(days.transfer_in) as transfer_in,
                    sum(days.exit_total) as exit_total,
                    sum(days.exit_repair) as exit_repair,
                    sum(days.transfer_out) as transfer_out,
                    max(days.stock_end) filter (where days.period_start = periods.period_end)
                        as stock_end
                from marts.fct_dishonesty_metrics as periods
                join days
                  on days.dimension = periods.dimension
                 and days.dimension_value = periods.dimension_value
                 and days.unit = periods.unit
                 and days.period_start between periods.period_start and periods.period_end
                where periods.grain in ('month', 'quarter')
                group by periods.metric_key
            )
            select count(*)
            from marts.fct_dishonesty_metrics as periods
            join summed using (metric_key)
            where (
                    periods.inflow, periods.transfer_in, periods.exit_total,
                    periods.exit_repair, periods.transfer_out, periods.stock_end
                  ) is distinct from (
                    summed.inflow, summed.transfer_in, summed.exit_total,
                    summed.exit_repair, summed.transfer_out, summed.stock_end
                  )
            """
        ).fetchone()[0]
        # Grades change at month ends: the records of a subject whose grade moved change slices.
        moved = conn.execute(
            "select sum(transfer_in), sum(transfer_out) from marts.fct_dishonesty_metrics"
            " where grain = 'day' and dimension = 'grade' and unit = 'records'"
        ).fetchone()
    assert unbalanced == 0
    assert slices[1] == 7 and slices[0] > 100
    assert differing == 0
    assert moved[0] > 0 and moved[1] > 0
