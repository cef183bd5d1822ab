"""The demo: a simulated county, the nightly chain across a quarter's end, and the exports.

Per-night cost matters (docs/benchmarks.md: an ingest run takes tens of seconds), so the demo
runs nights the way a new installation meets them, and transforms twice:

1. a **catch-up night** two days before the quarter ends: a new installation's first night,
   whose connectors pull every source's backlog since the county's first day (by watermark),
   then the transform as of that night, which issues the quarter's inspection plan (a plan is
   issued once, by the first build of its quarter);
2. **three nights of ingestion one by one** across the quarter's end (its last two days and the
   first day of the next);
3. the night of the quarterly export day (the Nth working day after the quarter ends,
   ``config/exports.yaml``), which catches up the nights in between like any night after an
   outage; then the transform as of that night, the **daily warnings** and the **quarterly
   statistics**.  In production the transform and the daily export follow every night's ingest
   (Asset schedules); the marts are built from dated facts, so building them as of the last
   night gives the same numbers the nightly runs end with, but for the warnings' dates: a
   warning is dated the night the warehouse first raised it, here the first or the last night
   (what held on the first marked as backlog, 存量预警).

The terminal shows each step with its time and the summary; everything the DAG runs write (Airflow's
task logs, dbt, Great Expectations) goes to a log file under ``.data/logs/``, whose end is shown if
a step fails.
"""

from __future__ import annotations

import os
import sys
import time as clock
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from county_sim import engine
from county_sim.api_server import serve_api
from county_sim.settings import api_token
from credit import airflow_env, warehouse
from credit.exports.outbox import outbox_dir
from credit.exports.periods import quarter_bounds
from credit.exports.schedule import export_day
from credit.exports.settings import export_settings
from credit.ingest import API_CONN
from credit.paths import data_dir
from credit.validation import data_docs_dir

console = Console()


def demo_nights(quarter: str) -> list[date]:
    """The nights the demo ingests for a quarter: catch-up, three around its end, export day."""
    _, end = quarter_bounds(quarter)
    working_days = export_settings()["quarterly_statistics"]["working_days_after_quarter_end"]
    last = export_day(end, working_days)
    return [end - timedelta(days=2), end - timedelta(days=1), end, end + timedelta(days=1), last]


def run(*, seed: int, scale: str, first_day: date, quarter: str) -> None:
    nights = demo_nights(quarter)
    if first_day > nights[0]:
        raise ValueError(f"the county must start before {nights[0]} to cover {quarter}")
    _refuse_a_county_past(nights[-1])
    log = data_dir() / "logs" / f"demo-{datetime.now():%Y%m%d-%H%M%S}.log"
    console.print(f"Logs of every step: {log}")
    with _output_to(log):
        url = warehouse.ensure_warehouse()
        console.rule(f"warehouse {url}")
        _step("Airflow metadata and reference data", log, _prepare_airflow)
        console.rule(f"county: seed {seed}, scale {scale}, {first_day} .. {nights[-1]}")
        _step("simulate the county", log, _prepare_county, seed, scale, first_day, nights[-1])
        # The county's HTTP API on a free port, so a demo never collides with another one running.
        with serve_api(port=0) as api:
            os.environ[f"AIRFLOW_CONN_{API_CONN.upper()}"] = api.url.replace(
                "http://", f"http://user:{api_token()}@"
            )
            for night in nights:
                logical_date = datetime.combine(night, time(), airflow_env.COUNTY_TIMEZONE)
                _step(
                    f"night of {night}: credit_ingest",
                    log,
                    airflow_env.run_dag,
                    "credit_ingest",
                    logical_date,
                )
                if night == nights[0]:
                    _step(
                        f"night of {night}: credit_transform (issues the {quarter} plan)",
                        log,
                        airflow_env.run_dag,
                        "credit_transform",
                        None,
                        as_of_date=night.isoformat(),
                    )
        console.rule(f"transform as of {nights[-1]}, daily warnings and publicity list")
        _step(
            "credit_transform (one dbt build)",
            log,
            airflow_env.run_dag,
            "credit_transform",
            None,
            as_of_date=nights[-1].isoformat(),
        )
        _step("credit_export_daily", log, airflow_env.run_dag, "credit_export_daily")
        export_at = datetime.combine(nights[-1], time(6), airflow_env.COUNTY_TIMEZONE)
        console.rule(f"quarterly statistics of {quarter}, exported {nights[-1]}")
        _step(
            "credit_export_quarterly",
            log,
            airflow_env.run_dag,
            "credit_export_quarterly",
            export_at,
        )
    _summarise(url, first_day, nights[-1])


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's and its children's stdout and stderr to ``log``, the console to the
    terminal: a night's Airflow task logs run to tens of thousands of lines."""
    log.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    saved = [os.dup(1), os.dup(2)]
    previous, console.file = console.file, terminal
    sys.stdout.flush()
    sys.stderr.flush()
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, target in zip(saved, (1, 2), strict=True):
                os.dup2(fd, target)
                os.close(fd)
            console.file = previous
            terminal.close()


def _step(
    title: str, log: Path, action: Callable[..., object], *args: object, **kwargs: object
) -> None:
    """Run one step of the demo under a spinner, then print its time; on failure the log's end."""
    started = clock.monotonic()
    try:
        with console.status(title):
            action(*args, **kwargs)
    except Exception:
        console.print(f"[red]✗ {title}[/] failed; the end of {log}:")
        sys.stdout.flush()  # what Python still buffers belongs at the log's end
        sys.stderr.flush()
        with log.open(encoding="utf-8", errors="replace") as lines:
            console.print("".join(deque(lines, maxlen=40)), markup=False, highlight=False)
        raise
    minutes, seconds = divmod(round(clock.monotonic() - started), 60)
    console.print(f"[green]✓[/] {title} [dim]({minutes}m {seconds:02d}s)[/]")


def _prepare_airflow() -> None:
    airflow_env.prepare_airflow()
    airflow_env.run_dag("credit_reference")


def _refuse_a_county_past(last_night: date) -> None:
    """The demo replays nights up to ``last_night``; a county (and so a warehouse) that went past
    it, as ``make up`` advances it to yesterday, would feed its marts days it has not reached."""
    try:
        reached = engine.load_state().last_day
    except FileNotFoundError:
        return
    if reached > last_night:
        raise SystemExit(
            f"The county in {data_dir()} holds days up to {reached}, past the demo's last night "
            f"{last_night} (`make up` advances it to yesterday). Run the demo in a data folder "
            "of its own, e.g. `CREDIT_DATA_DIR=.data/demo make demo` (with CREDIT_WAREHOUSE_URL "
            "set, name another database too), or start afresh with `make clean`."
        )


def _prepare_county(seed: int, scale: str, first_day: date, last_day: date) -> None:
    """Create the county unless the same one exists, then generate its days."""
    try:
        state = engine.load_state()
        same = (state.seed, state.scale, state.start) == (seed, scale, first_day)
    except FileNotFoundError:
        same = False
    if not same:
        engine.create_county(seed, scale, first_day)
    engine.advance(last_day)


def _summarise(url: str, first_day: date, last_day: date) -> None:
    with psycopg.connect(url) as conn:
        nights = conn.execute(
            """
            select logical_date, count(*), sum(rows_read), sum(rows_accepted),
                   sum(rows_quarantined)
            from audit.batches where logical_date between %s and %s
            group by logical_date order by logical_date
            """,
            (first_day, last_day),
        ).fetchall()
        (rejected_files,) = conn.execute(
            "select count(*) from quarantine.rejected_files"
        ).fetchone()
        (unbalanced,) = conn.execute(
            "select count(*) from audit.batches"
            " where status <> 'validated' or rows_read <> rows_accepted + rows_quarantined"
        ).fetchone()
        exports = conn.execute(
            """
            select kind, period, file_count, row_count, folder from audit.exports
            where export_id in (select max(export_id) from audit.exports group by kind, period)
            order by kind, period
            """
        ).fetchall()
    table = Table("night", "batches", "rows read", "accepted", "quarantined", title="ingestion")
    for night in nights:
        table.add_row(*(f"{value:,}" if isinstance(value, int) else str(value) for value in night))
    console.print(table)
    console.print(f"rejected files: {rejected_files}")
    console.print(
        "reconciliation: every batch has rows read = accepted + quarantined"
        if unbalanced == 0
        else f"[red]reconciliation: {unbalanced} batches do not balance[/]"
    )
    console.print(f"Data Docs: {data_docs_dir() / 'index.html'}")
    marts = Table("mart", "rows", title="warehouse")
    for mart, count in _mart_counts(url).items():
        marts.add_row(mart, f"{count:,}")
    console.print(marts)
    files = Table("export", "period", "files", "rows", "folder", title="exports (outbox)")
    for kind, period, file_count, row_count, folder in exports:
        files.add_row(kind, period, str(file_count), f"{row_count:,}", folder)
    console.print(files)
    console.print(f"Outbox: {outbox_dir()}  (each period's version v<n> has a manifest.json)")
    console.print('Query the warehouse: psql "$(.venv/bin/credit warehouse url)"')


MARTS = (
    "marts.dim_subjects",
    "marts.fct_credit_records",
    "marts.fct_dishonesty_records",
    "marts.dossiers",
    "marts.fct_subject_grades",
    "marts.fct_dishonesty_metrics",
    "marts.fct_warnings",
    "marts.fct_publicity_records",
)


def _mart_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
            for table in MARTS
        }
