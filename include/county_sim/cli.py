"""``county``: create a simulated county, advance its systems, serve its API, summarise, and the
demo that runs the platform against it."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from county_sim import engine
from county_sim.api_server import start_api
from county_sim.settings import simulator_config

app = typer.Typer(
    no_args_is_help=True,
    help="The county simulator (县域模拟器): 34 departments' systems, and the demo.",
)
console = Console()
# The name `make down` knows the county API by (credit.service records it).
API_PROCESS = "county-api"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-03-31") from error


@app.command("create")
def create(
    seed: Annotated[int, typer.Option(help="Random seed: same seed and scale, same bytes.")] = 42,
    scale: Annotated[str, typer.Option(help="test | demo | jiangyin (simulator.yaml)")] = "demo",
    start: Annotated[str | None, typer.Option(help="First simulated day (YYYY-MM-DD).")] = None,
) -> None:
    """Make the population and reset the three systems and the ground truth."""
    first = _date(start or str(simulator_config()["start_date"]))
    with console.status("building the population"):
        state = engine.create_county(seed, scale, first)
    population = engine.population_of(state)
    console.print(
        f"county created: seed {seed}, scale {scale}, start {first}, "
        f"{len(population.subjects):,} subjects (incl. future registrations), "
        f"{len(population.persons):,} key-group persons"
    )


@app.command("advance")
def advance(
    to: Annotated[str, typer.Option("--to", help="Last day to generate (YYYY-MM-DD).")],
) -> None:
    """Generate every day from the last generated day to --to into all three shapes."""
    target = _date(to)
    state = engine.load_state()
    days = (target - state.last_day).days
    if days <= 0:
        console.print(f"already generated up to {state.last_day}")
        return
    began = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("simulating days", total=days)

        def tick(day: dt.date) -> None:
            progress.update(task, advance=1, description=f"simulating {day}")

        engine.advance(target, on_day=tick)
    console.print(f"advanced to {target} in {time.perf_counter() - began:.1f} s")


@app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default from simulator.yaml).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
) -> None:
    """Serve the HTTP API departments' rows until Ctrl-C."""
    server = start_api(host=host, port=port)
    console.print(f"serving the county API at [bold]{server.url}/api/v1/<dept>/<kind>[/]")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        console.print("stopped")


@app.command("up")
def up() -> None:
    """The county's systems in the background for ``make up``: the county (the demo's, created
    when there is none) advanced to yesterday, its HTTP API served until ``make down``."""
    from credit import service
    from credit.airflow_env import COUNTY_TIMEZONE
    from credit.net import accepts_connections

    service.start_warehouse()  # the exchange database lives there; `make down` stops it
    try:
        state = engine.load_state()
    except FileNotFoundError:
        create()
        state = engine.load_state()
    yesterday = dt.datetime.now(COUNTY_TIMEZONE).date() - dt.timedelta(days=1)
    if state.last_day < yesterday:
        advance(yesterday.isoformat())
    api = simulator_config()["api"]
    url = f"http://{api['host']}:{api['port']}"
    if service.alive(API_PROCESS) is None:
        if accepts_connections(api["host"], api["port"]):
            raise typer.BadParameter(f"{url} is taken by another program")
        county = str(Path(sys.executable).with_name("county"))
        service.start_process(API_PROCESS, [county, "serve"], os.environ)
        deadline = time.monotonic() + 30
        while not accepts_connections(api["host"], api["port"]):
            if service.alive(API_PROCESS) is None or time.monotonic() > deadline:
                log = service.log_path(API_PROCESS)
                console.print(f"[red]the county API did not start[/], see {log}")
                raise typer.Exit(1)
            time.sleep(0.2)
    last_day = engine.load_state().last_day
    console.print(f"county API at [bold]{url}/api/v1/<dept>/<kind>[/] (days up to {last_day})")


@app.command("summary")
def summary() -> None:
    """Print rows per department, kind and shape, and the injected defects."""
    report = engine.summary(engine.load_state())
    console.print(
        f"seed {report['seed']}, scale {report['scale']}, {report['start']} .. "
        f"{report['last_day']}, {report['pending_followups']:,} follow-ups pending"
    )
    table = Table("dept_code", "record_kind", "shape", "rows")
    for row in report["rows"]:
        table.add_row(row["dept_code"], row["record_kind"], row["shape"], f"{row['rows']:,}")
    console.print(table)
    defects = Table("defect", "rows")
    for name, count in report["defects"].items():
        defects.add_row(name, f"{count:,}")
    console.print(defects)
    total = sum(row["rows"] for row in report["rows"])
    console.print(f"total {total:,} source rows, {sum(report['defects'].values()):,} with defects")


@app.command("demo")
def demo(
    seed: Annotated[int, typer.Option(help="County simulator seed.")] = 42,
    scale: Annotated[str, typer.Option(help="test | demo | jiangyin")] = "demo",
    start: Annotated[str, typer.Option(help="First simulated day.")] = "2026-01-01",
    quarter: Annotated[str, typer.Option(help="The quarter whose end is crossed.")] = "2026Q1",
) -> None:
    """Run the whole story: simulate the county, run the nightly chain across a quarter's end,
    export daily warnings and the quarter's statistics."""
    from credit import airflow_env

    airflow_env.apply_airflow_environment()  # before the demo's imports load Airflow
    from county_sim import demo as story

    story.run(seed=seed, scale=scale, first_day=_date(start), quarter=quarter)
