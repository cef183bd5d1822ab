"""Warnings signed for and closed through the departments' systems (预警处置反馈), and dated
by the night that raised them.

A county's warehouse is built and its daily warnings exported; the next simulated day each
department answers the file it received (``county_sim.feedback``), the next night lands and
validates the answers like any record, and the marts and that night's export show who signed
for and who closed each warning, scored against the simulator's truth. That day one department
also reports a dishonesty decided before the first night (a late report): its warnings are
dated the second night, when the warehouse learnt of them. A second warehouse over the same
county missed both nights: caught up by one command once they are over (``credit airflow
catch-up``), a night failing on the way, it holds the same rows, marts and files as the first.
The third night's transform fails half way, and its export waits until the transform completes.
Last, the resident-ID hash key is rotated: every warning keeps its number, its date and its
answers, under the new key.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from typer.testing import CliRunner

from county_sim import engine, systems, truth
from credit import hash_key, identifiers, nights
from credit.airflow_env import COUNTY_TIMEZONE, DagRunFailed, run_dag
from credit.catalogue import record_kind, record_kinds
from credit.cli import app
from credit.dbt import run_dbt
from credit.exports.daily import KIND as DAILY_WARNINGS
from credit.exports.daily import ExportError, export_daily_warnings
from credit.exports.outbox import latest_version, period_folder
from credit.exports.publicity import export_daily_publicity
from credit.landing import raw_table
from credit.sources import sources
from credit.transform import PASSED_STATUSES, build_marts
from tests.catch_up import (
    catch_up_failing_on,
    differing_tables,
    export_files,
    exports_logged,
    late_warehouse,
    nights_tables,
    publicity_applied,
    publicity_csv,
    table_rows,
)
from tests.county import County, ingest_night, insert_exchange_row, simulated_county, source_ref

FIRST_DAY = dt.date(2026, 1, 5)
NIGHT = dt.date(2026, 2, 26)  # built and exported; the departments answer the next day
NEXT_NIGHT = NIGHT + dt.timedelta(days=1)
THIRD_NIGHT = NEXT_NIGHT + dt.timedelta(days=1)  # nothing new arrives
LATE_DOC_NO = "迟报（2026）第1号"
LATE_DECIDED = NIGHT - dt.timedelta(days=10)
LATE_DEADLINE = NIGHT - dt.timedelta(days=5)
NEW_KEY = "the-key-after-the-rotation"
HASH = re.compile(hash_key.HASH_PATTERN)


def _night(day: dt.date) -> None:
    ingest_night(day)
    as_of = json.dumps({"as_of_date": day.isoformat()})
    run_dbt(["build", "--vars", as_of, "--exclude-resource-type", "unit_test"])  # as a night
    export_daily_warnings()
    export_daily_publicity()


@pytest.fixture(scope="module")
def answered(tmp_path_factory, airflow_ready) -> Iterator[County]:
    """Two nights built and exported; Airflow prepared before the county's environment is set,
    for the third night's DAG runs."""
    with simulated_county(tmp_path_factory, "feedback", FIRST_DAY, NIGHT) as county:
        run_dbt(["seed"])
        _night(NIGHT)
        engine.advance(NEXT_NIGHT)
        _report_late(county.url)
        _night(NEXT_NIGHT)
        yield county


def _report_late(url: str) -> None:
    """An exchange-database department reports on the next day a dishonesty it decided ten days
    before the first night, its rectification deadline passed: a copy of one of its accepted
    records under a new number."""
    exchange = [
        code
        for code, source in sources().items()
        if source.shape == "exchange_db" and "dishonesty" in source.kinds
    ]
    with psycopg.connect(url) as conn:
        dept_code, record_id = conn.execute(
            "select dept_code, source_ref from staging.stg_raw__dishonesties"
            " where dept_code = any(%s) order by raw_row_id desc limit 1",
            (exchange,),
        ).fetchone()
    names, kind = systems.system_names(dept_code), record_kind("dishonesty")
    table = names.table(kind.name)
    with psycopg.connect(systems.exchange_url(), row_factory=dict_row) as conn:
        record = conn.execute(
            sql.SQL("select * from {} where {} = %s").format(
                table, sql.Identifier(names.name(kind.name, "record_id"))
            ),
            (record_id,),
        ).fetchone()
        row = names.to_catalogue(kind, record)
        row.update(
            record_id=f"{record_id}-late",
            decision_doc_no=LATE_DOC_NO,
            decision_date=LATE_DECIDED.isoformat(),
            rectification_deadline=LATE_DEADLINE.isoformat(),
            updated_at=dt.datetime.combine(NEXT_NIGHT, dt.time(10), row["updated_at"].tzinfo),
        )
        insert_exchange_row(conn, table, names.to_system(kind, row))


def _actions(county: County) -> list[dict]:
    """The truth's feedback rows the departments sent without a defect."""
    defective = {source_ref(line["source_row"]) for line in truth.read(county.truth, "defects")}
    return [
        line
        for line in truth.read(county.truth, "warning_feedback")
        if source_ref(line["source_row"]) not in defective
    ]


def test_departments_answer_the_file_they_received(answered) -> None:
    """Every department with warnings in the night's file signs for some and closes some; each
    answer names a warning of its own file, and lands accepted."""
    sent = truth.read(answered.truth, "warning_feedback")
    assert {line["handling"] for line in sent} == {"已签收", "已办结"}
    assert {line["day"] for line in sent} == {NEXT_NIGHT.isoformat()}
    folder = _latest("daily_warnings", NIGHT)
    received = {}
    for path in folder.glob("dept-*/*_warnings.csv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                received[row["预警编号"]] = path.parent.name.removeprefix("dept-")
    assert {line["warning_id"]: line["dept_code"] for line in sent}.items() <= received.items()
    with psycopg.connect(answered.url) as conn:
        staged = {
            ref
            for (ref,) in conn.execute("select source_ref from staging.stg_raw__warning_feedback")
        }
    assert {source_ref(line["source_row"]) for line in _actions(answered)} <= staged


def test_the_marts_say_who_signed_for_and_who_closed_each_warning(answered) -> None:
    actions = _actions(answered)
    signed = {a["warning_id"]: a["handled_by"] for a in actions if a["handling"] == "已签收"}
    closed = {a["warning_id"]: a["handled_by"] for a in actions if a["handling"] == "已办结"}
    with psycopg.connect(answered.url) as conn:
        warnings = {
            row[0]: row[1:]
            for row in conn.execute(
                "select warning_id, status, acknowledged_date, acknowledged_by, closed_date,"
                " close_method_code, closed_by from marts.fct_warnings"
            )
        }
    # A grade fall found on the as-of evaluation alone is gone the next night when that
    # evaluation changed (the as-of day moved): its answers then match no warning.
    signed = {w: handler for w, handler in signed.items() if w in warnings}
    closed = {w: handler for w, handler in closed.items() if w in warnings}
    assert signed and closed
    for warning_id, handler in signed.items():
        status, acknowledged, by, *_ = warnings[warning_id]
        assert (acknowledged, by) == (NEXT_NIGHT, handler)
        assert status in {"acknowledged", "closed"}
    for warning_id, handler in closed.items():
        status, _, _, closed_date, method, by = warnings[warning_id]
        assert status == "closed"
        if method == "department_closed":
            assert (closed_date, by) == (NEXT_NIGHT, handler)
        else:  # its condition cleared first
            assert closed_date <= NEXT_NIGHT and by is None
    assert {w for w, row in warnings.items() if row[4] == "department_closed"} <= closed.keys()
    answered_ids = {line["warning_id"] for line in truth.read(answered.truth, "warning_feedback")}
    untouched = [row for w, row in warnings.items() if w not in answered_ids]
    assert all(row[0] != "acknowledged" and row[2] is None for row in untouched)
    assert all(row[4] != "department_closed" for row in untouched)


def test_the_next_export_shows_the_answers(answered) -> None:
    """The credit office's file of the next night lists the warnings closed that day with who
    closed them, and those signed for with who signed."""
    actions = _actions(answered)
    office = _latest("daily_warnings", NEXT_NIGHT) / "credit_office"
    (path,) = office.glob("*_warnings.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        listed = {row["预警编号"]: row for row in csv.DictReader(f)}
    shown = {"已签收": 0, "已办结": 0}
    for action in actions:
        row = listed.get(action["warning_id"])
        if row is None:  # no longer a warning (above), or closed before the night
            continue
        if action["handling"] == "已签收":
            assert row["签收人"] == action["handled_by"]
            assert row["签收日期"] == NEXT_NIGHT.isoformat()
            shown["已签收"] += 1
        elif row["关闭方式"] == "部门办结":
            assert (row["状态"], row["办结人"]) == ("已关闭", action["handled_by"])
            assert row["关闭日期"] == NEXT_NIGHT.isoformat()
            shown["已办结"] += 1
    assert all(shown.values()), shown


def _latest(kind: str, day: dt.date) -> Path:
    """The folder of the latest version of a day's export."""
    latest = latest_version(kind, day.isoformat())
    assert latest is not None, f"no {kind} export of {day}"
    return latest[1]


def _office_file(day: dt.date) -> dict[str, dict[str, str]]:
    """The credit office's daily file of ``day``, by warning id."""
    (path,) = (_latest("daily_warnings", day) / "credit_office").glob("*_warnings.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {row["预警编号"]: row for row in csv.DictReader(f)}


def test_warnings_are_dated_the_night_the_warehouse_raised_them(answered) -> None:
    """A warning keeps the date of the night that first raised it; one first raised by the
    second night is dated that night, as new, also when its condition held before and only its
    evidence came late (the late report's overdue rectification), and is no backlog."""
    first = _office_file(NIGHT)
    assert {row["预警日期"] for row in first.values()} == {NIGHT.isoformat()}
    with psycopg.connect(answered.url, row_factory=dict_row) as conn:
        warnings = conn.execute(
            "select warning_id, condition_key, raised_date, condition_date, is_backlog"
            " from marts.fct_warnings"
        ).fetchall()
    later = [w for w in warnings if w["warning_id"] not in first]
    assert later and all(w["raised_date"] == NEXT_NIGHT for w in later)
    assert all(w["raised_date"] == NIGHT for w in warnings if w["warning_id"] in first)
    late = [w for w in warnings if w["condition_key"].startswith(LATE_DOC_NO)]
    assert late
    assert all(w["raised_date"] == NEXT_NIGHT and not w["is_backlog"] for w in late)
    # The rectification overdue since the day after its deadline, before the first night.
    assert LATE_DEADLINE + dt.timedelta(days=1) in {w["condition_date"] for w in late}
    listed = _office_file(NEXT_NIGHT)
    assert all(listed[w["warning_id"]]["今日新增"] == "是" for w in late)


@contextmanager
def _table_gone(url: str, schema: str, table: str) -> Iterator[None]:
    """A table the night reads but does not build, gone (a reload that failed after dropping
    it, a slip in psql): renamed away, then back."""
    rename = sql.SQL("alter table {} rename to {}")
    gone = f"{table}_gone"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(rename.format(sql.Identifier(schema, table), sql.Identifier(gone)))
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(rename.format(sql.Identifier(schema, gone), sql.Identifier(table)))


def _as_of(url: str) -> dict[str, set[dt.date]]:
    """The days the marts the exports date themselves by were built as of."""
    with psycopg.connect(url) as conn:
        return {
            mart: {
                row[0]
                for row in conn.execute(
                    sql.SQL("select distinct as_of_date from {}").format(
                        sql.Identifier("marts", mart)
                    )
                )
            }
            for mart in ("fct_dishonesty_records", "fct_warnings")
        }


def _builds(url: str, as_of: dt.date) -> list[tuple[str, int, str]]:
    """(run, attempt, status) of the transform's build attempts as of a day, in order."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select run_id, attempt, status from audit.transform_builds where as_of_date = %s"
            " order by build_id",
            (as_of,),
        ).fetchall()


def _unfinished_nodes(url: str, run_id: str) -> dict[str, str]:
    """The nodes of a transform run whose last attempt did not pass them, with that status."""
    with psycopg.connect(url) as conn:
        last = conn.execute(
            "select distinct on (unique_id) unique_id, status from audit.dbt_node_results"
            " where run_id = %s order by unique_id, attempt desc",
            (run_id,),
        ).fetchall()
    return {node: status for node, status in last if status not in {*PASSED_STATUSES, "warn"}}


def _exported(url: str, day: dt.date) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from audit.exports where kind = %s and period = %s",
            (DAILY_WARNINGS, day.isoformat()),
        ).fetchone()[0]


@pytest.fixture(scope="module")
def caught_up(answered, tmp_path_factory) -> Iterator[tuple[County, nights.NightFailed, str]]:
    """A second warehouse over the same county that missed both nights, caught up once they are
    over by ``credit airflow catch-up``: its outbox is unwritable on the second night, so the
    nights stop there; fixed, the same command runs again. Yields the warehouse with the first
    attempt's error and the second's output."""
    late = late_warehouse(answered, tmp_path_factory)
    with late.active():
        failed, resumed = catch_up_failing_on(NIGHT, NEXT_NIGHT, unwritable=NEXT_NIGHT)
    yield late, failed, resumed


def test_a_failed_night_stops_the_catch_up_and_the_next_one_resumes_there(caught_up) -> None:
    late, failed, resumed = caught_up
    assert (failed.day, failed.dag_id) == (NEXT_NIGHT, nights.EXPORT_DAILY)
    assert f"resumes at {NEXT_NIGHT}" in str(failed)
    # The night exported before the failure is not run again.
    assert f"nights to run: {NEXT_NIGHT} .. {NEXT_NIGHT} (1)" in resumed
    assert f"night of {NEXT_NIGHT}: complete" in resumed
    assert nights.exported_nights(late.url) == {NIGHT, NEXT_NIGHT}
    assert nights.nights_to_run(late.url, NIGHT, NEXT_NIGHT, today=dt.date.today()) == []


def test_nights_caught_up_leave_the_warehouse_and_exports_of_the_nights_run_one_by_one(
    answered, caught_up
) -> None:
    """The same rows, marts and files as the warehouse that ran each night on time, the
    departments' answers to the first night's file and the late report included; only the
    numbers the warehouse gives raw rows and batches differ (the nights' sources landed in
    another order) and the times rows were written."""
    late, _, _ = caught_up
    assert nights_tables(late.url) == nights_tables(answered.url)
    assert differing_tables(answered.url, late.url) == []
    for day in (NIGHT, NEXT_NIGHT):
        with late.active():
            got = export_files(day)
        assert got == export_files(day), day
    assert exports_logged(late.url) == exports_logged(answered.url)


def test_the_portal_given_the_next_nights_changes_holds_its_list(answered) -> None:
    """Runs after the warehouses' exports are compared: it exports the next night again. The
    portal given the first night's whole list and the next night's changes (the late report
    among them) holds the next night's whole list."""
    changes = publicity_csv(NEXT_NIGHT, "changes")
    assert changes and {row["变更"] for row in changes.values()} <= {"新增", "更新", "撤下"}
    assert publicity_csv(NEXT_NIGHT, "listed") is None  # a Friday: the whole list is on Sundays
    export_daily_publicity(full=True)
    assert publicity_applied([NIGHT, NEXT_NIGHT]) == publicity_csv(NEXT_NIGHT, "listed")


def test_a_transform_failing_half_way_is_exported_only_once_it_completes(answered) -> None:
    """Runs after the nights above: it builds the marts a night on. The third night's dbt build
    fails half way (a reference table it reads is gone): the transform's run fails after its
    retries, the marts are left half rebuilt (some as of the third night, the rest as of the
    second) and the daily export refuses them, also once the table is back, until the
    transform completes. The task cleared, its next try retries what failed: every node of the
    night has passed, the marts are whole as of the third night, and the export writes them.
    (That a retry builds what a clean build builds: tests/test_transform.py.)"""
    night = dt.datetime.combine(THIRD_NIGHT, dt.time(0, 30), COUNTY_TIMEZONE)
    with _table_gone(answered.url, "reference", "departments"), pytest.raises(DagRunFailed):
        run_dag("credit_transform", logical_date=night)
    assert _as_of(answered.url) == {
        "fct_dishonesty_records": {THIRD_NIGHT},
        "fct_warnings": {NEXT_NIGHT},
    }
    attempts = _builds(answered.url, THIRD_NIGHT)
    assert [status for *_, status in attempts] == ["failed"] * 3
    with pytest.raises(ExportError, match="half built"):
        export_daily_warnings()
    with pytest.raises(DagRunFailed):
        run_dag("credit_export_daily", logical_date=night)
    assert not period_folder(DAILY_WARNINGS, THIRD_NIGHT.isoformat()).exists()
    assert _exported(answered.url, THIRD_NIGHT) == 0

    run_id, attempt, _ = attempts[-1]
    assert _unfinished_nodes(answered.url, run_id)
    build_marts(THIRD_NIGHT, run_id=run_id, attempt=attempt + 1)  # what the cleared task runs
    assert _unfinished_nodes(answered.url, run_id) == {}, "every node of the night passed"
    assert _as_of(answered.url) == {
        "fct_dishonesty_records": {THIRD_NIGHT},
        "fct_warnings": {THIRD_NIGHT},
    }
    run_dag("credit_export_daily", logical_date=night)
    assert _exported(answered.url, THIRD_NIGHT) == 1
    assert period_folder(DAILY_WARNINGS, THIRD_NIGHT.isoformat()).is_dir()


def _rehashed(url: str, old_key: bytes, new_key: bytes) -> dict[str, str]:
    """Each resident ID's hash under the old key → under the new, computed from raw here."""
    with psycopg.connect(url) as conn:
        ids = {
            value
            for kind in record_kinds().values()
            for column in kind.columns
            if column.identifier == "resident_id"
            for (value,) in conn.execute(
                sql.SQL("select {} from {}").format(
                    sql.Identifier(column.name), raw_table(kind.name)
                )
            )
            if identifiers.normalise(value)
        }
    return {
        identifiers.hash_identifier(value, old_key): identifiers.hash_identifier(value, new_key)
        for value in ids
    }


def _rekeyed(value, rehashed: dict[str, str]):
    """A value with every old hash in it replaced by the new one."""
    if isinstance(value, str):
        return HASH.sub(lambda found: rehashed.get(found[0], found[0]), value)
    if isinstance(value, list):
        return [_rekeyed(item, rehashed) for item in value]
    return value


def _contents(
    url: str, schema: str, table: str, rehashed: dict[str, str] | None = None, *, but=()
) -> list[str]:
    """Every row of a table (its columns but ``but``, each as PostgreSQL writes it), old hashes
    replaced when ``rehashed`` is given, as sorted texts."""
    rows = table_rows(url, schema, table, but=but)
    return sorted(repr([_rekeyed(value, rehashed or {}) for value in row]) for row in rows)


def _holding(url: str, hashes: set[str]) -> set[str]:
    """The tables outside raw with one of ``hashes`` in a text, JSON or array column, alone or
    inside a longer text."""
    with psycopg.connect(url) as conn:
        conn.execute("create temp table sought (hash text primary key)")
        with conn.cursor().copy("copy sought from stdin") as copy:
            for value in hashes:
                copy.write_row((value,))
        tables = conn.execute(
            "select c.table_schema, c.table_name, array_agg(c.column_name::text)"
            " from information_schema.columns as c"
            " join information_schema.tables as t using (table_schema, table_name)"
            " where t.table_type = 'BASE TABLE'"
            " and c.table_schema not in ('raw', 'pg_catalog', 'information_schema')"
            " and c.table_schema not like 'pg_temp%%'"
            " and c.data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
            " group by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}"
            for schema, table, columns in tables
            if conn.execute(
                sql.SQL(
                    "select exists (select from {} as t"
                    " cross join lateral regexp_matches(concat_ws(' ', {}), %s, 'g') as found"
                    " join sought on sought.hash = found[1])"
                ).format(
                    sql.Identifier(schema, table),
                    sql.SQL(", ").join(
                        sql.SQL("t.{}::text").format(sql.Identifier(column)) for column in columns
                    ),
                ),
                (hash_key.HASH_PATTERN,),
            ).fetchone()[0]
        }


def _snapshot_ids_not_dbt_s(url: str) -> int:
    """The snapshot's rows whose dbt_scd_id is not dbt's MD5 of the key and dbt_updated_at (dbt
    finds the rows it closes by that id)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from snapshots.subjects_snapshot"
            " where dbt_scd_id <> md5(subject_key || '|' || dbt_updated_at::varchar)"
        ).fetchone()[0]


def _daily_export_sha256(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select content_sha256 from audit.exports where kind = 'daily_warnings'"
            " and period = %s order by export_id desc limit 1",
            (NEXT_NIGHT.isoformat(),),
        ).fetchone()[0]


def test_a_rotated_hash_key_changes_the_person_keys_and_nothing_else(answered, monkeypatch) -> None:
    """`credit warehouse rotate-hash-key`, then the next transform (a full refresh, as of the
    same night): every natural person's subject_key changes and nothing else does. The register
    keeps each warning with its number and the night that raised it (none raised again), so
    the departments' answers to numbers sent under the old key still count; the subjects'
    history goes on under the new keys; every mart is what it was with each old hash replaced
    by the new one (both computed here from raw); the night's export is byte-identical; no old
    hash is left outside raw. (Last in the module: it re-keys the county's warehouse.)"""
    url = answered.url
    rehashed = _rehashed(url, identifiers.hash_key(), NEW_KEY.encode())
    with psycopg.connect(url) as conn:
        marts = [
            table
            for (table,) in conn.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'marts' and table_type = 'BASE TABLE'"
            )
        ]
        persons = {
            key
            for (key,) in conn.execute(
                "select subject_key from marts.dim_subjects where subject_kind = 'natural_person'"
            )
        }
        answered_about_persons = conn.execute(
            "select count(*) from marts.fct_warnings"
            " where condition_key ~ %s and acknowledged_date is not null",
            (hash_key.HASH_PATTERN,),
        ).fetchone()[0]
        closed_versions = conn.execute(
            "select count(*) from snapshots.subjects_snapshot where dbt_valid_to is not null"
        ).fetchone()[0]
    kept = {
        "register": ("intermediate", "int_warnings_raised", ()),
        "history": ("snapshots", "subjects_snapshot", ("dbt_scd_id",)),
    }
    before = {
        name: _contents(url, schema, table, rehashed, but=but)
        for name, (schema, table, but) in kept.items()
    }
    before |= {table: _contents(url, "marts", table, rehashed) for table in marts}
    exported = _daily_export_sha256(url)
    assert persons and answered_about_persons and closed_versions
    assert _snapshot_ids_not_dbt_s(url) == 0
    assert _holding(url, set(rehashed)) >= {
        "staging.stg_raw__registrations",
        "marts.dim_subjects",
        "intermediate.int_warnings_raised",
        "snapshots.subjects_snapshot",
    }

    monkeypatch.setenv(identifiers.HASH_KEY_ENV, NEW_KEY)
    rotated = CliRunner().invoke(
        app, ["warehouse", "rotate-hash-key"], env={hash_key.NEW_KEY_ENV: NEW_KEY}
    )
    assert rotated.exit_code == 0, rotated.output
    assert NEW_KEY not in rotated.output
    assert build_marts(THIRD_NIGHT, run_id="after-rotation", attempt=1)["full_refresh"]

    after = {
        name: _contents(url, schema, table, but=but) for name, (schema, table, but) in kept.items()
    }
    after |= {table: _contents(url, "marts", table) for table in marts}
    assert [name for name in before if after[name] != before[name]] == []
    with psycopg.connect(url) as conn:
        assert {
            key
            for (key,) in conn.execute(
                "select subject_key from marts.dim_subjects where subject_kind = 'natural_person'"
            )
        }.isdisjoint(persons)
    assert _snapshot_ids_not_dbt_s(url) == 0
    assert not hash_key.rebuild_pending(url)
    export_daily_warnings()
    assert _daily_export_sha256(url) == exported
    assert _holding(url, set(rehashed)) == set()
