"""The demo: a simulated county and the nightly chain over a range of days, end to end."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import psycopg
from rich.console import Console
from rich.table import Table

from credit import airflow_env, warehouse
from credit.simulator import engine
from credit.simulator.api_server import serve_api
from credit.validation import data_docs_dir

console = Console()


def run(*, seed: int, scale: str, first_day: date, days: int) -> None:
    last_day = first_day + timedelta(days=days - 1)
    url = warehouse.ensure_warehouse()
    console.rule(f"warehouse {url}")
    airflow_env.prepare_airflow()
    airflow_env.run_dag("credit_reference")
    console.rule(f"county: seed {seed}, scale {scale}, {first_day} .. {last_day}")
    _prepare_county(seed, scale, first_day, last_day)
    with serve_api():
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            console.rule(f"night of {day}")
            airflow_env.run_dag(
                "credit_ingest", datetime.combine(day, time(), airflow_env.COUNTY_TIMEZONE)
            )
    console.rule("transform: the dbt warehouse, rendered by Cosmos")
    airflow_env.run_dag("credit_transform")
    _summarise(url, first_day, last_day)


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
    console.print('Query the warehouse: psql "$(.venv/bin/credit warehouse url)"')


MARTS = (
    "marts.dim_subjects",
    "marts.fct_credit_records",
    "marts.fct_dishonesty_records",
    "marts.fct_dishonesty_record_versions",
    "marts.dossiers",
)


def _mart_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
            for table in MARTS
        }
