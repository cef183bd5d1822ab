"""Benchmark of the nightly transform: the Cosmos DAG against a bare ``dbt build``.

A simulated county (``--scale``, ``--days``) is ingested night by night into a scratch warehouse
``<warehouse>_bench_transform`` (ingestion is not timed). Then, on the same data:

* ``dbt build``: the whole project in one in-process dbt invocation, first full, then again
  (the incremental fact tables take only the new batches);
* ``credit_transform``: the Airflow DAG that Cosmos renders from the manifest, one task per dbt
  node running ``dbt build`` on it, run in-process with ``dag.test()``.

Both build as of the last simulated day (dbt var ``as_of_date``; the DAG's run date).

Results replace the "Transform" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/bench_transform.py [--scale demo] [--days 14] [--no-doc]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
FIRST_DAY = dt.date(2026, 1, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()

    from credit import warehouse

    base = warehouse.warehouse_url()
    os.environ[warehouse.ENV_URL] = f"{base}_bench_transform"
    os.environ["CREDIT_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-transform-")
    os.environ["DBT_TARGET_PATH"] = str(Path(os.environ["CREDIT_DATA_DIR"]) / "dbt_target")
    for suffix in ("", "_airflow", "_exchange"):
        warehouse.drop_database(f"{os.environ[warehouse.ENV_URL]}{suffix}")
    try:
        timings, nodes, tasks, rows = run(args.scale, args.days)
    finally:
        for suffix in ("", "_airflow", "_exchange"):
            warehouse.drop_database(f"{os.environ[warehouse.ENV_URL]}{suffix}")
    section = render(args, timings, nodes, tasks, rows)
    print(section)
    if not args.no_doc:
        text = DOC.read_text(encoding="utf-8")
        pattern = re.compile(r"## Transform\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(section.rstrip(), text) if pattern.search(text) else f"{text}\n{section}"
        DOC.write_text(text, encoding="utf-8")


def run(scale: str, days: int) -> tuple[dict[str, float], int, int, int]:
    from credit import airflow_env
    from credit.dbt import run_dbt
    from credit.ingest import ingest_source, prepare_landing
    from credit.simulator import engine
    from credit.simulator.api_server import serve_api
    from credit.sources import sources

    last_day = FIRST_DAY + dt.timedelta(days=days - 1)
    engine.create_county(7, scale, FIRST_DAY)
    engine.advance(last_day)
    prepare_landing()
    with serve_api():
        for offset in range(days):
            for dept_code in sources():
                ingest_source(dept_code, FIRST_DAY + dt.timedelta(days=offset))
    airflow_env.prepare_airflow()
    as_of = ["--vars", json.dumps({"as_of_date": last_day.isoformat()})]
    timings = {}
    began = time.perf_counter()
    result = run_dbt(["build", *as_of])
    timings["dbt build (full)"] = time.perf_counter() - began
    nodes = len(result.results)
    began = time.perf_counter()
    run_dbt(["build", *as_of])
    timings["dbt build (again, incremental)"] = time.perf_counter() - began
    from airflow.dag_processing.dagbag import DagBag

    tasks = len(DagBag(dag_folder=str(ROOT / "dags")).dags["credit_transform"].tasks)
    began = time.perf_counter()
    night = dt.datetime.combine(last_day, dt.time(1), airflow_env.COUNTY_TIMEZONE)
    airflow_env.run_dag("credit_transform", logical_date=night)
    timings["credit_transform DAG (Cosmos, dag.test)"] = time.perf_counter() - began
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        rows = conn.execute("select count(*) from marts.fct_credit_records").fetchone()[0]
    return timings, nodes, tasks, rows


def render(
    args: argparse.Namespace, timings: dict[str, float], nodes: int, tasks: int, rows: int
) -> str:
    load = f"{os.getloadavg()[1]:.1f}"  # the last five minutes: the DAG run
    lines = [
        "## Transform",
        "",
        f"`bench/bench_transform.py --scale {args.scale} --days {args.days}`, "
        f"{dt.date.today()}, {os.cpu_count()} CPUs (shared: {load} load average while it ran): "
        f"{rows:,} credit-record versions in "
        f"`marts.fct_credit_records`, {nodes} dbt nodes (models, seeds, snapshots, tests), "
        f"{tasks} Airflow tasks in the Cosmos DAG.",
        "",
        "| run | seconds |",
        "|---|---|",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in timings.items()),
        "",
        "Cosmos pays Airflow's per-task cost (a task instance, its state, a dbt invocation) for "
        "every node, in exchange for per-model retries, logs and the dbt graph in the UI. Each "
        "task's `dbt build` loads the whole project before it builds its node. Measured on 8 "
        "staging-view tasks under `dag.test()` (load about 3): dbt's partial parse 0.5 s, the "
        "graph of every node and test edge 0.4 s, the view, its tests and the on-run-start hook "
        "1.6 s; then Cosmos resets dbt's adapters and runs `gc.collect()` (1.2 s in the long-"
        "lived `dag.test()` process), and `dag.test()` adds about 2 s of its own. Until "
        "2026-11-26 every task also wrote manifest.json twice, graph.gpickle and run_results.json"
        " (2.3 s) that nothing reads; the tasks now pass `--no-write-json` (the same 8 tasks back"
        " to back: dbt invocation 5.1 s -> 2.8 s, Cosmos task 6.6 s -> 4.5 s; median DAG task 8.6"
        " s -> 6.9 s; the DAG took 864.5 s at load 3.2 before, with 961 nodes, and 642.7 s on "
        "2026-11-25 at load 4.9, with 902). The run's day reaches dbt as the environment "
        "variable `CREDIT_AS_OF_DATE`, not as `--vars`: a new var made the first task of each run"
        " re-parse the whole project (~20 s, and with the LocalExecutor every task of the first "
        "parallel wave at once), while a changed environment variable re-parses only the model "
        "that reads it. In-process dbt "
        "(`InvocationMode.DBT_RUNNER`) avoids a subprocess per task; `dag.test()` runs the tasks "
        "one at a time, while the LocalExecutor runs independent nodes in parallel. The machine "
        "is shared with other jobs (see the load average), which inflates both timings; read the "
        "ratio rather than the seconds.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
