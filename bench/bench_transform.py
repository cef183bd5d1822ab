"""Benchmark of the nightly transform: ``credit_transform`` against a bare ``dbt build``.

A simulated county (``--scale``, seed 42, 2026-01-01 to 2026-04-08, as ``make demo`` builds it)
is ingested in one catch-up night into a scratch warehouse ``<warehouse>_bench_transform``, and
the reference data loaded by ``credit_reference`` (none of this is timed). Then, on the same
data, as of 2026-04-08, each a process of its own as a user would start it:

* ``dbt build --full-refresh``: the whole project from scratch (``dbt`` command line);
* without the service, alternately, ``--runs`` rounds of: a bare ``dbt build``; ``dbt build``
  with the night's selection (what ``credit_transform`` builds: everything but the reference
  data); ``credit airflow run credit_transform 2026-04-08`` (the one-task DAG in a process of
  its own under ``dag.test()``);
* with the service up (``credit service up``: Airflow's api-server, scheduler, dag-processor and
  triggerer, as ``make up`` starts them), ``--runs`` rounds of: a bare ``dbt build``; the same
  ``credit airflow run``, which now triggers the DAG through the REST API and waits for it.
  Their ratio is the orchestrated transform's cost (issue 13's target: at most 1.3x);
* with ``--watcher``, once: the same night rendered by Cosmos in ``ExecutionMode.WATCHER``
  (``bench/dags/transform_watcher.py``: one producer ``dbt build`` and a sensor task per model).

Medians are reported. Results go to ``bench/results/transform-<scale>.json`` and replace the
"Transform" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/bench_transform.py [--scale demo] [--runs 3] [--watcher] [--no-doc]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, VENV_BIN, publish, result_header, run_command, scratch_warehouse, timed

FIRST_DAY = dt.date(2026, 1, 1)
NIGHT = dt.date(2026, 4, 8)
SEED = 42
# WATCHER runs its producer and its sensors at once, in LocalExecutor workers: given this long.
WATCHER_TIMEOUT = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watcher", action="store_true", help="also time Cosmos WATCHER mode")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()

    os.environ["CREDIT_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-transform-")
    os.environ["DBT_TARGET_PATH"] = str(Path(os.environ["CREDIT_DATA_DIR"]) / "dbt_target")
    with scratch_warehouse("bench_transform"):
        result = run(args)
    publish(f"transform-{args.scale}", result, render(result), doc=not args.no_doc)


def run(args: argparse.Namespace) -> dict[str, Any]:
    source_rows = build_county(args.scale)
    dbt_env = _dbt_environment()
    run_command([VENV_BIN / "credit", "airflow", "prepare"])
    run_command([VENV_BIN / "credit", "airflow", "run", "credit_reference", NIGHT.isoformat()])
    dag = [VENV_BIN / "credit", "airflow", "run", "credit_transform", NIGHT.isoformat()]
    # The first night (every seed loaded), not timed: the nights after it are.
    timings: dict[str, list[dict[str, Any]]] = {"first_night": [timed(dag)]}
    nodes = _node_count(Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json")
    from credit.transform import nightly_build

    dbt = [VENV_BIN / "dbt"]
    bare = [*dbt, "build", *_project_flags()]
    timings["full_refresh"] = [
        timed([*dbt, "build", "--full-refresh", *_project_flags()], dbt_env)
        for _ in range(args.runs)
    ]
    for name in ("bare_alone", "same_work", "dag_test", "bare", "dag"):
        timings[name] = []
    # No service: the DAG in a process of its own with dag.test().
    for _ in range(args.runs):
        timings["bare_alone"].append(timed(bare, dbt_env))
        timings["same_work"].append(timed([*dbt, *nightly_build(), *_project_flags()], dbt_env))
        timings["dag_test"].append(timed(dag))
    # The service up (make up): the same command runs the DAG on it, through its REST API.
    # Every DAG paused but this one, so nothing else runs beside the timed commands.
    service_began = dt.datetime.now(dt.UTC)
    run_command([VENV_BIN / "credit", "service", "up", "--port", "0", "--paused"])
    try:
        run_command([*dag[:3], "--unpause", *dag[3:]])  # its first run there, not timed
        for _ in range(args.runs):
            timings["bare"].append(timed(bare, dbt_env))
            timings["dag"].append(timed(dag))
    finally:
        run_command([VENV_BIN / "credit", "service", "down"])
    if others := _other_tasks_since(service_began):
        raise RuntimeError(f"tasks of other DAGs ran beside the timed commands: {others}")
    watcher = None
    if args.watcher:
        try:
            watcher_run_timing = timed(
                [sys.executable, __file__, "--watcher-run"], _watcher_env(), WATCHER_TIMEOUT
            )
        except RuntimeError:  # the DAG run ended in failure: its tasks say how
            watcher_run_timing = {"seconds": None, "failed": True}
        timings["watcher"] = [watcher_run_timing]
        watcher = watcher_tasks()
    medians = {
        name: statistics.median(run["seconds"] for run in runs)
        for name, runs in timings.items()
        if all(run["seconds"] is not None for run in runs)
    }

    def ratios(dag_name: str, baseline: str) -> list[float]:
        pairs = zip(timings[baseline], timings[dag_name], strict=True)
        return [round(dag_run["seconds"] / base["seconds"], 3) for base, dag_run in pairs]

    return {
        **result_header("transform", args.scale),
        "source_rows": source_rows,
        "credit_record_versions": _credit_record_versions(),
        "dbt_nodes": nodes,
        "nodes_per_night": _nodes_run(),
        "runs": args.runs,
        "median_seconds": {name: round(seconds, 2) for name, seconds in medians.items()},
        "dag_to_bare_ratio_median": round(medians["dag"] / medians["bare"], 3),
        "dag_to_bare_ratio_per_run": ratios("dag", "bare"),
        "dag_test_to_bare_ratio_median": round(medians["dag_test"] / medians["bare_alone"], 3),
        "dag_test_to_bare_ratio_per_run": ratios("dag_test", "bare_alone"),
        "dag_test_to_same_work_ratio_median": round(medians["dag_test"] / medians["same_work"], 3),
        "peak_rss_mb": {
            name: max(run["peak_rss_mb"] for run in runs)
            for name, runs in timings.items()
            if name in medians
        },
        "timings": timings,
        **({"watcher": watcher} if watcher else {}),
    }


def build_county(scale: str) -> int:
    """The county, its catch-up night ingested (not timed)."""
    import psycopg

    from county_sim import engine
    from county_sim.api_server import serve_api
    from county_sim.settings import api_token
    from credit.ingest import (
        API_CONN,
        ingest_source,
        reconcile_night,
        validate_pending,
    )
    from credit.sources import sources
    from credit.warehouse import ensure_warehouse, warehouse_url

    engine.create_county(SEED, scale, FIRST_DAY)
    engine.advance(NIGHT)
    ensure_warehouse()
    with serve_api(port=0) as api:
        os.environ[f"AIRFLOW_CONN_{API_CONN.upper()}"] = api.url.replace(
            "http://", f"http://user:{api_token()}@"
        )
        for dept_code in sources():
            ingest_source(dept_code, NIGHT)
    validate_pending()
    reconcile_night(NIGHT)
    with psycopg.connect(warehouse_url()) as conn:
        read = conn.execute("select coalesce(sum(rows_read), 0) from audit.batches").fetchone()[0]
    return int(read)


def _credit_record_versions() -> int:
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        return int(conn.execute("select count(*) from marts.fct_credit_records").fetchone()[0])


def _nodes_run() -> dict[str, int]:
    """Nodes the DAG's first night and its last night ran (audit.dbt_node_results)."""
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        counts = conn.execute(
            "select count(*) from audit.dbt_node_results group by invocation_id"
            " order by min(completed_at)"
        ).fetchall()
    return {"first": int(counts[0][0]), "later": int(counts[-1][0])}


def _other_tasks_since(began: dt.datetime) -> list[str]:
    """Task instances of DAGs other than the transform that started since ``began``."""
    import psycopg

    from credit.warehouse import database_url

    with psycopg.connect(database_url("airflow")) as conn:
        rows = conn.execute(
            "select dag_id || '.' || task_id from task_instance"
            " where dag_id <> 'credit_transform' and start_date >= %s",
            (began,),
        ).fetchall()
    return [row[0] for row in rows]


def _project_flags() -> list[str]:
    return ["--project-dir", str(ROOT / "dbt"), "--profiles-dir", str(ROOT / "dbt")]


def _dbt_environment() -> dict[str, str]:
    from credit.dbt import profile_environment
    from credit.transform import AS_OF_ENV
    from credit.warehouse import ensure_warehouse

    return {**profile_environment(ensure_warehouse()), AS_OF_ENV: NIGHT.isoformat()}


def _watcher_env() -> dict[str, str]:
    from credit.transform import AS_OF_ENV

    return {AS_OF_ENV: NIGHT.isoformat()}


def _node_count(manifest: Path) -> dict[str, int]:
    document = json.loads(manifest.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for node in document["nodes"].values():
        counts[node["resource_type"]] = counts.get(node["resource_type"], 0) + 1
    counts["unit_test"] = len(document.get("unit_tests", {}))
    counts["total"] = sum(counts.values())
    return counts


def watcher_run() -> None:
    """Child process of ``--watcher``: the WATCHER DAG from bench/dags under
    ``dag.test(use_executor=True)``. ``dag.test()`` alone runs tasks one at a time, so a sensor
    run before the producer would wait for ever; the LocalExecutor runs them at once, and its
    workers need Airflow's api-server, started here on a free port and stopped at the end."""
    from credit import airflow_env
    from credit.net import free_port

    airflow_env.apply_airflow_environment()
    dags = str(ROOT / "bench" / "dags")
    port = free_port()
    os.environ.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": dags,  # before Airflow reads its configuration
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        }
    )
    server = subprocess.Popen(
        [VENV_BIN / "airflow", "api-server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/api/v2/version", seconds=120)
        from airflow.dag_processing.dagbag import DagBag

        night = dt.datetime.combine(NIGHT, dt.time(1), airflow_env.COUNTY_TIMEZONE)
        dag = DagBag(dag_folder=dags).dags["credit_transform_watcher"]
        run = dag.test(logical_date=night, use_executor=True)
        if str(run.state) != "success":
            raise SystemExit(f"credit_transform_watcher ended {run.state}")
    finally:
        server.terminate()
        server.wait(30)


def _wait_for_http(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def watcher_tasks() -> dict[str, Any]:
    """What the WATCHER run got done: its task instances' states and the producer's time."""
    import psycopg

    from credit.warehouse import database_url

    with psycopg.connect(database_url("airflow")) as conn:
        rows = conn.execute(
            "select task_id, state, start_date, end_date from task_instance"
            " where dag_id = 'credit_transform_watcher'"
        ).fetchall()
    states: dict[str, int] = {}
    for _, state, _, _ in rows:
        states[str(state)] = states.get(str(state), 0) + 1
    producer = [row for row in rows if row[0].endswith("dbt_producer_watcher")]
    seconds = None
    if producer and producer[0][2] and producer[0][3]:
        seconds = round((producer[0][3] - producer[0][2]).total_seconds(), 1)
    unfinished = sorted(row[0] for row in rows if str(row[1]) != "success")
    return {
        "tasks": len(rows),
        "states": states,
        "producer_seconds": seconds,
        "unfinished": unfinished,
    }


def render(result: dict[str, Any]) -> str:
    medians = result["median_seconds"]
    nodes = result["dbt_nodes"]
    peak = result["peak_rss_mb"]
    night = result["nodes_per_night"]

    def per_run(key: str) -> str:
        return ", ".join(f"{ratio:.2f}" for ratio in result[key])

    lines = [
        "## Transform",
        "",
        f"`bench/bench_transform.py --scale {result['scale']} --runs {result['runs']}`, "
        f"{result['date']}, commit {result['commit']}, {result['machine']}: the demo county "
        f"({result['source_rows']:,} source rows landed in one catch-up night, "
        f"{result['credit_record_versions']:,} credit-record versions), as of {NIGHT}. The "
        f"project has {nodes['total']} dbt nodes ({nodes.get('model', 0)} models, "
        f"{nodes.get('test', 0)} data tests, {nodes.get('unit_test', 0)} unit tests, "
        f"{nodes.get('seed', 0)} seeds, {nodes.get('snapshot', 0)} snapshot, the project hook); "
        f"the DAG's first night ran {night['first']} of them, a later night {night['later']} "
        "(no reference data, no unchanged rule seed). Each command is a process of its own, as "
        "a user starts it; medians of the runs, after an untimed first night. First without the "
        "service, where `credit airflow run` runs the DAG in its own process with `dag.test()`; "
        "then with the service up (`credit service up`, idle but for the runs), where the same "
        "command triggers the DAG through the REST API and waits for it: each round runs its "
        "commands back to back. Load average (5 min) at the end: "
        f"{result['load_average_5min_end']}.",
        "",
        "| run | median seconds | peak RSS (MB) |",
        "|---|---|---|",
        f"| `dbt build --full-refresh` (everything from scratch) | {medians['full_refresh']:.1f} "
        f"| {peak['full_refresh']} |",
        f"| no service: `dbt build` (bare) | {medians['bare_alone']:.1f} | {peak['bare_alone']} |",
        f"| no service: `dbt build` with the night's own selection (the DAG's work) "
        f"| {medians['same_work']:.1f} | {peak['same_work']} |",
        f"| no service: `credit airflow run credit_transform {NIGHT}` (`dag.test()`) "
        f"| {medians['dag_test']:.1f} | {peak['dag_test']} |",
        f"| service up: `dbt build` (bare) | {medians['bare']:.1f} | {peak['bare']} |",
        f"| service up: `credit airflow run credit_transform {NIGHT}` (REST API) "
        f"| {medians['dag']:.1f} | {peak['dag']} |",
    ]
    if "watcher" in medians:
        lines.append(
            "| Cosmos `ExecutionMode.WATCHER` DAG (`dag.test(use_executor=True)`, LocalExecutor) "
            f"| {medians['watcher']:.1f} | {peak['watcher']} |"
        )
    elif "watcher" in result:
        watcher = result["watcher"]
        lines.append(
            "| Cosmos `ExecutionMode.WATCHER` DAG (`dag.test(use_executor=True)`, LocalExecutor) "
            f"| did not succeed within {WATCHER_TIMEOUT} s: its producer's `dbt build` took "
            f"{watcher['producer_seconds']} s; of {watcher['tasks']} tasks "
            f"{len(watcher['unfinished'])} never ended | |"
        )
    lines += [
        "",
        f"On the service the DAG costs {result['dag_to_bare_ratio_median']:.2f}x the bare `dbt "
        f"build` (per round: {per_run('dag_to_bare_ratio_per_run')}); the peak RSS of its "
        "command is the REST client's, the task runs in the scheduler's worker. In a process of "
        f"its own with `dag.test()` it costs {result['dag_test_to_bare_ratio_median']:.2f}x "
        f"(per round: {per_run('dag_test_to_bare_ratio_per_run')}) and "
        f"{result['dag_test_to_same_work_ratio_median']:.2f}x a `dbt build` of its own selection.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--watcher-run"]:
        watcher_run()
    else:
        main()
