"""Validation of landed batches: every injected defect is quarantined with its rule named."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from county_sim.defects import UNKNOWN_UNIT_CODE
from credit import identifiers
from credit.catalogue import RecordKind, record_kind, record_kinds
from credit.landing import Batch, SourceRow, land_batch
from credit.sources import sources
from credit.validation import (
    ReconciliationError,
    ValidationError,
    build_data_docs,
    install_validation_sql,
    runner,
    validate_batch,
    validate_batches,
)
from credit.validation import sql as validation_sql
from credit.validation.suites import generate_all, render, suite_path

LOGICAL_DATE = date(2026, 3, 2)
DEPT = "market_regulation"
ORGAN = sources()[DEPT].organ_uscc


@pytest.fixture(scope="module")
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        install_validation_sql(connection)
        yield connection


# Both ways of testing ISO texts (credit.validation.sql.iso_text_functions: by lists on most
# servers, by arithmetic on PostgreSQL 16), each in a schema of its own, so that every server
# tests both against the patterns.
ISO_IMPLEMENTATIONS = {"iso_by_lists": 150000, "iso_by_arithmetic": 160000}


@pytest.fixture(scope="module", params=sorted(ISO_IMPLEMENTATIONS))
def iso(conn: psycopg.Connection, request) -> str:
    schema = request.param
    conn.execute(f"create schema if not exists {schema}")
    conn.execute(validation_sql.iso_text_functions(ISO_IMPLEMENTATIONS[schema], schema))
    return schema


def resident_id(i: int) -> str:
    body = f"320281198{i % 10}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def valid_row(kind: RecordKind, i: int) -> dict[str, str | None]:
    """A clean source row of ``kind``: every column filled with a value its rules accept."""
    day = LOGICAL_DATE - timedelta(days=3)
    row: dict[str, str | None] = {}
    for column in kind.columns:
        if column.name in ("source_unit_code", "authority_code"):
            value = ORGAN
        elif column.identifier == "uscc":
            value = identifiers.make_uscc("91", "320281", f"{70000000 + i:08d}")
        elif column.identifier == "resident_id":
            value = resident_id(i)
        elif column.identifier == "registration_number":
            value = identifiers.make_registration_number("320281", f"{10000000 + i:08d}")
        elif column.type == "enum":
            value = column.values[0]
        elif column.type == "date":
            value = day.isoformat()
        elif column.type == "timestamp":
            value = f"{day.isoformat()}T10:{i % 60:02d}:00+08:00"
        elif column.type == "decimal":
            value = "12.50"
        elif column.type == "int":
            value = "2025"
        else:
            value = f"{column.name}-{i}"
        row[column.name] = value
    return row


def land(
    conn: psycopg.Connection,
    kind_name: str,
    n: int = 4,
    change: Callable[[list[SourceRow]], list[SourceRow]] | None = None,
    logical_date: date = LOGICAL_DATE,
) -> tuple[int, list[int]]:
    """Land ``n`` clean rows (optionally changed); returns the batch id and its raw row ids."""
    kind = record_kind(kind_name)
    rows = [SourceRow(f"test:{i}", valid_row(kind, i)) for i in range(n)]
    rows = change(rows) if change else rows
    with conn.transaction():
        batch_id = land_batch(
            conn,
            Batch(
                dept_code=DEPT,
                kind=kind,
                shape="exchange_db",
                logical_date=logical_date,
                source_ref="test",
                rows=rows,
                received_at=datetime(2026, 3, 3, 1, tzinfo=UTC),
            ),
        )
    ids = [
        r[0]
        for r in conn.execute(
            f"select raw_row_id from raw.{kind_name} where batch_id = %s order by raw_row_id",  # noqa: S608
            (batch_id,),
        )
    ]
    return batch_id, ids


def quarantined(conn: psycopg.Connection, batch_id: int) -> dict[int, list[dict]]:
    return dict(
        conn.execute(
            "select raw_row_id, reasons from quarantine.rejected_rows where batch_id = %s",
            (batch_id,),
        ).fetchall()
    )


def with_value(index: int, column: str, value: str | None, **lineage: str):
    def change(rows: list[SourceRow]) -> list[SourceRow]:
        old = rows[index]
        rows[index] = SourceRow(old.source_ref, {**old.values, column: value}, **lineage)
        return rows

    return change


def test_clean_batch_of_every_kind_is_accepted(conn: psycopg.Connection) -> None:
    for name in record_kinds():
        batch_id, _ = land(conn, name, n=3)
        outcome = validate_batch(conn, batch_id)
        assert (outcome.rows_read, outcome.accepted, outcome.quarantined) == (3, 3, 0), name


DEFECTS = [
    # (rule, column, value); the column's value in row 1 of a penalty batch is replaced.
    ("uscc_check", "uscc", identifiers.make_uscc("91", "320281", "70000001")[:-1] + "0"),
    ("resident_id_check", "legal_rep_id_number", resident_id(1)[:-1] + "5"),
    ("mandatory", "violation_type", None),
    ("mandatory", "violation_facts", " \u3000 "),
    ("required_if", "uscc", None),
    ("date_format", "decision_date", "2026/02/27"),
    ("date_format", "valid_until", "2026年02月27日"),
    ("date_format", "valid_until", "2026-02-30"),
    ("timestamp_format", "updated_at", "2026/02/27 10:00"),
    ("not_future", "decision_date", (LOGICAL_DATE + timedelta(days=30)).isoformat()),
    ("non_negative", "fine_amount", "-3.5"),
    ("decimal_format", "fine_amount", "3,5"),
    ("known_department", "source_unit_code", UNKNOWN_UNIT_CODE),
    ("known_department", "authority_code", UNKNOWN_UNIT_CODE),
    ("enum", "penalty_category", "未知"),
]


@pytest.mark.parametrize(("rule", "column", "value"), DEFECTS)
def test_each_defect_quarantines_exactly_its_row(
    conn: psycopg.Connection, rule: str, column: str, value: str | None
) -> None:
    if rule == "resident_id_check" and value == resident_id(1):
        pytest.skip("the mutated check digit happens to be right")
    batch_id, ids = land(conn, "penalty", change=with_value(1, column, value))
    outcome = validate_batch(conn, batch_id)
    rows = quarantined(conn, batch_id)
    assert set(rows) == {ids[1]}
    assert {"rule": rule, "column": column} in [
        {"rule": r["rule"], "column": r["column"]} for r in rows[ids[1]]
    ]
    assert outcome.quarantined == 1 and outcome.accepted == 3
    assert outcome.reasons[rule] == 1


def test_full_width_identifier_fails_only_normal_form(conn: psycopg.Connection) -> None:
    code = identifiers.make_uscc("91", "320281", "70000001")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    batch_id, ids = land(conn, "penalty", change=with_value(1, "uscc", full_width))
    validate_batch(conn, batch_id)
    reasons = quarantined(conn, batch_id)[ids[1]]
    assert [(r["rule"], r["column"]) for r in reasons] == [("identifier_normal_form", "uscc")]
    assert reasons[0]["expectation_type"] == "expect_column_values_to_match_regex"


def test_truncated_line_is_quarantined(conn: psycopg.Connection) -> None:
    def truncate(rows: list[SourceRow]) -> list[SourceRow]:
        values = {**rows[2].values, "remarks": None, "source_unit": None}
        rows[2] = SourceRow("f.csv:3", values, parse_problem="line ends after 20 of 28 fields")
        return rows

    batch_id, ids = land(conn, "penalty", change=truncate)
    validate_batch(conn, batch_id)
    rows = quarantined(conn, batch_id)
    assert set(rows) == {ids[2]}
    assert {r["rule"] for r in rows[ids[2]]} == {"parse_problem", "mandatory"}


def test_duplicates_flag_only_later_occurrences(conn: psycopg.Connection) -> None:
    def duplicate(rows: list[SourceRow]) -> list[SourceRow]:
        near = {**rows[1].values, "subject_name": f"{rows[1].values['subject_name']} "}
        correction = {**rows[2].values, "change_type": "更正", "updated_at": "2026-03-01T09:00:00"}
        return [*rows, rows[0], SourceRow("near", near), rows[0], SourceRow("fix", correction)]

    batch_id, ids = land(conn, "penalty", change=duplicate)
    outcome = validate_batch(conn, batch_id)
    rows = quarantined(conn, batch_id)
    assert set(rows) == {ids[4], ids[5], ids[6]}  # never the first entry, never the correction
    assert all(
        r
        == [
            {
                "rule": "duplicate",
                "column": "penalty_doc_no",
                "expectation_type": "unexpected_rows_count_expectation",
            }
        ]
        for r in rows.values()
    )
    assert outcome.rows_read == outcome.accepted + outcome.quarantined == 8


def test_more_failing_rows_than_gx_lists(conn: psycopg.Connection) -> None:
    """GX keeps 200 rows of a custom query; the rest must still be quarantined."""

    def break_all(rows: list[SourceRow]) -> list[SourceRow]:
        return [
            SourceRow(r.source_ref, {**r.values, "uscc": r.values["uscc"][:-1] + "I"}) for r in rows
        ]

    batch_id, ids = land(conn, "tax_credit", n=230, change=break_all)
    outcome = validate_batch(conn, batch_id)
    assert outcome.quarantined == 230 and outcome.reasons["uscc_check"] == 230
    assert set(quarantined(conn, batch_id)) == set(ids)


def test_revalidation_is_idempotent_and_reconciled(conn: psycopg.Connection) -> None:
    batch_id, _ = land(conn, "permit", n=6, change=with_value(0, "permit_category", "待定"))
    first = validate_batch(conn, batch_id)
    before = quarantined(conn, batch_id)
    second = validate_batch(conn, batch_id)
    assert quarantined(conn, batch_id) == before
    assert (first.accepted, first.quarantined) == (second.accepted, second.quarantined) == (5, 1)
    status, read, accepted, rejected = conn.execute(
        "select status, rows_read, rows_accepted, rows_quarantined from audit.batches"
        " where batch_id = %s",
        (batch_id,),
    ).fetchone()
    assert status == "validated" and read == accepted + rejected == 6


def test_mismatch_fails_loudly(conn: psycopg.Connection) -> None:
    batch_id, _ = land(conn, "permit", n=3)
    conn.execute("update audit.batches set rows_read = 4 where batch_id = %s", (batch_id,))
    with pytest.raises(ReconciliationError, match="does not reconcile"):
        validate_batch(conn, batch_id)
    status = conn.execute(
        "select status from audit.batches where batch_id = %s", (batch_id,)
    ).fetchone()[0]
    assert status == "failed"
    assert quarantined(conn, batch_id) == {}


def test_batch_checks_warn_without_failing(conn: psycopg.Connection) -> None:
    def stale(rows: list[SourceRow]) -> list[SourceRow]:
        return [
            SourceRow(
                r.source_ref,
                {**r.values, "updated_at": "2025-01-01T08:00:00+08:00", "remarks": None},
            )
            for r in rows
        ]

    batch_id, _ = land(conn, "inspection", n=3, change=stale)
    outcome = validate_batch(conn, batch_id, freshness_days=7)
    checks = dict(
        conn.execute(
            "select check_name, status from audit.batch_checks where batch_id = %s", (batch_id,)
        ).fetchall()
    )
    assert checks == {
        "freshness": "warning",
        "mandatory_columns_present": "passed",
    }
    assert outcome.quarantined == 0 and {w.name for w in outcome.warnings} == {"freshness"}


def _run_of(conn: psycopg.Connection, batch_id: int) -> int:
    """The GX run that last validated a batch."""
    return conn.execute(
        "select max(run_id) from audit.validation_runs where batch_ids @> array[%s::bigint]",
        (batch_id,),
    ).fetchone()[0]


def test_data_docs_are_built(conn: psycopg.Connection, data_dir) -> None:
    batch_id, _ = land(conn, "penalty", change=with_value(0, "fine_amount", "-1"))
    validate_batch(conn, batch_id)
    index = build_data_docs(conn, [batch_id])
    assert index == data_dir / "gx" / "data_docs" / "index.html"
    run_id = _run_of(conn, batch_id)
    (page,) = (index.parent / "validations" / "raw" / "penalty").rglob(f"run_{run_id}.html")
    text = page.read_text(encoding="utf-8")
    (failing,) = conn.execute(
        "select raw_row_id from quarantine.rejected_rows where batch_id = %s", (batch_id,)
    ).fetchone()
    assert "fine_amount" in text and f"{failing}" in text  # the failed rule and its row
    listing = index.read_text(encoding="utf-8")
    assert page.relative_to(index.parent).as_posix() in listing
    assert "ge-failed-icon" in listing  # the index marks the run failed
    assert list((index.parent / "expectations" / "raw").glob("*.html"))  # the suites' pages


def test_data_docs_render_again_only_what_was_validated_since(conn, data_dir) -> None:
    batch_id, _ = land(conn, "penalty", n=2)
    validate_batch(conn, batch_id)
    index = build_data_docs(conn, [batch_id])
    index.write_text("stale", encoding="utf-8")
    assert build_data_docs(conn, [batch_id]).read_text(encoding="utf-8") == "stale"
    validate_batch(conn, batch_id)  # validated again: a new run, rendered
    listing = build_data_docs(conn, [batch_id]).read_text(encoding="utf-8")
    assert f"run_{_run_of(conn, batch_id)}" in listing


def test_data_docs_show_one_page_per_run_with_its_batches(conn, tmp_path) -> None:
    """Batches validated together are one GX run and one page, with the run's own counts."""
    batch_ids = [land(conn, "permit", n=2)[0] for _ in range(2)]
    batch_ids.append(land(conn, "permit", n=2, change=with_value(1, "valid_from", "2026-13-01"))[0])
    validate_batches(conn, batch_ids)
    (run_id,) = {_run_of(conn, batch_id) for batch_id in batch_ids}
    index = build_data_docs(conn, batch_ids, site_dir=tmp_path)
    assert [p.name for p in (tmp_path / "validations").rglob("*.html")] == [f"run_{run_id}.html"]
    document = conn.execute(
        "select result from audit.validation_runs where run_id = %s", (run_id,)
    ).fetchone()[0]
    assert document["meta"]["batch_spec"]["batch_ids"] == batch_ids
    failed = [entry for entry in document["results"] if not entry["success"]]
    assert [entry["result"]["element_count"] for entry in failed] == [6]  # the run's rows
    assert [entry["result"]["unexpected_count"] for entry in failed] == [1]
    assert f"run_{run_id}" in index.read_text(encoding="utf-8")


def test_data_docs_with_nothing_new_do_not_import_gx(conn, warehouse_url) -> None:
    """A night with nothing new to render (the same night run again) never imports GX."""
    batch_id, _ = land(conn, "permit", n=1)
    validate_batch(conn, batch_id)
    build_data_docs(conn, [batch_id])
    code = (
        "import sys; from credit.validation import build_data_docs; "
        f"build_data_docs({warehouse_url!r}, [{batch_id}]); "
        "print('great_expectations' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def _state(conn: psycopg.Connection, batch_ids: list[int]) -> dict:
    """Everything validation wrote for the batches, without run-specific GX metadata."""
    results = {}
    for batch_id, document in conn.execute(
        "select batch_id, result from audit.validation_results where batch_id = any(%s)",
        (batch_ids,),
    ):
        document.pop("meta")
        for entry in document["results"]:
            entry["expectation_config"]["kwargs"].pop("batch_id")  # the GX asset, per run
        results[batch_id] = document

    def rows(query: str) -> list[tuple]:
        return conn.execute(query, (batch_ids,)).fetchall()

    return {
        "quarantine": rows(
            "select batch_id, raw_row_id, record_kind, dept_code, reasons"
            " from quarantine.rejected_rows where batch_id = any(%s) order by raw_row_id"
        ),
        "batches": rows(
            "select batch_id, status, rows_read, rows_accepted, rows_quarantined, message"
            " from audit.batches where batch_id = any(%s) order by batch_id"
        ),
        "checks": rows(
            "select batch_id, check_name, passed, status, observed, expected"
            " from audit.batch_checks where batch_id = any(%s) order by batch_id, check_name"
        ),
        "results": results,
    }


def _comparable(outcomes: list) -> list[tuple]:
    return [
        (o.batch_id, o.record_kind, o.rows_read, o.accepted, o.quarantined, o.reasons, o.checks)
        for o in outcomes
    ]


def test_batches_validated_together_as_one_by_one(conn: psycopg.Connection) -> None:
    """One GX run for several batches gives exactly what validating each alone gives."""
    earlier = LOGICAL_DATE - timedelta(days=10)
    decided = (LOGICAL_DATE - timedelta(days=5)).isoformat()  # after `earlier`, before LOGICAL_DATE

    def decided_before(day: date) -> Callable[[list[SourceRow]], list[SourceRow]]:
        def change(rows: list[SourceRow]) -> list[SourceRow]:
            return [
                SourceRow(r.source_ref, {**r.values, "decision_date": day.isoformat()})
                for r in rows
            ]

        return change

    def repeat_first(rows: list[SourceRow]) -> list[SourceRow]:
        return [*rows, rows[0]]  # a duplicate inside this batch: flagged

    def stale(rows: list[SourceRow]) -> list[SourceRow]:
        return [
            SourceRow(r.source_ref, {**r.values, "updated_at": "2025-01-01T08:00:00+08:00"})
            for r in rows
        ]

    # An earlier night's batch whose row 1 was decided after that night: in its future.
    first, first_ids = land(
        conn,
        "penalty",
        change=lambda rows: with_value(1, "decision_date", decided)(
            decided_before(earlier - timedelta(days=1))(rows)
        ),
        logical_date=earlier,
    )
    # The same four records again on LOGICAL_DATE: a duplicate pair split across two batches
    # (never flagged), and the same decision date, which is not in the future of this night.
    second, second_ids = land(
        conn,
        "penalty",
        change=lambda rows: repeat_first(with_value(1, "decision_date", decided)(rows)),
    )
    third, third_ids = land(conn, "penalty", n=3, change=with_value(2, "fine_amount", "-1"))
    empty, _ = land(conn, "penalty", n=0)
    fourth, _ = land(conn, "penalty", n=2, change=stale)
    batch_ids = [first, second, third, empty, fourth]

    together = validate_batches(conn, batch_ids)
    grouped = _state(conn, batch_ids)
    alone = [validate_batch(conn, batch_id) for batch_id in batch_ids]
    assert _state(conn, batch_ids) == grouped
    assert _comparable(together) == _comparable(alone)
    again = validate_batches(conn, reversed(batch_ids))  # idempotent, outcomes in given order
    assert _state(conn, batch_ids) == grouped
    assert _comparable(list(reversed(again))) == _comparable(together)

    assert set(quarantined(conn, first)) == {first_ids[1]}  # future for its own night
    assert set(quarantined(conn, second)) == {second_ids[4]}  # only the in-batch duplicate
    assert [r["rule"] for r in quarantined(conn, second)[second_ids[4]]] == ["duplicate"]
    assert set(quarantined(conn, third)) == {third_ids[2]}
    assert [o.quarantined for o in together] == [1, 1, 1, 0, 0]
    assert [o.reasons for o in together] == [
        {"not_future": 1},
        {"duplicate": 1},
        {"non_negative": 1},
        {},
        {},
    ]
    assert [{w.name for w in o.warnings} for o in together] == [
        set(),
        set(),
        set(),
        set(),
        {"freshness"},
    ]
    assert {status for _, status, *_ in grouped["batches"]} == {"validated"}
    statistics = {
        batch_id: document["statistics"]["unsuccessful_expectations"]
        for batch_id, document in grouped["results"].items()
    }
    assert statistics == {first: 1, second: 1, third: 1, empty: 0, fourth: 0}


# GX's own listing of every failing row, to check the sample of ids a stored result keeps.
COMPLETE = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["raw_row_id"],
    "partial_unexpected_count": 2**31 - 1,
    "exclude_unexpected_values": True,
}


def _gx_document(result, complete, stored_ids: int = 20) -> dict:
    """GX's own result of a one-batch run as stored: its counts, and the first ids of the rows
    each expectation failed, as GX's COMPLETE run of the same batch lists them."""
    document = result.to_json_dict()
    document.pop("meta")
    for entry, listed in zip(document["results"], complete.results, strict=True):
        entry["expectation_config"]["kwargs"].pop("batch_id")
        outcome, full = entry["result"], listed.result
        if "details" in full:
            ids = sorted(row["raw_row_id"] for row in full["details"]["unexpected_rows"])
            if ids:
                outcome["details"] = {"unexpected_rows": [{"raw_row_id": i} for i in ids[:20]]}
        elif full.get("unexpected_index_list"):
            ids = sorted(full["unexpected_index_list"][0]["raw_row_id"])
            outcome["partial_unexpected_index_list"] = [{"raw_row_id": ids[:stored_ids]}]
    return document


@pytest.mark.parametrize("rows", [0, 30])
def test_stored_result_is_what_gx_gives_for_the_batch_alone(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """The per-batch result cut from a group's run equals GX's own run on that batch, and the
    ids it keeps are those GX lists in a COMPLETE run."""

    def defects(rows: list[SourceRow]) -> list[SourceRow]:
        changed = []
        for i, r in enumerate(rows):
            values = dict(r.values)
            if i % 2:
                values["fine_amount"] = "-1"  # 15 unexpected of 30, more than 20 ids listed
            if i % 3 == 0:
                values["fine_amount"] = None  # missing: counts in missing_count, not unexpected
                values["uscc"] = values["uscc"][:-1] + "I"  # a custom query
            if i % 5 == 0:
                values["violation_type"] = " "
            changed.append(SourceRow(r.source_ref, values))
        return changed

    batch_id, _ = land(conn, "penalty", n=rows, change=defects)
    results = []
    run_suite = runner._run_suite
    monkeypatch.setattr(
        runner, "_run_suite", lambda *args: results.append(run_suite(*args)) or results[-1]
    )
    validate_batch(conn, batch_id)
    stored = _state(conn, [batch_id])["results"][batch_id]
    monkeypatch.setattr(runner, "RESULT_FORMAT", COMPLETE)
    kind = record_kind("penalty")
    with runner._materialised(conn, kind, [batch_id]) as table:
        complete = run_suite(runner._sqlalchemy_url(conn), kind, [batch_id], table)
    assert stored == _gx_document(results[0], complete)
    failed = {
        e["expectation_config"]["meta"]["rule"] for e in stored["results"] if not e["success"]
    }
    assert failed == ({"non_negative", "uscc_check", "mandatory"} if rows else set())


def test_rows_found_other_than_gx_counted_fail_loudly(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL pass that names the failing rows must agree with GX, expectation by expectation:
    a condition that disagrees stops the batch before anything is written."""
    batch_id, _ = land(conn, "penalty", n=3, change=with_value(0, "fine_amount", "-1"))
    wrong = "{column} !~ {regex}"  # the negation of what expect_..._not_match_regex fails
    monkeypatch.setitem(runner._FAILS, "expect_column_values_to_not_match_regex", wrong)
    with pytest.raises(ValidationError, match=r"non_negative.*GX counted 1 failing rows"):
        validate_batch(conn, batch_id)
    status = conn.execute(
        "select status from audit.batches where batch_id = %s", (batch_id,)
    ).fetchone()[0]
    assert status == "landed" and quarantined(conn, batch_id) == {}


def test_a_query_gx_cannot_run_fails_loudly(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A custom expectation whose SQL fails is an error of the validation, not an expectation
    that found nothing: GX keeps a metric's exception apart from the expectation's own."""
    batch_id, _ = land(conn, "penalty", n=3)
    load_suite = runner.load_suite

    def broken(kind: str) -> Any:
        suite = load_suite(kind)
        for expectation in suite.expectations:
            if expectation.meta["rule"] == "uscc_check":
                expectation.unexpected_rows_condition = "no_such_column is null"
        return suite

    monkeypatch.setattr(runner, "load_suite", broken)
    with pytest.raises(ValidationError, match=r"uscc_check.*no_such_column"):
        validate_batch(conn, batch_id)
    assert quarantined(conn, batch_id) == {}


def test_group_over_gx_row_cap_and_group_size(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX lists 200 rows of a custom query for the whole group; every one is still found,
    and the groups are cut to the size asked for."""

    def break_all(rows: list[SourceRow]) -> list[SourceRow]:
        return [
            SourceRow(r.source_ref, {**r.values, "uscc": r.values["uscc"][:-1] + "I"}) for r in rows
        ]

    landed = [land(conn, "tax_credit", n=90, change=break_all) for _ in range(3)]
    runs = []
    run_suite = runner._run_suite
    monkeypatch.setattr(
        runner, "_run_suite", lambda *args: runs.append(args[2]) or run_suite(*args)
    )
    outcomes = validate_batches(conn, [batch_id for batch_id, _ in landed])
    assert len(runs) == 1
    assert [o.reasons["uscc_check"] for o in outcomes] == [90, 90, 90]
    for batch_id, ids in landed:
        assert set(quarantined(conn, batch_id)) == set(ids)
    runs.clear()
    validate_batches(conn, [batch_id for batch_id, _ in landed], max_batches=2)
    assert [len(ids) for ids in runs] == [2, 1]
    runs.clear()
    validate_batches(conn, [batch_id for batch_id, _ in landed], max_rows=100)
    assert [len(ids) for ids in runs] == [1, 1, 1]


def test_group_mismatch_fails_only_its_batch(conn: psycopg.Connection) -> None:
    good, _ = land(conn, "permit", n=3, change=with_value(0, "permit_category", "待定"))
    bad, _ = land(conn, "permit", n=3)
    conn.execute("update audit.batches set rows_read = 4 where batch_id = %s", (bad,))
    with pytest.raises(ReconciliationError, match=f"batch {bad} .*does not reconcile"):
        validate_batches(conn, [good, bad])
    statuses = dict(
        conn.execute(
            "select batch_id, status from audit.batches where batch_id = any(%s)", ([good, bad],)
        ).fetchall()
    )
    assert statuses == {good: "validated", bad: "failed"}
    assert quarantined(conn, bad) == {} and len(quarantined(conn, good)) == 1


def test_materialised_batches_do_not_outlive_validation(conn: psycopg.Connection) -> None:
    """The table a group is validated from is dropped after it, and one that a killed process
    left behind (its backend gone) is dropped by the next validation."""
    conn.execute("create unlogged table audit.validating_2147483647_0123456789ab (x int)")
    batch_id, _ = land(conn, "permit", n=2)
    validate_batch(conn, batch_id)
    left = conn.execute(
        "select tablename from pg_tables where schemaname = 'audit'"
        " and tablename like 'validating%'"
    ).fetchall()
    assert left == []


def test_batches_of_two_kinds_are_refused(conn: psycopg.Connection) -> None:
    permit, _ = land(conn, "permit", n=1)
    penalty, _ = land(conn, "penalty", n=1)
    with pytest.raises(ValueError, match="one record kind"):
        validate_batches(conn, [permit, penalty])
    assert validate_batches(conn, []) == []


def test_committed_suites_equal_generated() -> None:
    for name, suite in generate_all().items():
        path = suite_path(name)
        assert path.exists(), f"run: python -m credit.validation.suites ({path} missing)"
        assert path.read_text(encoding="utf-8") == render(suite), (
            f"{path} differs from the catalogue; regenerate: python -m credit.validation.suites"
        )


def test_whitespace_set_is_pythons() -> None:
    python = {chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))}
    assert set(validation_sql.WHITESPACE) == python


# Identifier-like text: valid codes, then edits of the kinds sources make.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZabcxyz -_./·\u3000０１９ＡＸａ"
_valid_uscc = st.builds(
    identifiers.make_uscc,
    st.sampled_from(["91", "92", "93", "51", "52", "12", "11", "N2", "Y1"]),
    st.just("320281"),
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8),
)
_valid_ric = st.builds(
    lambda body: body + ric.calc_check_digit(body + "0"),
    st.builds(
        lambda d, i: f"320281{d:%Y%m%d}{i:03d}",
        st.dates(date(1850, 1, 1), date(2150, 12, 31)),
        st.integers(0, 999),
    ),
)

_valid_registration_number = st.builds(
    identifiers.make_registration_number,
    st.just("320281"),
    st.text("0123456789", min_size=8, max_size=8),
)
_valid_organisation_code = st.builds(
    lambda body: body + identifiers.organisation_code_check_char(body),
    st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8),
)


def _edits(code: str) -> st.SearchStrategy[str]:
    position = st.integers(0, len(code))
    return st.one_of(
        st.just(code),
        st.just("".join(chr(ord(c) + 0xFEE0) for c in code)),
        st.just(code.lower()),
        st.builds(lambda p, c: code[:p] + c + code[p:], position, st.sampled_from(" -./\u3000")),
        st.builds(lambda p, c: code[:p] + c + code[p + 1 :], position, st.sampled_from(_ALPHABET)),
        st.builds(lambda p: code[:p] + code[p + 1 :], position),
    )


identifier_text = st.one_of(
    _valid_uscc.flatmap(_edits),
    _valid_ric.flatmap(_edits),
    _valid_registration_number.flatmap(_edits),
    _valid_organisation_code.flatmap(_edits),
    st.text(_ALPHABET, max_size=20),
    st.text(max_size=20),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=identifier_text)
def test_sql_identifier_checks_agree_with_python(conn: psycopg.Connection, text: str) -> None:
    if "\x00" in text:
        return  # PostgreSQL text cannot hold NUL; landing never stores one
    checks = {
        "uscc": identifiers.check_uscc,
        "resident_id": identifiers.check_resident_id,
        "registration_number": identifiers.check_registration_number,
        "organisation_code": identifiers.check_organisation_code,
        "subject_identifier": identifiers.check_subject_identifier,
    }
    validities = [name for name in checks if name != "organisation_code"]
    *problems, normal = conn.execute(
        "select "
        + ", ".join(f"audit.{name}_problem(%s)" for name in checks)
        + ", audit.normalise_identifier(%s)",
        [text] * (len(checks) + 1),
    ).fetchone()
    # The validity functions the suites call: a fast path for text in normal form, else the
    # full check; the answer must not depend on which path a text takes.
    valid = conn.execute(
        "select " + ", ".join(f"audit.{name}_is_valid(%s)" for name in validities),
        [text] * len(validities),
    ).fetchone()
    for name, sql_valid in zip(validities, valid, strict=True):
        assert sql_valid == checks[name](text).is_valid, name
    for sql_problem, (name, check) in zip(problems, checks.items(), strict=True):
        python = check(text)
        assert (sql_problem is None) == python.is_valid, name
        # SQL upper-cases ASCII only; Python's full case mapping can change a length (ß -> SS),
        # which never makes a valid code but names a different problem.
        if len(normal) == len(identifiers.normalise(text)):
            assert sql_problem == python.problem, name


def _python_iso_date(text: str) -> bool:
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return False
    return len(text) == 10 and 1000 <= parsed.year <= 2999


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.dates(date(990, 1, 1), date(3010, 12, 31)).map(date.isoformat),
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
        st.text("0123456789-/", max_size=12),
    )
)
def test_date_pattern_agrees_with_calendar(conn: psycopg.Connection, text: str) -> None:
    expected = _python_iso_date(text)
    assert bool(re.match(validation_sql.DATE_PATTERN, text)) == expected
    cast = conn.execute("select audit.iso_date(%s)", (text,)).fetchone()[0]
    assert cast == (date.fromisoformat(text) if expected else None)


# Near misses of the ISO forms: every part at the edge of its range and beyond, the other
# separators, full-width digits, a trailing newline (a Python "$" would forgive it).
_ISO_CHARS = "0123456789-:. TZ+z\n\uff10"
_iso_like = st.builds(
    lambda y, mo, d, sep, h, mi, sec, frac, sign, zh, zsep, zm: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}"
        + (f":{sec:02d}" if sec is not None else "")
        + (f".{frac}" if sec is not None and frac is not None else "")
        + (f"{sign}{zh:02d}" if sign else "")
        + (f"{zsep}{zm:02d}" if sign and zm is not None else "")
    ),
    st.integers(990, 3010),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from("T t"),
    st.integers(0, 25),
    st.integers(0, 61),
    st.none() | st.integers(0, 61),
    st.none() | st.text("0123456789", max_size=8),
    st.sampled_from(["", "+", "-", "Z"]).map(lambda sign: sign if sign != "Z" else ""),
    st.integers(0, 25),
    st.sampled_from(["", ":"]),
    st.none() | st.integers(0, 61),
)


def _edited(text: str) -> st.SearchStrategy[str]:
    position = st.integers(0, len(text))
    char = st.sampled_from(_ISO_CHARS)
    return st.one_of(
        st.just(text),
        st.builds(lambda p, c: text[:p] + c + text[p:], position, char),
        st.builds(lambda p, c: text[:p] + c + text[p + 1 :], position, char),
        st.builds(lambda p: text[:p] + text[p + 1 :], position),
    )


_timestamps = st.builds(
    lambda moment, sep, spec, zone: moment.isoformat(sep=sep, timespec=spec) + zone,
    st.datetimes(datetime(1000, 1, 1), datetime(2999, 12, 31, 23, 59, 59)),
    st.sampled_from("T "),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
    st.sampled_from(["", "Z", "+08:00", "-0530", "+23", "-23:59", "+24:00", "+08:60"]),
)


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.dates(date(990, 1, 1), date(3010, 12, 31)).map(date.isoformat).flatmap(_edited),
        _timestamps.flatmap(_edited),
        _iso_like.flatmap(_edited),
        st.text(_ISO_CHARS, max_size=34),
        st.text(max_size=34),
    )
)
def test_iso_functions_accept_what_the_patterns_match(
    conn: psycopg.Connection, iso: str, text: str
) -> None:
    """audit.is_iso_date / is_iso_timestamp, which validation tests dates and timestamps with,
    accept exactly the texts PostgreSQL's regular expressions of the rules match."""
    if "\x00" in text:
        return  # PostgreSQL text cannot hold NUL; landing never stores one
    date_match, is_date, timestamp_match, is_timestamp = conn.execute(
        f"select %s ~ %s, {iso}.is_iso_date(%s), %s ~ %s, {iso}.is_iso_timestamp(%s)",
        (
            text,
            validation_sql.DATE_PATTERN,
            text,
            text,
            validation_sql.TIMESTAMP_PATTERN,
            text,
        ),
    ).fetchone()
    assert is_date == date_match
    assert is_timestamp == timestamp_match


def test_iso_date_function_matches_the_pattern_on_every_day_and_near_miss(
    conn: psycopg.Connection, iso: str
) -> None:
    """Every text YYYY-MM-DD of the years 990-3010, months 00-13 and days 00-32 (934,000 of
    them, every real day and every impossible one near it): the same answer as the pattern."""
    differing = conn.execute(
        psycopg.sql.SQL("""
        select count(*) from (
            select to_char(y, 'FM0000') || '-' || to_char(m, 'FM00') || '-' || to_char(d, 'FM00')
                as text
            from generate_series(990, 3010) as y, generate_series(0, 13) as m,
                 generate_series(0, 32) as d
        ) as days
        where {iso}.is_iso_date(text) is distinct from (text ~ %s)
        """).format(iso=psycopg.sql.Identifier(iso)),
        (validation_sql.DATE_PATTERN,),
    ).fetchone()[0]
    assert differing == 0


def test_iso_timestamp_function_matches_the_pattern_on_every_time_and_zone(
    conn: psycopg.Connection, iso: str
) -> None:
    """Every hour 00-25 and minute 00-61 with every seconds 00-61 or fraction of 0-8 digits, and
    every zone hour 00-25 and minute 00-61 in each form: the same answer as the pattern."""
    differing = conn.execute(
        psycopg.sql.SQL("""
        with clock as (
            select to_char(h, 'FM00') || ':' || to_char(m, 'FM00') as hhmm
            from generate_series(0, 25) as h, generate_series(0, 61) as m
        ),
        seconds as (
            select '' as tail
            union all select ':' || to_char(s, 'FM00') from generate_series(0, 61) as s
            union all select ':59.' || left('123456789', n) from generate_series(0, 8) as n
        ),
        zones as (
            select zone from unnest(array['', 'Z', 'z', '+', '08:00']) as zone
            union all
            select sign || to_char(h, 'FM00') || sep || coalesce(to_char(m, 'FM00'), '')
            from unnest(array['+', '-']) as sign, generate_series(0, 25) as h,
                 unnest(array['', ':']) as sep,
                 (select null::int as m union all select generate_series(0, 61)) as minutes
        ),
        texts as (
            select '2024-02-29T' || hhmm || tail || zone as text
            from clock, seconds, unnest(array['', 'Z', '+23:59', '-2400']) as zone
            union all
            select '2023-12-31 23:59' || tail || zone
            from unnest(array['', ':60', ':00.123456', ':00.1234567']) as tail, zones
        )
        select count(*) from texts
        where {iso}.is_iso_timestamp(text) is distinct from (text ~ %s)
        """).format(iso=psycopg.sql.Identifier(iso)),
        (validation_sql.TIMESTAMP_PATTERN,),
    ).fetchone()[0]
    assert differing == 0


def test_iso_functions_leave_a_missing_value_to_the_mandatory_rules(
    conn: psycopg.Connection, iso: str
) -> None:
    """A NULL is neither a date nor not one (validation flags `not is_iso_date(col)`)."""
    assert conn.execute(
        f"select {iso}.is_iso_date(null), {iso}.is_iso_timestamp(null)"
    ).fetchone() == (None, None)


def test_data_docs_default_to_latest_night(conn: psycopg.Connection, data_dir) -> None:
    batch_id, _ = land(conn, "commitment", n=2)
    validate_batch(conn, batch_id)
    index = build_data_docs()
    assert f"run_{_run_of(conn, batch_id)}" in index.read_text(encoding="utf-8")
