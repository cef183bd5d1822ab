"""The ``credit`` command: the warehouse, Airflow and the exports (the simulated county and the
demo are the ``county`` command, :mod:`county_sim.cli`)."""

from __future__ import annotations

import atexit
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from credit import airflow_env, hash_key, migrations, roles, service, warehouse
from credit.airflow_api import AirflowApi, AirflowApiError, TaskOutcome, run_dag

if TYPE_CHECKING:
    from credit.exports.outbox import Export

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
service_app = typer.Typer(
    no_args_is_help=True,
    help="The platform as a local service: warehouse and Airflow's four components.",
)
app.add_typer(airflow_app, name="airflow")
app.add_typer(service_app, name="service")
console = Console()


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Create the warehouse database and schemas (starting the embedded server if configured)."""
    console.print(f"warehouse ready at [bold]{warehouse.ensure_warehouse()}[/]")


@warehouse_app.command("upgrade")
def warehouse_upgrade() -> None:
    """Bring the warehouse's own schemas (raw, audit, quarantine) to this release: the
    revisions it lacks and the raw tables the catalogue adds, in one transaction.  Every task
    does this first; run it to upgrade at a time of your choosing and see what it did."""
    url = warehouse.warehouse_url()
    warehouse.ensure_database(url)
    upgrade = migrations.upgrade(url)
    before = upgrade.from_revision or (
        "none (built by a release before migrations)" if upgrade.earlier_release else "none (new)"
    )
    console.print(f"warehouse {_without_password(url)}")
    console.print(f"  from revision {before}")
    console.print(f"  to revision   {upgrade.to_revision}")
    for revision, doc in migrations.history():
        if upgrade.from_revision is None or revision > upgrade.from_revision:
            console.print(f"  ran {revision}: {doc.splitlines()[0]}", soft_wrap=True)
    for change in upgrade.raw_changes:
        console.print(f"  {change}")
    if not upgrade.changed:
        console.print("  already at head: nothing to do")


@warehouse_app.command("history")
def warehouse_history() -> None:
    """List the revisions of the warehouse's own schemas, marking the one it is at."""
    import psycopg

    url = warehouse.warehouse_url()
    warehouse.ensure_database(url)
    with psycopg.connect(url) as conn:
        current = migrations.current_revision(conn)
    table = Table("revision", "what it does", "")
    for revision, doc in migrations.history():
        table.add_row(revision, doc.splitlines()[0], "← current" if revision == current else "")
    console.print(table)


@warehouse_app.command("revision")
def warehouse_revision(message: str) -> None:
    """Write the file of a new revision (after the head), for a change to the warehouse's own
    schemas; fill in its ``upgrade()``."""
    console.print(f"new revision: {migrations.new_revision(message)}", soft_wrap=True)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


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


@warehouse_app.command("as-of")
def warehouse_as_of(
    day: str = typer.Argument(help="the past county day, YYYY-MM-DD"),
) -> None:
    """Rebuild the marts as of a past day, from what the warehouse had received by that night,
    in a copy of the warehouse (<warehouse>_as_of_<yyyymmdd>); the warehouse stays as it is.

    PostgreSQL copies a database only while no session is connected to it: run it between
    nights, with Airflow stopped (`credit service down`)."""
    from credit.as_of import WarehouseBusy, rebuild_as_of

    try:
        copy = rebuild_as_of(date.fromisoformat(day))
    except WarehouseBusy as error:
        console.print(f"[red]refused: {error}[/]")
        raise typer.Exit(1) from error
    console.print(f"the marts as of {day} are in [bold]{_without_password(copy)}[/]")


@warehouse_app.command("rotate-hash-key")
def warehouse_rotate_hash_key() -> None:
    """Change the key resident IDs are hashed with (docs/operations.md, "Rotating the hash key").

    Set the new key as CREDIT_ID_HASH_KEY in every component's environment first, this one
    included; give it again in CREDIT_ID_HASH_KEY_NEW, or when asked (hidden). Re-keys what a
    full refresh keeps (the warnings' register, the subjects' history) and stores the new key;
    the next transform rebuilds everything else from raw.
    """
    new_key = os.environ.get(hash_key.NEW_KEY_ENV) or typer.prompt(
        "new hash key", hide_input=True, confirmation_prompt=True
    )
    try:
        rotation = hash_key.rotate(warehouse.warehouse_url(), new_key.encode())
    except hash_key.RotationRefused as error:
        console.print(f"[red]refused: {error}[/]")
        raise typer.Exit(1) from error
    console.print(f"the hashes of {rotation.identifiers} resident IDs re-keyed:")
    for table, rows in rotation.rekeyed.items():
        console.print(f"  {table}: {rows} rows")
    console.print(
        "the new key is the warehouse's; the next transform rebuilds every model from raw "
        "(--full-refresh): wait for the night, or run it now with "
        "`credit airflow run credit_transform`"
    )


@warehouse_app.command("add-login")
def warehouse_add_login(
    person: str = typer.Argument(help="the login's name: lower-case letters, digits, _"),
    role: str = typer.Argument(
        help="credit_office, credit_analyst, or a department's dept_<dept_code>"
    ),
) -> None:
    """Create a named person's login in one of the warehouse's roles (docs/security.md).

    The password comes from CREDIT_LOGIN_PASSWORD, or is asked for (hidden); it is sent to the
    server encrypted. Run again to change the password or add the person to another role. The
    creation is logged in audit.access_log.
    """
    import psycopg
    from psycopg.types.json import Jsonb

    password = os.environ.get(roles.LOGIN_PASSWORD_ENV) or typer.prompt(
        f"password for {person}", hide_input=True, confirmation_prompt=True
    )
    url = warehouse.ensure_warehouse()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            created = roles.add_login(conn, person, role, password)
            conn.execute(
                "insert into audit.access_log (action, target, detail) values"
                " ('login_created', %s, %s)",
                (person, Jsonb({"role": role, "new_login": created})),
            )
    except roles.InvalidRoleName as error:
        console.print(f"[red]refused: {error}[/]")
        raise typer.Exit(1) from error
    console.print(
        f"{'created' if created else 'updated'} login [bold]{person}[/] in {role}; it connects as "
        f"{_without_password(warehouse.role_url(person))}",
        soft_wrap=True,
    )


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
    unpause: bool = typer.Option(
        False, help="On the service: unpause the DAG first (a paused DAG's run waits)."
    ),
) -> None:
    """Run one DAG and wait for it: on the running service (make up) through its REST API,
    else in this process with ``dag.test()``. Fails unless the run succeeds."""
    date = datetime.fromisoformat(logical_date).replace(tzinfo=UTC) if logical_date else None
    info = service.running_service()
    if info is not None:
        _run_on_service(info, dag_id, date, unpause)
        return
    airflow_env.prepare_airflow()
    console.print(f"{dag_id}: {airflow_env.run_dag(dag_id, date)}")
    _exit_at_once()


@airflow_app.command("catch-up")
def airflow_catch_up(
    first: str = typer.Argument(
        None, help="YYYY-MM-DD; default: the day after the last night exported"
    ),
    last: str = typer.Argument(None, help="YYYY-MM-DD; default: yesterday (county time)"),
    dry_run: bool = typer.Option(False, help="List the nights it would run, and run none."),
) -> None:
    """Run every night from FIRST to LAST that was missed, in order, each whole: ingest, transform
    as of its day, daily export (and a quarterly export due the morning after). Nights already
    exported are skipped; a night that fails stops the command, and running it again resumes
    there. Run it while the service is down (docs/operations.md, "Catching up missed nights")."""
    from credit import nights

    if (info := service.running_service()) is not None:
        console.print(
            f"[red]the service runs ({info.url}): its scheduler would run nights of its own "
            "beside these; stop it (`make down`), catch up, then start it again[/]",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    url = warehouse.ensure_warehouse()
    today = datetime.now(airflow_env.COUNTY_TIMEZONE).date()
    try:
        days = nights.nights_to_run(
            url,
            date.fromisoformat(first) if first else None,
            date.fromisoformat(last) if last else None,
            today,
        )
    except nights.CatchUpRefused as error:
        console.print(f"[red]{error}[/]", soft_wrap=True)
        raise typer.Exit(1) from error
    if not days:
        console.print("every night of the range is exported already: nothing to catch up")
        return
    console.print(f"nights to run: {days[0]} .. {days[-1]} ({len(days)})")
    if dry_run:
        for day in days:
            steps = ", ".join(step.dag_id for step in nights.night_steps(day))
            console.print(f"  {day}: {steps}", soft_wrap=True)
        return
    airflow_env.prepare_airflow()

    def report(night: nights.NightRun) -> None:
        steps = ", ".join(f"{dag_id} {s:.1f} s" for dag_id, s in night.seconds.items())
        console.print(f"night of {night.day}: complete ({steps})", soft_wrap=True)

    try:
        nights.catch_up(url, days, nights.run_night_here, on_night=report)
    except nights.NightFailed as error:
        console.print(f"[red]{error}[/]", soft_wrap=True)
        raise typer.Exit(1) from error
    console.print(f"caught up: {days[0]} .. {days[-1]}")
    _exit_at_once()


def _run_on_service(
    info: service.ServiceInfo, dag_id: str, date: datetime | None, unpause: bool
) -> None:
    seen: dict[tuple[str, int], str | None] = {}

    def progress(tasks: list[TaskOutcome]) -> None:
        for task in tasks:
            key = (task.task_id, task.map_index)
            if task.state != seen.get(key) and task.state in TERMINAL_TASK_STATES:
                console.print(f"  {_task_name(task)}: {task.state}")
            seen[key] = task.state

    try:
        api = AirflowApi(info.url, service.USERNAME, info.password())
        outcome = run_dag(api, dag_id, date, unpause=unpause, on_tasks=progress)
    except AirflowApiError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    table = Table("task", "state", "try", "seconds", title=f"{dag_id} {outcome.run_id}")
    for task in outcome.tasks:
        seconds = "" if task.seconds is None else f"{task.seconds:.1f}"
        table.add_row(_task_name(task), task.state or "", str(task.try_number), seconds)
    console.print(table)
    took = "" if outcome.seconds is None else f" in {outcome.seconds:.1f} s"
    console.print(f"{dag_id}: {outcome.state}{took} ({info.url})")
    if outcome.state != "success":
        raise typer.Exit(1)


TERMINAL_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def _task_name(task: TaskOutcome) -> str:
    return task.task_id if task.map_index < 0 else f"{task.task_id}[{task.map_index}]"


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


@service_app.command("up")
def service_up(
    port: int = typer.Option(None, help="The UI's port (default 8080, or a free one if taken)."),
    paused: bool = typer.Option(False, help="Every DAG paused: nothing runs until unpaused."),
) -> None:
    """Start the warehouse and Airflow (api-server, scheduler, dag-processor, triggerer) in the
    background, wait until every component is healthy and every DAG parsed."""
    with console.status("starting the warehouse and Airflow"):
        info = service.up(port=port, paused=paused)
    console.print(f"Airflow UI and REST API: [bold]{info.url}[/]")
    console.print(f"login: [bold]{service.USERNAME}[/] / [bold]{info.password()}[/]")
    console.print(f"logs: {service.log_path('<component>')}; stop with `make down`")


@service_app.command("down")
def service_down() -> None:
    """Stop every process the service started (and the embedded PostgreSQL if it started it)."""
    stopped = service.down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@service_app.command("status")
def service_status() -> None:
    """What runs: each process of the service and, from the api-server, each component's health."""
    report = service.status()
    table = Table("process", "pid", "state", "health")
    health = report["health"] or {}
    if health:  # the api-server answered with the others' health
        health["api_server"] = {"status": "healthy"}
    for name, recorded in report["processes"].items():
        part = health.get(name.replace("-", "_"), {})
        table.add_row(
            name,
            str(recorded.pid) if recorded else "",
            "running" if recorded else "stopped",
            str(part.get("status", "")),
        )
    console.print(table)
    console.print(f"UI: {report['url']}" if report["url"] else "the service is not running")


@export_app.command("daily")
def export_daily(
    day: str = typer.Option(None, help="YYYY-MM-DD; must be the marts' as-of date (default)."),
) -> None:
    """Write the daily warnings workbooks of the marts' day to the outbox."""
    from credit.exports.daily import export_daily_warnings

    _print_export(export_daily_warnings(date.fromisoformat(day) if day else None))


@export_app.command("publicity")
def export_publicity(
    day: str = typer.Option(None, help="YYYY-MM-DD; must be the marts' as-of date (default)."),
    full: bool = typer.Option(False, help="Add the whole list to the day's changes."),
) -> None:
    """Write the credit office's publicity list (公示清单) of the marts' day to the outbox: the
    changes since the list the portal was given, and the whole list on its weekday or when
    asked."""
    from credit.exports.publicity import export_daily_publicity

    _print_export(export_daily_publicity(date.fromisoformat(day) if day else None, full=full))


@export_app.command("quarterly")
def export_quarterly(
    quarter: str = typer.Argument(None, help="e.g. 2026Q1; default: the last closed quarter."),
) -> None:
    """Write a closed quarter's statistics and progress forms to the outbox."""
    from credit.exports.quarterly import export_quarterly_statistics

    _print_export(export_quarterly_statistics(quarter))


def _print_export(export: Export) -> None:
    """Where an export is: a new version, or the latest one when nothing changed."""
    state = "a new version" if export.new else "unchanged: the latest version"
    where = f"[bold]{export.folder}[/] ({state}, v{export.version})"
    console.print(f"{len(export.files)} files in {where}")


@export_app.command("deliver")
def export_deliver(
    kind: str = typer.Argument(..., help="daily_warnings | daily_publicity | quarterly_statistics"),
    period: str = typer.Argument(..., help="a day (2026-04-08) or a quarter (2026Q1)"),
    force: bool = typer.Option(False, help="Send again files a recipient already received."),
) -> None:
    """E-mail an export's files to their recipients (AIRFLOW_CONN_CREDIT_SMTP)."""
    from credit.exports.delivery import deliver

    for recipient, outcome in deliver(kind, period, force=force).items():
        console.print(f"{recipient}: {outcome}")


@app.command("check")
def credit_check(
    code_list: str = typer.Argument(..., help="the USCCs: a .csv or .xlsx list"),
    purpose: str = typer.Option(..., help="award | subsidy | approval | procurement"),
    as_of: str = typer.Option(None, help="YYYY-MM-DD; default: the marts' as-of date."),
    output: str = typer.Option(..., "-o", "--output", help="the workbook to write (.xlsx)"),
) -> None:
    """Credit check (信用核查) of a list of subjects for a purpose, as a workbook."""
    from credit.credit_check import CheckError, check_codes, read_code_list, write_check_workbook

    try:
        codes = read_code_list(Path(code_list))
        outcome = check_codes(codes, purpose, date.fromisoformat(as_of) if as_of else None)
    except CheckError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    write_check_workbook(outcome, Path(output))
    counts = ", ".join(f"{name} {count}" for name, count in sorted(outcome.result_counts().items()))
    console.print(f"{len(codes)} codes as of {outcome.as_of}: {counts} → [bold]{output}[/]")
