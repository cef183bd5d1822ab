"""Nightly ingestion against the simulated county: real systems (exchange database, drop folder,
HTTP API server), real landing, real Great Expectations validation, real Airflow runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from county_sim import engine
from credit import alerts, ingest
from credit.airflow_env import COUNTY_TIMEZONE, DagRunFailed, run_dag
from credit.catalogue import record_kind
from credit.connectors import SourceUnavailable, day_end, drop_folder, exchange_db, http_api
from credit.ingest import (
    API_CONN,
    EXCHANGE_CONN,
    api_client,
    exchange_url,
    ingest_source,
    reconcile_night,
    validate_pending,
)
from credit.sources import sources
from tests.county import insert_exchange_row, simulated_county, source_ref

FIRST_DAY = dt.date(2026, 1, 6)  # a Tuesday: one working day is enough
LAST_DAY = FIRST_DAY
SHAPES = ("exchange_db", "drop_folder", "http_api")


@pytest.fixture(scope="module")
def county(tmp_path_factory, airflow_ready) -> Iterator[dict]:
    """A test-scale county of one working day, its own warehouse and a running API."""
    with simulated_county(tmp_path_factory, "ingest", FIRST_DAY, LAST_DAY) as county:
        yield county


def _truth(folder: Path, name: str) -> list[dict]:
    with (folder / f"{name}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _csv_drop_source():
    return next(
        s for s in sources().values() if s.shape == "drop_folder" and s.file_format == "csv"
    )


def _ingest_range(first: dt.date, last: dt.date) -> None:
    day = first
    while day <= last:
        for dept_code in sources():
            ingest_source(dept_code, day)
        validate_pending()
        reconcile_night(day)
        day += dt.timedelta(days=1)


def _landed(url: str) -> dict[tuple[str, str], bool]:
    """(record_kind, source_ref) of every landed row → whether it was quarantined."""
    with psycopg.connect(url) as conn:
        kinds = [r[0] for r in conn.execute("select distinct record_kind from audit.batches")]
        landed: dict[tuple[str, str], bool] = {}
        for kind in kinds:
            rows = conn.execute(
                f"select r.source_ref, q.raw_row_id is not null from raw.{kind} r"  # noqa: S608
                " left join quarantine.rejected_rows q"
                " on q.record_kind = %s and q.raw_row_id = r.raw_row_id",
                (kind,),
            )
            for source_ref, quarantined in rows:
                landed[(kind, source_ref)] = quarantined
    return landed


def _watermarks(url: str, dept_code: str) -> dict[str, dt.datetime]:
    """A department's watermark per record kind."""
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select record_kind, watermark from audit.watermarks where dept_code = %s",
                (dept_code,),
            ).fetchall()
        )


def _raw_row_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select coalesce(sum(rows_read), 0) from audit.batches").fetchone()[0]


def test_an_unreachable_system_fails_only_its_own_tasks_in_the_dag(county, monkeypatch) -> None:
    night = dt.datetime.combine(FIRST_DAY, dt.time(), COUNTY_TIMEZONE)
    closed = "postgresql://postgres@127.0.0.1:9/closed"
    monkeypatch.setenv(f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}", closed)
    with pytest.raises(DagRunFailed):
        run_dag("credit_ingest", night)
    exchange = {code for code, s in sources().items() if s.shape == "exchange_db"}
    with psycopg.connect(county.url) as conn:
        failed = {row[0] for row in conn.execute("select dept_code from audit.source_errors")}
        landed = {row[0] for row in conn.execute("select dept_code from audit.batches")}
    assert failed == exchange
    assert landed and not landed & exchange  # every other system's night went on
    # The system is back: re-running the night recovers everything it missed.
    monkeypatch.delenv(f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}")
    run_dag("credit_ingest", night)


def test_a_night_lands_everything_and_validation_matches_the_truth(county) -> None:
    landed = _landed(county.url)
    defects = {
        (d["record_kind"], source_ref(d["source_row"])): d for d in _truth(county.truth, "defects")
    }
    with psycopg.connect(county.url) as conn:
        by_shape = dict(
            conn.execute("select shape, sum(rows_read) from audit.batches group by shape")
        )
    assert set(by_shape) == set(SHAPES)
    # Every department's system: everything it holds up to the night landed.
    for dept_code in sources():
        assert _held(dept_code, FIRST_DAY) <= set(landed), dept_code
    assert set(defects) <= set(landed), "a defective row never landed"
    missed = [key for key in defects if not landed[key]]
    assert missed == [], f"defects not quarantined: {[defects[k] for k in missed][:5]}"
    wrongly = [key for key, quarantined in landed.items() if quarantined and key not in defects]
    assert wrongly == [], f"clean rows quarantined: {wrongly[:5]}"
    for shape in SHAPES:
        assert any(d["shape"] == shape for d in defects.values()), shape


def test_every_batch_reconciles(county) -> None:
    with psycopg.connect(county.url) as conn:
        unbalanced = conn.execute(
            "select batch_id from audit.batches"
            " where status <> 'validated' or rows_read <> rows_accepted + rows_quarantined"
        ).fetchall()
        counted = conn.execute(
            "select (select sum(rows_quarantined) from audit.batches),"
            " (select count(*) from quarantine.rejected_rows)"
        ).fetchone()
    assert unbalanced == []
    assert counted[0] == counted[1]


def test_rerunning_a_date_adds_nothing(county) -> None:
    before = _raw_row_count(county.url)
    _ingest_range(FIRST_DAY, LAST_DAY)
    assert _raw_row_count(county.url) == before


def test_redelivered_file_adds_nothing_and_a_changed_file_is_a_new_version(county) -> None:
    dept = next(
        s for s in sources().values() if s.shape == "drop_folder" and s.file_format == "csv"
    )
    folder = engine.systems.drops_dir() / dept.dept_code
    original = sorted(folder.glob("*.csv"))[0]
    before = _raw_row_count(county.url)
    # The same bytes again under another day's ingestion: recognised by name and hash.
    ingest_source(dept.dept_code, LAST_DAY)
    assert _raw_row_count(county.url) == before
    # Changed bytes under the same name: a new version, landed as a new batch.
    text = original.read_bytes()
    original.write_bytes(text + text.splitlines(keepends=True)[-1])
    night = ingest_source(dept.dept_code, LAST_DAY)
    assert len(night.batches) == 1
    assert _raw_row_count(county.url) > before


def test_a_night_reads_only_the_files_it_has_not_seen(county, monkeypatch) -> None:
    """The drop folder's history is not hashed again each night: a file whose name, size and
    modification time are known is skipped unread, its name not even parsed; one touched since
    is read once, recognised by its bytes, and skipped unread from then on."""
    dept = next(
        s for s in sources().values() if s.shape == "drop_folder" and s.file_format == "xlsx"
    )
    hashed: list[str] = []
    identified: list[str] = []
    sha256_of, identify = drop_folder.sha256_of, drop_folder.identify
    monkeypatch.setattr(
        drop_folder, "sha256_of", lambda path: hashed.append(path.name) or sha256_of(path)
    )
    monkeypatch.setattr(
        drop_folder, "identify", lambda path: identified.append(path.name) or identify(path)
    )
    before = _raw_row_count(county.url)
    ingest_source(dept.dept_code, LAST_DAY)
    assert hashed == identified == []
    touched = sorted((engine.systems.drops_dir() / dept.dept_code).glob("*.xlsx"))[0]
    touched.touch()
    ingest_source(dept.dept_code, LAST_DAY)
    assert hashed == identified == [touched.name]
    ingest_source(dept.dept_code, LAST_DAY)
    assert hashed == [touched.name]
    assert _raw_row_count(county.url) == before


def test_a_stopped_exchange_database_fails_only_its_source_and_recovers(county, monkeypatch):
    day = LAST_DAY + dt.timedelta(days=1)
    engine.advance(day)
    exchange = next(s for s in sources().values() if s.shape == "exchange_db")
    drops = next(s for s in sources().values() if s.shape == "drop_folder")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}", "postgresql://postgres@127.0.0.1:9/closed"
    )
    with pytest.raises(SourceUnavailable):
        ingest_source(exchange.dept_code, day)
    ingest_source(drops.dept_code, day)  # the others go on
    monkeypatch.delenv(f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}")
    night = ingest_source(exchange.dept_code, day + dt.timedelta(days=1))
    assert night.rows_read > 0
    _assert_everything_landed(county, exchange.dept_code, day)


def test_a_failing_http_api_fails_only_its_source_and_recovers(county, monkeypatch) -> None:
    day = LAST_DAY + dt.timedelta(days=2)
    engine.advance(day)
    api = next(s for s in sources().values() if s.shape == "http_api")
    monkeypatch.setenv(f"AIRFLOW_CONN_{API_CONN.upper()}", "http://user:x@127.0.0.1:9")
    with pytest.raises(SourceUnavailable):
        ingest_source(api.dept_code, day)
    monkeypatch.undo()
    ingest_source(api.dept_code, day + dt.timedelta(days=1))
    _assert_everything_landed(county, api.dept_code, day)


def test_a_pull_cut_off_half_way_lands_nothing_and_the_next_night_lands_it_whole(
    county, monkeypatch
) -> None:
    """A pull's rows are fetched a few at a time and copied as they come; an exchange database
    that drops the connection half way leaves no half batch and no moved watermark, and the next
    night lands every row once."""
    day = LAST_DAY + dt.timedelta(days=4)
    engine.advance(day)
    exchange = max(
        (s for s in sources().values() if s.shape == "exchange_db"),
        key=lambda s: len(_held(s.dept_code, day)),
    )
    marks = _watermarks(county.url, exchange.dept_code)
    due = {
        kind: sum(
            1
            for _ in exchange_db.pull_table(
                exchange_url(),
                exchange.exchange,
                record_kind(kind),
                marks.get(kind),
                day_end(day),
                exchange.field_map_of(kind),
            )
        )
        for kind in exchange.kinds
    }
    assert sum(due.values()) >= 2
    before = _dept_rows(county.url, exchange.dept_code)
    monkeypatch.setattr(exchange_db, "FETCH_ROWS", 1)
    converted = []
    text_values = exchange_db.text_values

    def cut_off_at_the_second_row(record, *args):
        converted.append(record)
        if len(converted) == 2:
            with psycopg.connect(exchange_url(), autocommit=True) as conn:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                )
        return text_values(record, *args)

    monkeypatch.setattr(exchange_db, "text_values", cut_off_at_the_second_row)
    with pytest.raises(SourceUnavailable, match="terminat"):
        ingest_source(exchange.dept_code, day)
    cut = _dept_rows(county.url, exchange.dept_code)
    assert all(raw == read for raw, read, _ in cut.values())  # no half batch
    monkeypatch.setattr(exchange_db, "text_values", text_values)
    ingest_source(exchange.dept_code, day)
    after = _dept_rows(county.url, exchange.dept_code)
    assert all(raw == read for raw, read, _ in after.values())
    for kind, rows in due.items():
        raw, _, batches = after.get(kind, (0, 0, 0))
        raw_before, _, batches_before = before.get(kind, (0, 0, 0))
        assert (raw - raw_before, batches - batches_before) == (rows, 1 if rows else 0)


def _dept_rows(url: str, dept_code: str) -> dict[str, tuple[int, int, int]]:
    """Per record kind of a department: (raw rows landed, rows its batches say they read,
    batches)."""
    with psycopg.connect(url) as conn:
        counts = {}
        for kind, read, batches in conn.execute(
            "select record_kind, sum(rows_read), count(*) from audit.batches where dept_code = %s"
            " group by record_kind",
            (dept_code,),
        ).fetchall():
            raw = conn.execute(
                sql.SQL("select count(*) from {} where dept_code = %s").format(
                    sql.Identifier("raw", kind)
                ),
                (dept_code,),
            ).fetchone()[0]
            counts[kind] = (raw, read, batches)
    return counts


def _held(dept_code: str, day: dt.date) -> set[tuple[str, str]]:
    """(kind, source_ref) of every row a department's system holds up to ``day``, read back
    through the connectors with no watermark and no delivery log."""
    source = sources()[dept_code]
    held = set()
    if source.shape == "drop_folder":
        for path in sorted((engine.systems.drops_dir() / dept_code).glob("*_*.*")):
            drop = drop_folder.identify(path)
            if drop.day <= day:
                held |= {(drop.kind.name, row.source_ref) for row in drop_folder.parse(drop).rows}
        return held
    for kind_name in source.kinds:
        kind = record_kind(kind_name)
        names = source.field_map_of(kind_name)
        if source.exchange is not None:
            url = exchange_url()
            pulled = exchange_db.pull_table(url, source.exchange, kind, None, day_end(day), names)
        else:
            pulled = http_api.pull_api(api_client(), source.api, kind, None, day_end(day), names)
        held |= {(kind_name, row.source_ref) for row in pulled}
    return held


def _assert_everything_landed(county: dict, dept_code: str, day: dt.date) -> None:
    held = _held(dept_code, day)
    assert held
    assert held <= set(_landed(county.url))


def test_bad_deliveries_are_quarantined_and_the_night_goes_on(county) -> None:
    root = engine.systems.drops_dir()
    dept = next(
        s for s in sources().values() if s.shape == "drop_folder" and s.file_format == "csv"
    )
    folder = root / dept.dept_code
    (folder / "penalty_2026-01-07.csv;rm -rf").write_text("x")
    (folder / "notes.txt").write_text("hello")
    shutil.copy(sorted(folder.glob("*.csv"))[0], folder / "unknownkind_20260107.csv")
    (root / "no_such_department").mkdir()
    (root / "no_such_department" / "penalty_20260107.csv").write_text("处罚机关\n某机关\n")
    garbage = f"{dept.kinds[0]}_20260102.csv"
    (folder / garbage).write_bytes(b"\xff\xfe\x00garbage\n" * 3)
    ingest_source(dept.dept_code, LAST_DAY)
    validate_pending()
    reconcile_night(LAST_DAY)
    with psycopg.connect(county.url) as conn:
        rejected = dict(
            conn.execute("select file_name, reason from quarantine.rejected_files").fetchall()
        )
        unreadable = conn.execute(
            "select b.rows_read, b.rows_quarantined, q.reasons from audit.batches b"
            " join audit.delivered_files f using (batch_id)"
            " join quarantine.rejected_rows q using (batch_id) where f.file_name = %s",
            (garbage,),
        ).fetchall()
    assert "not <kind>_<YYYYMMDD>" in rejected["penalty_2026-01-07.csv;rm -rf"]
    assert "notes.txt" in rejected
    assert "unknown record kind" in rejected["unknownkind_20260107.csv"]
    assert "unknown department" in rejected["penalty_20260107.csv"]
    # Bytes in no known encoding still land, each row quarantined with the reason.
    assert unreadable and all(read == quarantined for read, quarantined, _ in unreadable)
    assert all(any(r["rule"] == "parse_problem" for r in reasons) for *_, reasons in unreadable)


def test_a_folders_files_land_in_groups_each_whole_or_not_at_all(county, monkeypatch) -> None:
    """Several files to a transaction, each its own batch: a group that fails to land leaves
    none of its files delivered, and the next run lands them."""
    day = LAST_DAY + dt.timedelta(days=7)
    engine.advance(day)
    root = engine.systems.drops_dir()
    new_files = {
        dept: sorted(
            path.name
            for kind in source.kinds
            for path in (root / dept).glob(f"{kind}_*.csv")
            if drop_folder.identify(path).day <= day
        )
        for dept, source in sources().items()
        if source.shape == "drop_folder" and source.file_format == "csv"
    }
    for dept, names in new_files.items():
        names[:] = [name for name in names if name not in _delivered(county.url, dept, names)]
    dept, new = max(new_files.items(), key=lambda item: len(item[1]))
    folder = root / dept
    assert len(new) >= 3
    monkeypatch.setattr(ingest, "GROUP_FILES", 2)
    land_batches = ingest.land_batches
    groups: list[int] = []

    def second_group_fails(conn, batches):
        groups.append(len(batches))
        if len(groups) == 2:
            raise psycopg.OperationalError("connection lost")
        return land_batches(conn, batches)

    monkeypatch.setattr(ingest, "land_batches", second_group_fails)
    with pytest.raises(psycopg.OperationalError):
        ingest_source(dept, day)
    assert sorted(_delivered(county.url, dept, new)) == new[:2]
    monkeypatch.setattr(ingest, "land_batches", land_batches)
    night = ingest_source(dept, day)
    delivered = _delivered(county.url, dept, new)
    assert sorted(delivered) == new
    assert len(night.batches) == len(new) - 2
    assert night.read_seconds > 0 and night.land_seconds > 0
    with psycopg.connect(county.url) as conn:
        for name, batch_id in delivered.items():
            kind = drop_folder.identify(folder / name).kind.name
            source_ref, rows_read, landed = conn.execute(
                sql.SQL(
                    "select source_ref, rows_read, (select count(*) from {} where batch_id = %s)"
                    " from audit.batches where batch_id = %s"
                ).format(sql.Identifier("raw", kind)),
                (batch_id, batch_id),
            ).fetchone()
            assert (source_ref, landed) == (f"{dept}/{name}", rows_read)


def _delivered(url: str, dept_code: str, names: list[str]) -> dict[str, int]:
    """File name → batch id of the named files delivered by a department."""
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select file_name, batch_id from audit.delivered_files"
                " where dept_code = %s and file_name = any(%s)",
                (dept_code, names),
            ).fetchall()
        )


@pytest.mark.timeout(600)
def test_a_row_committed_late_is_landed_by_the_next_night_and_nothing_twice(
    county, monkeypatch
) -> None:
    """A system commits a row after the night read its period, its updated_at before the
    watermark that night stored (a long transaction): the next night reads back as far as the
    look-back and lands it; the rows it reads again are not landed twice. The rows are looked
    up one at a time, as a catch-up's batch of more rows than one look-up holds is: the later
    look-ups run while the batch's COPY is under way (on the night's connection they waited
    for it, and it for them)."""
    monkeypatch.setattr(ingest, "LOOK_UP_ROWS", 1)
    day = LAST_DAY + dt.timedelta(days=8)
    engine.advance(day)
    exchange = next(s for s in sources().values() if s.shape == "exchange_db")
    ingest_source(exchange.dept_code, day)
    kind, watermark = max(_watermarks(county.url, exchange.dept_code).items(), key=lambda m: m[1])
    late_at = watermark - exchange.late_rows_look_back / 2
    table = sql.Identifier(exchange.dept_code, kind)
    with psycopg.connect(exchange_url(), autocommit=True, row_factory=dict_row) as conn:
        late = conn.execute(
            sql.SQL("select * from {} order by updated_at desc limit 1").format(table)
        ).fetchone()
        late.update(record_id=f"{late['record_id']}-late", updated_at=late_at)
        insert_exchange_row(conn, table, late)
    before = _dept_rows(county.url, exchange.dept_code)
    night = ingest_source(exchange.dept_code, day + dt.timedelta(days=1))
    validate_pending()
    after = _dept_rows(county.url, exchange.dept_code)
    assert night.rows_read_again > 0  # the look-back read landed rows again
    assert _landed(county.url)[(kind, late["record_id"])] is False  # landed and accepted
    with psycopg.connect(county.url) as conn:
        twice = conn.execute(
            sql.SQL(
                "select source_ref, updated_at from {} where dept_code = %s"
                " group by source_ref, updated_at having count(*) > 1"
            ).format(sql.Identifier("raw", kind)),
            (exchange.dept_code,),
        ).fetchall()
    assert twice == []
    assert all(raw == read for raw, read, _ in after.values())  # every batch reconciles
    assert after[kind][0] - before[kind][0] >= 1
    # The late row did not move the watermark back.
    assert _watermarks(county.url, exchange.dept_code)[kind] >= watermark


def test_a_failed_task_and_a_silent_source_reach_the_operator_once(
    county, smtp_server, monkeypatch
) -> None:
    """A night whose exchange databases are down: each failed task is an incident e-mailed to
    the on-call address; so is each department whose night's rows missed its expected range.
    The same night failing again counts a second occurrence and sends nothing more."""
    day = LAST_DAY + dt.timedelta(days=6)  # a Monday no earlier test ingested
    night = dt.datetime.combine(day, dt.time(), COUNTY_TIMEZONE)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}", "postgresql://postgres@127.0.0.1:9/closed"
    )
    exchange = [code for code, s in sources().items() if s.shape == "exchange_db"]
    for attempt in (1, 2):
        with pytest.raises(DagRunFailed):
            run_dag("credit_ingest", night)
        with psycopg.connect(county.url) as conn:
            incidents = conn.execute(
                "select kind, incident_key, occurrences, emailed_to, email_error"
                " from audit.incidents where incident_key like %s",
                (f"%/{day.isoformat()}",),
            ).fetchall()
        assert {occurrences for _, _, occurrences, _, _ in incidents} == {attempt}
        if attempt == 1:
            sent = list(smtp_server.messages)
    failed = sorted(key.split("/")[1] for kind, key, *_ in incidents if kind == "task_failed")
    assert len(failed) == len(exchange) and all(k.startswith("ingest[") for k in failed)
    silent = {key.split("/")[0] for kind, key, *_ in incidents if kind == "source_volume"}
    with psycopg.connect(county.url) as conn:
        missed = conn.execute(
            "select dept_code from audit.collection_checks"
            " where logical_date = %s and status = 'warning'",
            (day,),
        ).fetchall()
    assert silent == {dept_code for (dept_code,) in missed}
    assert silent and not silent & set(exchange)  # the failed sources are alerted as failed
    on_call = alerts.on_call()[1]
    assert {(to, error) for *_, to, error in incidents} == {(on_call, None)}
    assert len(sent) == len(incidents), ([m["Subject"] for m in sent], incidents)
    assert len(smtp_server.messages) == len(incidents)  # nothing more the second time
    subjects = sorted(message["Subject"] for message in sent)
    assert sum("【信用平台告警】任务失败" in s for s in subjects) == len(exchange)
    assert sum("【信用平台告警】部门数据量异常" in s for s in subjects) == len(silent)


def test_a_system_that_changed_its_table_loses_nothing(county) -> None:
    """An exchange database adds a column and drops a mandatory one: the added column's values
    land in extra_fields, and every row missing the mandatory value is quarantined saying so."""
    day = LAST_DAY + dt.timedelta(days=10)
    engine.advance(day)
    exchange = next(s for s in sources().values() if s.shape == "exchange_db")
    marks = _watermarks(county.url, exchange.dept_code)
    with psycopg.connect(exchange_url(), autocommit=True) as conn:
        kind = next(
            k
            for k in exchange.kinds
            if conn.execute(
                sql.SQL(
                    "select count(*) from {}"
                    " where updated_at > coalesce(%s::timestamptz, '-infinity')"
                ).format(sql.Identifier(exchange.dept_code, k)),
                (marks.get(k),),
            ).fetchone()[0]
        )
        dropped = next(
            c.name
            for c in record_kind(kind).columns
            if c.mandatory and c.name not in ("record_id", "updated_at")
        )
        table = sql.Identifier(exchange.dept_code, kind)
        (dropped_type,) = conn.execute(
            "select format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = %s::regclass and attname = %s",
            (table.as_string(conn), dropped),
        ).fetchone()
        conn.execute(
            sql.SQL("alter table {} add column remark text default '系统新增备注'").format(table)
        )
        conn.execute(
            sql.SQL("alter table {} drop column {}").format(table, sql.Identifier(dropped))
        )
    try:
        night = ingest_source(exchange.dept_code, day)
        validate_pending()
    finally:  # the system as it was, for the later tests' days
        with psycopg.connect(exchange_url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter table {} drop column remark, add column {} {}").format(
                    table, sql.Identifier(dropped), sql.SQL(dropped_type)
                )
            )
    with psycopg.connect(county.url) as conn:
        rows = conn.execute(
            sql.SQL(
                "select r.extra_fields ->> 'remark', q.reasons::text from {} r"
                " left join quarantine.rejected_rows q"
                " on q.record_kind = %s and q.raw_row_id = r.raw_row_id"
                " where r.batch_id = any(%s)"
            ).format(sql.Identifier("raw", kind)),
            (kind, night.batches),
        ).fetchall()
    assert rows
    assert {remark for remark, _ in rows} == {"系统新增备注"}
    assert all(reasons and dropped in reasons for _, reasons in rows), rows[:3]


API_ENV = f"AIRFLOW_CONN_{API_CONN.upper()}"


class _FaultyApi:
    """A proxy in front of the county's API that answers its first requests with the faults
    given, in order (``"500"``; ``"stall"``: silent past the client's timeout; ``"not json"``: a
    200 whose body is a gateway's HTML page; ``None``: the API's own answer), then forwards."""

    STALL_SECONDS = 1.5

    def __init__(self, upstream_uri: str, faults: list[str | None]) -> None:
        parts = urlsplit(upstream_uri)
        self.upstream = f"{parts.scheme}://{parts.hostname}:{parts.port}"
        self.token = parts.password
        self.faults = list(faults)
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def connection_uri(self) -> str:
        """The API connection through the proxy, patient for a test: a 1 s timeout, short
        backoff."""
        host, port = self._server.server_address[:2]
        return f"http://user:{self.token}@{host}:{port}?timeout=1&attempts=4&backoff=0.05"

    def __enter__(self) -> _FaultyApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self) -> str | None:
        with self._lock:
            self.requests += 1
            return self.faults.pop(0) if self.faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fault = proxy._next_fault()
                if fault == "500":
                    self.send_error(500)
                    return
                if fault == "stall":
                    time.sleep(proxy.STALL_SECONDS)
                    return
                if fault == "not json":
                    body = b"<html><body>502 Bad Gateway</body></html>"
                else:
                    request = urllib.request.Request(
                        proxy.upstream + self.path,
                        headers={"Authorization": self.headers["Authorization"]},
                    )
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        body = answer.read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _dept_state(url: str, dept_code: str) -> tuple:
    """A department's batches, landed rows and watermarks, to compare before and after."""
    with psycopg.connect(url) as conn:
        batches = conn.execute(
            "select batch_id, rows_read from audit.batches where dept_code = %s order by 1",
            (dept_code,),
        ).fetchall()
    return batches, _watermarks(url, dept_code)


def _assert_landed_once_and_reconciled(county, dept_code: str, day: dt.date) -> None:
    """Every row the system holds up to ``day`` landed exactly once; every batch adds up."""
    validate_pending()
    _assert_everything_landed(county, dept_code, day)
    with psycopg.connect(county.url) as conn:
        for kind in sources()[dept_code].kinds:
            twice = conn.execute(
                sql.SQL(
                    "select count(*) from (select r.source_ref, r.updated_at from {} r"
                    " join audit.batches b using (batch_id) where b.dept_code = %s"
                    " group by 1, 2 having count(*) > 1) t"
                ).format(sql.Identifier("raw", kind)),
                (dept_code,),
            ).fetchone()[0]
            assert twice == 0, kind
        unbalanced = conn.execute(
            "select batch_id from audit.batches where dept_code = %s and"
            " (status <> 'validated' or rows_read <> rows_accepted + rows_quarantined)",
            (dept_code,),
        ).fetchall()
    assert unbalanced == []


def test_an_api_answering_500s_or_stalling_is_asked_again_and_lands_once(
    county, monkeypatch
) -> None:
    """A system that errs (HTTP 500) or stalls past the timeout is asked again, with backoff,
    within the night's pull: the night lands every row once, and records no source error."""
    day = LAST_DAY + dt.timedelta(days=12)
    engine.advance(day)
    api = next(s for s in sources().values() if s.shape == "http_api")
    with _FaultyApi(os.environ[API_ENV], ["500", "stall", "500"]) as proxy:
        monkeypatch.setenv(API_ENV, proxy.connection_uri)
        ingest_source(api.dept_code, day)
    monkeypatch.undo()
    assert proxy.faults == [] and proxy.requests > 3
    with psycopg.connect(county.url) as conn:
        errors = conn.execute(
            "select error from audit.source_errors where dept_code = %s and logical_date = %s",
            (api.dept_code, day),
        ).fetchall()
    assert errors == []
    _assert_landed_once_and_reconciled(county, api.dept_code, day)


def test_a_page_that_is_not_json_mid_pull_lands_nothing_of_its_kind_and_the_next_night_all(
    county, monkeypatch
) -> None:
    """A page that is not JSON after the first (a gateway's error page answered 200) rejects
    its kind's pull saying so, and the operator is told (an incident): the rows of the pages
    before it are not landed, the kind's watermark stays, the source's other kinds land; the
    next night lands every row once."""
    day = LAST_DAY + dt.timedelta(days=13)
    engine.advance(day)
    api = next(
        s
        for s in reversed(sources().values())
        if s.shape == "http_api" and s.api.paging.style == "page"
    )
    one_a_page = replace(api, api=replace(api.api, paging=replace(api.api.paging, size=1)))
    registry = {**sources(), api.dept_code: one_a_page}
    monkeypatch.setattr(ingest, "sources", lambda: registry)
    first = api.kinds[0]
    assert (
        len({r for r in _held(api.dept_code, day) - set(_landed(county.url)) if r[0] == first}) >= 2
    )
    marks = _watermarks(county.url, api.dept_code)
    upstream = os.environ[API_ENV]
    with _FaultyApi(upstream, [None, "not json"]) as proxy:
        monkeypatch.setenv(API_ENV, proxy.connection_uri)
        night = ingest_source(api.dept_code, day)
    assert night.rejected_pulls == [first]
    assert _watermarks(county.url, api.dept_code).get(first) == marks.get(first)
    with psycopg.connect(county.url) as conn:
        (error,) = conn.execute(
            "select error from audit.source_errors"
            " where dept_code = %s and record_kind = %s and logical_date = %s",
            (api.dept_code, first, day),
        ).fetchone()
        landed = conn.execute(
            "select count(*) from audit.batches"
            " where dept_code = %s and record_kind = %s and logical_date = %s",
            (api.dept_code, first, day),
        ).fetchone()[0]
        incident = conn.execute(
            "select summary from audit.incidents where kind = 'pull_rejected'"
            " and incident_key = %s",
            (f"{api.dept_code}/{first}/{day.isoformat()}",),
        ).fetchone()
    assert "not JSON" in error and landed == 0
    assert incident is not None and "无法读取" in incident[0]
    monkeypatch.setenv(API_ENV, upstream)
    ingest_source(api.dept_code, day + dt.timedelta(days=1))
    _assert_landed_once_and_reconciled(county, api.dept_code, day)
