"""The ``credit`` command: the warehouse, Airflow and the exports (the simulated county and the
demo are the ``county`` command, :mod:`county_sim.cli`)."""

from __future__ import annotations

import atexit
import os
import sys
from datetime import UTC, date, datetime
from typing import NoReturn

import typer
from rich.console import Console

from credit import airflow_env, warehouse

app = typer.Typer(
    no_args_is_help=True, help="Jiangyin industry + credit (行业+信用) data platform."
)
warehouse_app = typer.Typer(no_args_is_help=True, help="The warehouse's PostgreSQL server.")
airflow_app = typer.Typer(no_args_is_help=True, help="Airflow with the project's configuration.")
export_app = typer.Typer(
    no_args_is_help=True, help="Exports to the credit office: daily warnings, quarterly statistics."
)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(export_app, name="export")
app.add_typer(airflow_app, name="airflow")
console = Console()


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Create the warehouse database and schemas (starting the embedded server if configured)."""
    console.print(f"warehouse ready at [bold]{warehouse.ensure_warehouse()}[/]")


@warehouse_app.command("url")
def warehouse_url() -> None:
    """Print the warehouse URL (for psql, dbt, notebooks)."""
    print(warehouse.warehouse_url())


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded PostgreSQL (nothing to do when CREDIT_WAREHOUSE_URL names a server)."""
    if os.environ.get(warehouse.ENV_URL):
        console.print(f"{warehouse.ENV_URL} is set: that server is not ours to stop")
        return
    warehouse.embedded_server().stop()
    console.print("embedded PostgreSQL stopped")


@airflow_app.command("prepare")
def airflow_prepare() -> None:
    """Create and migrate Airflow's metadata database."""
    airflow_env.prepare_airflow()
    console.print(f"Airflow home: [bold]{airflow_env.airflow_home()}[/]")


@airflow_app.command("env")
def airflow_print_env() -> None:
    """Print the Airflow variables as shell exports: ``eval "$(credit airflow env)"``."""
    for key, value in airflow_env.airflow_environment().items():
        print(f"export {key}={value!r}")


@airflow_app.command("run")
def airflow_run(
    dag_id: str,
    logical_date: str = typer.Argument(None, help="YYYY-MM-DD; today when omitted"),
) -> None:
    """Run one DAG in-process with ``airflow dags test`` (no scheduler needed)."""
    airflow_env.prepare_airflow()
    date = datetime.fromisoformat(logical_date).replace(tzinfo=UTC) if logical_date else None
    console.print(f"{dag_id}: {airflow_env.run_dag(dag_id, date)}")
    _exit_at_once()


def _exit_at_once() -> NoReturn:
    """End the process after its exit handlers, without tearing the interpreter down: with
    Airflow and dbt loaded, freeing every module object takes seconds after the work is done."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@airflow_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def airflow_exec(ctx: typer.Context) -> None:
    """Run any ``airflow`` command with the project's configuration, e.g. ``exec scheduler``."""
    airflow_env.airflow_command(list(ctx.args))


@airflow_app.command("standalone")
def airflow_standalone() -> None:
    """Airflow's UI, scheduler and workers in one process (``airflow standalone``)."""
    values = airflow_env.prepare_airflow()
    console.print("Airflow UI on http://localhost:8080 (Ctrl-C stops it)")
    airflow_env.airflow_command(["standalone"], values)


@export_app.command("daily")
def export_daily(
    day: str = typer.Option(None, help="YYYY-MM-DD; must be the marts' as-of date (default)."),
) -> None:
    """Write the daily warnings workbooks of the marts' day to the outbox."""
    from credit.exports.daily import export_daily_warnings

    export = export_daily_warnings(date.fromisoformat(day) if day else None)
    console.print(f"{len(export.files)} files in [bold]{export.folder}[/]")


@export_app.command("quarterly")
def export_quarterly(
    quarter: str = typer.Argument(None, help="e.g. 2026Q1; default: the last closed quarter."),
) -> None:
    """Write a closed quarter's statistics and progress forms to the outbox."""
    from credit.exports.quarterly import export_quarterly_statistics

    export = export_quarterly_statistics(quarter)
    console.print(f"{len(export.files)} files in [bold]{export.folder}[/]")


@export_app.command("deliver")
def export_deliver(
    kind: str = typer.Argument(..., help="daily_warnings | quarterly_statistics"),
    period: str = typer.Argument(..., help="a day (2026-04-08) or a quarter (2026Q1)"),
    force: bool = typer.Option(False, help="Send again files a recipient already received."),
) -> None:
    """E-mail an export's files to their recipients (AIRFLOW_CONN_CREDIT_SMTP)."""
    from credit.exports.delivery import deliver

    for recipient, outcome in deliver(kind, period, force=force).items():
        console.print(f"{recipient}: {outcome}")
