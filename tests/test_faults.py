"""Bad nights: a landing killed with SIGKILL; marts a transform left half built.

A landing's process is killed half way against a real PostgreSQL and a test-scale county: no
batch of it is left, not half of one, and its retry lands every row once, reconciled (rows read =
accepted + quarantined). The exports read the marts only when the transform's last build
attempt succeeded, here over every state an attempt can leave; a real dbt build failing half way
and its recovery run over a built county in tests/test_warning_feedback.py.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
import pytest
from psycopg import sql

from county_sim import engine
from credit import migrations, warehouse
from credit.catalogue import record_kind
from credit.connectors import day_end, drop_folder, exchange_db
from credit.exports.daily import ExportError, marts_as_of_date
from credit.ingest import exchange_url, ingest_source, reconcile_night, validate_pending
from credit.sources import sources
from credit.transform import record_build_end, record_build_start
from tests.county import County, simulated_county

FIRST_DAY = dt.date(2026, 1, 5)
NIGHT = dt.date(2026, 1, 6)
# How long a state the test waits for may take to come (a process starting, a backend ending).
PATIENCE_SECONDS = 60
Found = TypeVar("Found")


@pytest.fixture(scope="module")
def county(tmp_path_factory, warehouse_url) -> Iterator[County]:
    """A test-scale county whose first night is not yet ingested."""
    with simulated_county(tmp_path_factory, "faults", FIRST_DAY, NIGHT) as county:
        yield county


def _held(dept_code: str, day: dt.date) -> Counter[tuple[str, str]]:
    """(kind, source_ref) of every row a department's system holds up to ``day``, read back
    through the connectors with no watermark and no delivery log, each as often as it is held."""
    source = sources()[dept_code]
    held: Counter[tuple[str, str]] = Counter()
    if source.shape == "drop_folder":
        for path in sorted((engine.systems.drops_dir() / dept_code).iterdir()):
            drop = drop_folder.identify(path)
            if drop.day <= day:
                held.update(
                    (drop.kind.name, row.source_ref) for row in drop_folder.parse(drop).rows
                )
        return held
    for kind in source.kinds:
        pulled = exchange_db.pull_table(
            exchange_url(),
            source.exchange,
            record_kind(kind),
            None,
            day_end(day),
            source.field_map_of(kind),
        )
        held.update((kind, row.source_ref) for row in pulled)
    return held


def _landed(conn: psycopg.Connection, dept_code: str) -> Counter[tuple[str, str]]:
    """(kind, source_ref) of every raw row of a department, each as often as it was landed."""
    landed: Counter[tuple[str, str]] = Counter()
    for kind in sources()[dept_code].kinds:
        rows = conn.execute(
            sql.SQL("select source_ref from {} where dept_code = %s").format(
                sql.Identifier("raw", kind)
            ),
            (dept_code,),
        )
        landed.update((kind, source_ref) for (source_ref,) in rows)
    return landed


def _landing_state(url: str, dept_code: str) -> dict[str, object]:
    """Everything a landing of a department writes: its batches, raw and quarantined rows,
    watermarks and delivered files."""
    with psycopg.connect(url) as conn:

        def rows(query: str) -> list[tuple]:
            return conn.execute(query, (dept_code,)).fetchall()

        return {
            "batches": rows("select batch_id from audit.batches where dept_code = %s order by 1"),
            "raw": _landed(conn, dept_code),
            "quarantined": rows(
                "select count(*) from quarantine.rejected_rows where dept_code = %s"
            ),
            "watermarks": rows(
                "select record_kind, watermark from audit.watermarks"
                " where dept_code = %s order by 1"
            ),
            "delivered": rows(
                "select file_name, sha256 from audit.delivered_files"
                " where dept_code = %s order by 1"
            ),
        }


def _biggest_source(shape: str, day: dt.date) -> str:
    """The department of a shape whose system holds the most rows up to ``day``."""
    return max(
        (code for code, source in sources().items() if source.shape == shape),
        key=lambda code: sum(_held(code, day).values()),
    )


# A landing in a process of its own, as an Airflow task runs one: one department's night.
LAND_ONE_SOURCE = (
    "import datetime, sys\n"
    "from credit.ingest import ingest_source\n"
    "ingest_source(sys.argv[1], datetime.date.fromisoformat(sys.argv[2]))\n"
)
LANDING_APPLICATION = "credit-landing-to-kill"


def _wait_for(
    condition: Callable[[], Found], what: str, process: subprocess.Popen | None = None
) -> Found:
    """Poll ``condition`` until it returns something true, and return that; fail after
    :data:`PATIENCE_SECONDS` or as soon as ``process`` ends."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        if found := condition():
            return found
        if process is not None and process.poll() is not None:
            pytest.fail(f"the landing ended ({process.returncode}) before {what}")
        time.sleep(0.02)
    pytest.fail(f"no {what} after {PATIENCE_SECONDS} s")


def _blocked_landing(conn: psycopg.Connection, table: str) -> tuple[int, str, list[str]] | None:
    """The killed-to-be landing's backend while it waits for ``table``: its pid, its statement
    and the raw tables it holds written, uncommitted."""
    row = conn.execute(
        """
        select a.pid, a.query, array(
            select held.relation::regclass::text from pg_locks as held
            join pg_class as c on c.oid = held.relation
            join pg_namespace as n on n.oid = c.relnamespace
            where held.pid = a.pid and held.granted and held.mode = 'RowExclusiveLock'
                and n.nspname = 'raw' and c.relkind = 'r')
        from pg_stat_activity as a
        join pg_locks as waiting on waiting.pid = a.pid and not waiting.granted
        where a.application_name = %s and a.datname = current_database()
            and waiting.relation = %s::regclass
        """,
        (LANDING_APPLICATION, table),
    ).fetchone()
    return tuple(row) if row else None


@pytest.mark.parametrize(
    ("shape", "last_write"),
    [
        # Its raw rows written, the landing waits to write its batch row (then its watermark).
        pytest.param("exchange_db", ("audit", "batches"), id="exchange_db"),
        # Its raw rows and batch rows written, it waits to record its files delivered.
        pytest.param("drop_folder", ("audit", "delivered_files"), id="drop_folder"),
    ],
)
def test_a_landing_killed_half_way_leaves_nothing_and_its_retry_lands_it_whole(
    county, shape, last_write
) -> None:
    """A landing's process killed with SIGKILL (the kernel's out-of-memory killer, a worker
    lost) once its raw rows are written: no batch of it is there, not half of one, its watermark
    and delivered files are as they were; the retry lands every row once and it reconciles."""
    dept_code = _biggest_source(shape, NIGHT)
    held = _held(dept_code, NIGHT)
    before = _landing_state(county.url, dept_code)
    assert before["raw"] == Counter()  # the county's first night: nothing of it landed yet
    with (
        psycopg.connect(county.url, autocommit=True) as watcher,
        psycopg.connect(county.url) as blocker,
    ):
        # The test holds the table the landing writes next, so it is caught mid-landing.
        table = sql.Identifier(*last_write)
        blocker.execute(sql.SQL("lock table {} in exclusive mode").format(table))
        landing = subprocess.Popen(
            [sys.executable, "-c", LAND_ONE_SOURCE, dept_code, NIGHT.isoformat()],
            env={**os.environ, "PGAPPNAME": LANDING_APPLICATION},
        )
        try:
            pid, statement, written = _wait_for(
                lambda: _blocked_landing(watcher, ".".join(last_write)), "landing mid-way", landing
            )
        finally:
            landing.kill()
            landing.wait()
        blocker.rollback()
        assert landing.returncode == -signal.SIGKILL
        # Its backend notices the client gone once it has the lock, and rolls back.
        _wait_for(
            lambda: (
                not watcher.execute(
                    "select 1 from pg_stat_activity where pid = %s", (pid,)
                ).fetchone()
            ),
            "end of the killed landing's backend",
        )
    assert _landing_state(county.url, dept_code) == before
    # Killed mid-landing: writing its next table, its raw rows written, not committed.
    assert statement.startswith(sql.SQL("copy {}").format(table).as_string())
    assert written, "the landing had written raw rows when it was killed"

    ingest_source(dept_code, NIGHT)  # the task's retry
    validate_pending()
    reconcile_night(NIGHT)  # raises unless every batch of the night reads = accepted + quarantined
    with psycopg.connect(county.url) as conn:
        assert _landed(conn, dept_code) == held, "every row held landed, each once"
        batches = conn.execute(
            "select status, rows_read, rows_accepted + rows_quarantined from audit.batches"
            " where dept_code = %s",
            (dept_code,),
        ).fetchall()
    assert batches and all(
        status == "validated" and read == counted for status, read, counted in batches
    )
    assert sum(read for _, read, _ in batches) == sum(held.values())


@pytest.fixture
def dated_marts(warehouse_url) -> Iterator[str]:
    """A database of its own with the two marts the exports date themselves by, as of NIGHT."""
    url = warehouse.database_url("export_guard")
    warehouse.drop_database(url)
    warehouse.ensure_database(url)
    migrations.upgrade(url)  # audit.transform_builds
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema marts")
        for mart in ("fct_dishonesty_records", "fct_warnings"):
            conn.execute(
                sql.SQL("create table {} as select %s::date as as_of_date").format(
                    sql.Identifier("marts", mart)
                ),
                (NIGHT,),
            )
    yield url
    warehouse.drop_database(url)


BEFORE = NIGHT - dt.timedelta(days=1)
AFTER = NIGHT + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("attempts", "refusal"),
    [
        pytest.param([], None, id="built-by-hand"),
        pytest.param([(BEFORE, "succeeded"), (NIGHT, "succeeded")], None, id="complete"),
        pytest.param([(NIGHT, "failed"), (NIGHT, "succeeded")], None, id="retried"),
        pytest.param([(NIGHT, "succeeded"), (AFTER, "failed")], "half built.* failed", id="failed"),
        pytest.param(
            [(NIGHT, "succeeded"), (AFTER, "running")], "half built.* not finished", id="killed"
        ),
        pytest.param([(AFTER, "succeeded")], "dbt ran by hand since", id="other-day"),
    ],
)
def test_the_exports_read_only_marts_the_transforms_last_attempt_completed(
    dated_marts, attempts, refusal
) -> None:
    """The marts' day is exported only when the transform's last attempt succeeded as of it;
    marts built by dbt by hand, with no attempt recorded, are exported as they are."""
    for number, (as_of, status) in enumerate(attempts, start=1):
        build_id = record_build_start(
            dated_marts, run_id="night", attempt=number, as_of=as_of, command="build"
        )
        if status != "running":
            record_build_end(dated_marts, build_id, status)
    with psycopg.connect(dated_marts) as conn:
        if refusal is None:
            assert marts_as_of_date(conn) == NIGHT
        else:
            with pytest.raises(ExportError, match=refusal):
                marts_as_of_date(conn)
