"""Benchmark of nightly ingestion: ``credit_ingest`` nights of a simulated county, end to end.

A county (``--scale``, seed 42, from 2026-01-01, as ``make demo`` builds it) in a scratch
warehouse ``<warehouse>_bench_nights``; each night is ``credit airflow run credit_ingest DAY``,
a process of its own as a user starts it (Airflow's start-up and the in-process execution API
included), timed from outside:

* the **catch-up night** of 2026-03-29: a new installation's first night, the quarter's backlog;
* the **ordinary nights** of 30 and 31 March and 1 April, one day of deliveries each;
* **the same night again**, 1 April: nothing new to land or validate.

For each night: wall seconds, peak RSS, rows read and batches landed, and the durations of the
DAG's tasks from Airflow's metadata database (``prepare``, the source tasks together,
``validate``, ``reconcile``). Results go to ``bench/results/nights-<scale>.json`` and replace
the "Nights" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/bench_nights.py [--scale demo] [--no-doc]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from typing import Any

from common import (
    VENV_BIN,
    publish,
    result_header,
    run_command,
    scratch_warehouse,
    task_seconds,
    timed,
)

FIRST_DAY = dt.date(2026, 1, 1)
CATCH_UP = dt.date(2026, 3, 29)
ORDINARY = (dt.date(2026, 3, 30), dt.date(2026, 3, 31), dt.date(2026, 4, 1))
SEED = 42


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()

    os.environ["CREDIT_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-nights-")
    with scratch_warehouse("bench_nights"):
        result = run(args)
    publish(
        f"nights-{args.scale}", result, render(result), doc=not args.no_doc, before="## Transform"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from county_sim import engine
    from county_sim.api_server import serve_api
    from county_sim.settings import api_token
    from credit.ingest import API_CONN

    engine.create_county(SEED, args.scale, FIRST_DAY)
    engine.advance(CATCH_UP)
    run_command([VENV_BIN / "credit", "airflow", "prepare"])
    nights = []
    with serve_api(port=0) as api:
        env = {
            f"AIRFLOW_CONN_{API_CONN.upper()}": api.url.replace(
                "http://", f"http://user:{api_token()}@"
            )
        }
        nights.append(_night("catch-up", CATCH_UP, env))
        for day in ORDINARY:
            engine.advance(day)
            nights.append(_night("ordinary", day, env))
        nights.append(_night("the same night again", ORDINARY[-1], env))
    return {
        **result_header("nights", args.scale),
        "nights": nights,
    }


def _night(name: str, day: dt.date, env: dict[str, str]) -> dict[str, Any]:
    timing = timed([VENV_BIN / "credit", "airflow", "run", "credit_ingest", day.isoformat()], env)
    return {
        "night": name,
        "day": day.isoformat(),
        **timing,
        **_landed(day),
        "tasks": task_seconds("credit_ingest"),
    }


def _landed(day: dt.date) -> dict[str, int]:
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        batches, rows, kinds = conn.execute(
            "select count(*), coalesce(sum(rows_read), 0), count(distinct record_kind)"
            " from audit.batches where logical_date = %s",
            (day,),
        ).fetchone()
    return {"batches": int(batches), "rows_read": int(rows), "record_kinds": int(kinds)}


def render(result: dict[str, Any]) -> str:
    lines = [
        "## Nights",
        "",
        f"`bench/bench_nights.py --scale {result['scale']}`, {result['date']}, commit "
        f"{result['commit']}, {result['machine']}: each night is `credit airflow run "
        "credit_ingest DAY`, a process of its own (Airflow's start-up and `dag.test()`'s "
        "in-process execution API included); task seconds from Airflow's metadata database, "
        "the 34 source tasks summed; rows, batches and kinds are the day's (a night run again "
        "lands nothing new). Load average (5 min) at the end: "
        f"{result['load_average_5min_end']}.",
        "",
        "| night | day | rows read | batches | kinds | wall seconds | prepare | sources | "
        "validate | reconcile | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for night in result["nights"]:
        tasks = night["tasks"]
        lines.append(
            f"| {night['night']} | {night['day']} | {night['rows_read']:,} | {night['batches']} "
            f"| {night['record_kinds']} | {night['seconds']:.1f} | {tasks.get('prepare', 0):.1f} "
            f"| {tasks.get('ingest', 0):.1f} | {tasks.get('validate', 0):.1f} "
            f"| {tasks.get('reconcile', 0):.1f} | {night['peak_rss_mb']} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
