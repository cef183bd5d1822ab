"""Benchmark of the whole chain at a county's size: five years of history, step by step.

``make bench SCALE=jiangyin`` runs it at Jiangyin's size (300,000 subjects, simulator.yaml);
``--scale demo`` runs the same steps on the demo county in minutes. A county (seed 42) is
simulated from 2026-01-01 and two scratch warehouses follow it:

* **nights** (``<warehouse>_bench_scale``): the first year's backlog in one catch-up night, the
  night after it (the departments' answers to the catch-up's warnings file land), then the
  ordinary night of the year's last day; the same for the next four years' backlog and the
  fifth year's last day. Every night is what the schedule runs: ``credit_ingest``,
  ``credit_transform`` and ``credit_export_daily``, each a process of its own (``credit
  airflow run``). The two ordinary nights' ratio is what history costs a night.
  Then dossier look-ups by USCC as a department's client makes them (one connection).
* **full history** (``<warehouse>_bench_scale_full``): the five years from raw to marts in one
  go: one catch-up ``credit_ingest`` (its source tasks = ingestion, its ``validate`` task =
  validation), a plain ``COPY`` of the same rows' text into bare tables (the baseline of
  ingestion), the reference data, and ``credit_transform`` from scratch.

Every step reports wall seconds, rows/s where it has rows, and peak RSS (of the step's process
tree). Results go to ``bench/results/<scale>.json`` (one key per figure, with machine, date and
commit) and the "Scale: <scale>" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/bench_scale.py [--scale jiangyin] [--lookups 1000] [--no-doc] [--keep]

``--keep`` leaves both warehouses (and the data folder) in place, to profile the five-year nights
(the nights warehouse) or the full history's transform without simulating them again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import (
    VENV_BIN,
    publish,
    result_header,
    run_command,
    scratch_warehouse,
    task_results,
    task_seconds,
    timed,
)

SEED = 42
FIRST_DAY = dt.date(2026, 1, 1)
YEAR_ONE = dt.date(2026, 12, 31)
YEAR_FIVE = dt.date(2030, 12, 31)
# The simulator's volume ranges are written for the demo's 20,000 subjects.
DEMO_SUBJECTS = 20_000
ORDINARY_NIGHT = ("credit_ingest", "credit_transform", "credit_export_daily")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="jiangyin")
    parser.add_argument("--lookups", type=int, default=1000, help="dossier look-ups timed")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep the scratch warehouses")
    args = parser.parse_args()

    os.environ["CREDIT_DATA_DIR"] = tempfile.mkdtemp(prefix=f"bench-scale-{args.scale}-")
    os.environ["DBT_TARGET_PATH"] = str(Path(os.environ["CREDIT_DATA_DIR"]) / "dbt_target")
    os.environ["CREDIT_VOLUME_SCALE"] = str(_subjects(args.scale) / DEMO_SUBJECTS)
    figures: dict[str, Any] = {}
    try:
        with scratch_warehouse("bench_scale", keep=args.keep):
            from credit.warehouse import database_url

            exchange = database_url("exchange")  # the simulated departments' database
            with _county_api() as api_env:
                _nights(args, figures, api_env)
                with _second_warehouse(keep=args.keep):
                    _full_history(figures, {**api_env, "AIRFLOW_CONN_CREDIT_EXCHANGE": exchange})
    except Exception as error:
        # An hour's run that fails late keeps what it measured (its JSON says where it stopped;
        # the command that failed ran with the step's DAG logs under CREDIT_DATA_DIR).
        figures["failed"] = f"{error} (data folder {os.environ['CREDIT_DATA_DIR']})"
        publish(args.scale, _result(args, figures), "", doc=False)
        raise
    if args.keep:
        print(f"kept: the data folder {os.environ['CREDIT_DATA_DIR']} (county, dbt target, logs)")
    else:  # the county's files and the stopped server's data: gigabytes at Jiangyin's size
        shutil.rmtree(os.environ["CREDIT_DATA_DIR"])
    figures["targets"] = _targets(figures)
    result = _result(args, figures)
    publish(args.scale, result, render(result), doc=not args.no_doc)


def _result(args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        **result_header("scale", args.scale),
        **figures,
    }


# The targets at Jiangyin's size: (figure, bound, what it says).
TARGETS = (
    ("full_history_validate_and_transform_seconds", 900, "full history raw to marts ≤ 15 min"),
    ("night_five_to_one_ratio", 1.3, "night after five years ≤ 1.3x after one"),
    ("night_year_five_seconds", 180, "night after five years ≤ 3 min"),
    ("dossier_lookup_p95_ms", 50, "dossier look-up p95 ≤ 50 ms"),
    ("full_history_land_to_copy_ratio", 2, "landing ≤ 2x a plain COPY (≥ 0.5x its rows/s)"),
    ("peak_rss_mb", 2048, "peak RSS of any step ≤ 2 GB"),
)


def _targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    figures["peak_rss_mb"] = max(v for k, v in figures.items() if k.endswith("_peak_rss_mb"))
    return [
        {
            "target": text,
            "figure": name,
            "bound": bound,
            "measured": figures[name],
            "met": figures[name] <= bound,
        }
        for name, bound, text in TARGETS
    ]


def _subjects(name: str) -> int:
    from county_sim.settings import scale

    return scale(name).subjects


@contextmanager
def _county_api():
    """The simulated HTTP API, and the connection the ingest DAG reaches it by."""
    from county_sim.api_server import serve_api
    from county_sim.settings import api_token
    from credit.ingest import API_CONN

    with serve_api(port=0) as api:
        url = api.url.replace("http://", f"http://user:{api_token()}@")
        yield {f"AIRFLOW_CONN_{API_CONN.upper()}": url}


@contextmanager
def _second_warehouse(*, keep: bool):
    """A further scratch warehouse, ``<first>_full`` (the county's systems stay the first's)."""
    from credit import warehouse

    first = os.environ[warehouse.ENV_URL]
    try:
        with scratch_warehouse("full", keep=keep):
            yield
    finally:
        os.environ[warehouse.ENV_URL] = first


def _nights(args: argparse.Namespace, figures: dict[str, Any], env: dict[str, str]) -> None:
    county = [VENV_BIN / "county"]
    create = timed([*county, "create", "--seed", SEED, "--scale", args.scale, "--start", FIRST_DAY])
    _step(figures, "simulate_create", create)
    simulated: list[dict[str, Any]] = []
    for name, backlog, night in (
        ("year_one", "year_one_backlog", YEAR_ONE),
        ("year_five", "years_two_to_five_backlog", YEAR_FIVE),
    ):
        backlog_end = night - dt.timedelta(days=2)
        simulated.append(timed([*county, "advance", "--to", backlog_end]))
        if name == "year_one":
            run_command([VENV_BIN / "credit", "airflow", "prepare"])
            run_command([VENV_BIN / "credit", "airflow", "run", "credit_reference", backlog_end])
        _night(figures, backlog, backlog_end, env)
        for day, night_name in (
            (night - dt.timedelta(days=1), f"{backlog}_answers"),
            (night, f"night_{name}"),
        ):
            simulated.append(timed([*county, "advance", "--to", day]))
            _night(figures, night_name, day, env)
    figures["night_five_to_one_ratio"] = round(
        figures["night_year_five_seconds"] / figures["night_year_one_seconds"], 3
    )
    figures["simulate_advance_seconds"] = round(sum(s["seconds"] for s in simulated), 2)
    figures["simulate_advance_peak_rss_mb"] = max(s["peak_rss_mb"] for s in simulated)
    figures["source_rows_five_years"] = _source_rows()
    figures["simulate_rows_per_s"] = round(
        figures["source_rows_five_years"] / figures["simulate_advance_seconds"]
    )
    figures["subjects"] = _count("select count(*) from marts.dim_subjects")
    figures.update(_dossier_lookups(args.lookups))


def _night(figures: dict[str, Any], name: str, day: dt.date, env: dict[str, str]) -> None:
    """The schedule's night of ``day``, each DAG a step of its own. A backlog's catch-up night
    exports all its open warnings, and the departments answer the file on the next day as they
    would have over the backlog's days (``county_sim.feedback``): that night lands the answers,
    so the ordinary night after it holds one day's answers, as in production."""
    steps = {}
    for dag_id in ORDINARY_NIGHT:
        steps[dag_id] = _dag(dag_id, day, env)
        if dag_id == "credit_transform":
            figures[f"{name}_slowest_dbt_nodes"] = _slowest_nodes()
    for dag_id, timing in steps.items():
        _step(figures, f"{name}_{dag_id.removeprefix('credit_')}", timing)
    figures[f"{name}_rows"] = _rows_landed(day)
    figures[f"{name}_seconds"] = round(sum(t["seconds"] for t in steps.values()), 2)
    figures[f"{name}_peak_rss_mb"] = max(t["peak_rss_mb"] for t in steps.values())


SLOWEST_NODES = 12


def _slowest_nodes() -> list[list[Any]]:
    """The transform's dbt nodes that took longest ([name, seconds]), from its run_results."""
    from credit.transform import dbt_target_dir, read_run_results

    results = read_run_results(dbt_target_dir() / "run_results.json").results
    slowest = sorted(results, key=lambda node: node.seconds, reverse=True)[:SLOWEST_NODES]
    return [[node.unique_id.split(".", 2)[-1], round(node.seconds, 1)] for node in slowest]


def _full_history(figures: dict[str, Any], env: dict[str, str]) -> None:
    run_command([VENV_BIN / "credit", "airflow", "prepare"])
    ingest = _dag("credit_ingest", YEAR_FIVE, env)
    rows = _rows_landed(YEAR_FIVE)
    tasks = task_seconds("credit_ingest")
    _step(figures, "full_history_ingest_dag", ingest, rows)
    figures["full_history_batches"] = _count("select count(*) from audit.batches")
    figures["full_history_extract_and_land_seconds"] = tasks.get("ingest", 0.0)
    nights = task_results("credit_ingest", "ingest")
    figures["full_history_read_seconds"] = round(sum(n["read_seconds"] for n in nights), 2)
    figures["full_history_land_seconds"] = round(sum(n["land_seconds"] for n in nights), 2)
    figures["full_history_validate_seconds"] = tasks.get("validate", 0.0)
    figures["full_history_reconcile_seconds"] = tasks.get("reconcile", 0.0)
    figures["full_history_validate_rows_per_s"] = round(rows / max(tasks["validate"], 1e-9))
    copy = timed([VENV_BIN / "python", Path(__file__), "--plain-copy"])
    figures["full_history_plain_copy_seconds"] = _copy_seconds()
    figures["full_history_plain_copy_peak_rss_mb"] = copy["peak_rss_mb"]
    for name in ("land", "extract_and_land"):
        figures[f"full_history_{name}_to_copy_ratio"] = round(
            figures[f"full_history_{name}_seconds"] / figures["full_history_plain_copy_seconds"], 2
        )
    run_command([VENV_BIN / "credit", "airflow", "run", "credit_reference", YEAR_FIVE])
    _step(figures, "full_history_transform", _dag("credit_transform", YEAR_FIVE, env))
    figures["full_history_validate_and_transform_seconds"] = round(
        figures["full_history_validate_seconds"] + figures["full_history_transform_seconds"], 2
    )
    figures["credit_record_versions"] = _count("select count(*) from marts.fct_credit_records")


def _dag(dag_id: str, day: dt.date, env: dict[str, str]) -> dict[str, Any]:
    return timed([VENV_BIN / "credit", "airflow", "run", dag_id, day.isoformat()], env)


def _step(
    figures: dict[str, Any], name: str, timing: dict[str, Any], rows: int | None = None
) -> None:
    figures[f"{name}_seconds"] = timing["seconds"]
    figures[f"{name}_peak_rss_mb"] = timing["peak_rss_mb"]
    if rows is not None:
        figures[f"{name}_rows"] = rows
        figures[f"{name}_rows_per_s"] = round(rows / timing["seconds"])


# Plain COPY: the landed rows' text columns, read out, then copied into bare tables (timed).
COPY_SCHEMA = "bench_copy"
COPY_RESULT = "plain-copy-seconds"


def plain_copy() -> None:
    """In a process of its own: COPY every raw table's source columns (the catalogue's, as
    text) into a bare table, the rows read out beforehand; writes the COPY seconds for the
    parent."""
    import psycopg
    from psycopg import sql

    from credit.catalogue import record_kinds
    from credit.warehouse import warehouse_url

    seconds = 0.0
    with psycopg.connect(warehouse_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(COPY_SCHEMA)))
        for kind in record_kinds().values():
            columns = list(kind.column_names)
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            table = sql.Identifier(COPY_SCHEMA, kind.name)
            conn.execute(sql.SQL("drop table if exists {}").format(table))
            conn.execute(
                sql.SQL("create table {} ({})").format(
                    table,
                    sql.SQL(", ").join(
                        sql.SQL("{} text").format(sql.Identifier(c)) for c in columns
                    ),
                )
            )
            source = sql.SQL("copy (select {} from {}) to stdout").format(
                names, sql.Identifier("raw", kind.name)
            )
            with conn.cursor().copy(source) as copy:
                data = b"".join(bytes(block) for block in copy)
            began = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, names)) as copy,
            ):
                copy.write(data)
            seconds += time.perf_counter() - began
            conn.execute(sql.SQL("drop table {}").format(table))
    (Path(os.environ["CREDIT_DATA_DIR"]) / COPY_RESULT).write_text(f"{seconds}", encoding="utf-8")


def _copy_seconds() -> float:
    path = Path(os.environ["CREDIT_DATA_DIR"]) / COPY_RESULT
    return round(float(path.read_text(encoding="utf-8")), 2)


def _dossier_lookups(count: int) -> dict[str, Any]:
    """A department's client looking subjects up by USCC: the dossier and the subject's
    records, one query each, over one connection; milliseconds per look-up."""
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        usccs = [
            row[0]
            for row in conn.execute(
                "select subject_key from marts.dim_subjects where length(subject_key) = 18"
            )
        ]
        chosen = random.Random(SEED).sample(usccs, min(count, len(usccs)))
        elapsed = []
        for uscc in chosen:
            began = time.perf_counter()
            conn.execute("select * from marts.dossiers where subject_key = %s", (uscc,)).fetchall()
            conn.execute(
                "select * from marts.fct_credit_records where subject_key = %s"
                " order by event_date desc",
                (uscc,),
            ).fetchall()
            elapsed.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(elapsed, n=100)
    return {
        "dossier_lookups": len(elapsed),
        "dossier_lookup_p50_ms": round(statistics.median(elapsed), 2),
        "dossier_lookup_p95_ms": round(cuts[94], 2),
    }


def _rows_landed(day: dt.date) -> int:
    return _count(
        "select coalesce(sum(rows_read), 0) from audit.batches where logical_date = %s", day
    )


def _source_rows() -> int:
    return _count("select coalesce(sum(rows_read), 0) from audit.batches")


def _count(query: str, *parameters: Any) -> int:
    import psycopg

    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        return int(conn.execute(query, parameters).fetchone()[0])


def render(result: dict[str, Any]) -> str:
    r = result

    def row(step: str, name: str, rows_key: str | None = None) -> str:
        seconds = r.get(f"{name}_seconds")
        rows = r.get(rows_key or f"{name}_rows")
        rate = f"{round(rows / seconds):,}" if rows and seconds else "—"
        rss = r.get(f"{name}_peak_rss_mb", "—")
        return f"| {step} | {seconds:,.1f} | {f'{rows:,}' if rows else '—'} | {rate} | {rss} |"

    lines = [
        f"## Scale: {r['scale']}",
        "",
        f"`bench/bench_scale.py --scale {r['scale']}` (`make bench SCALE={r['scale']}`), "
        f"{r['date']}, commit {r['commit']}, {r['machine']}: {r['subjects']:,} subjects in the "
        f"marts, {r['source_rows_five_years']:,} source rows over five years (seed {SEED}, from "
        f"{FIRST_DAY}). Each step is a process of its own (an Airflow DAG run is `credit "
        "airflow run`, `dag.test()` in one process); peak RSS is the step's process tree's. "
        f"Load average (5 min) at the end: {r['load_average_5min_end']}. Results: "
        f"`bench/results/{r['scale']}.json`.",
        "",
        "| step | seconds | rows | rows/s | peak RSS (MB) |",
        "|---|---|---|---|---|",
        row("simulate: create the county", "simulate_create"),
        row("simulate: five years", "simulate_advance", "source_rows_five_years"),
        *_night_rows(row, "first year's", "year_one_backlog"),
        row("ordinary night after one year (ingest + transform + daily export)", "night_year_one"),
        *_night_rows(row, "next four years'", "years_two_to_five_backlog"),
        row("ordinary night after five years", "night_year_five"),
        row("full history: `credit_ingest` in one night", "full_history_ingest_dag"),
        row(
            "full history: extract and land (the source tasks)",
            "full_history_extract_and_land",
            "full_history_ingest_dag_rows",
        ),
        row(
            "full history: of which reading (pulling, parsing files)",
            "full_history_read",
            "full_history_ingest_dag_rows",
        ),
        row(
            "full history: of which landing (writing the warehouse)",
            "full_history_land",
            "full_history_ingest_dag_rows",
        ),
        row(
            "full history: plain `COPY` of the same rows (baseline)",
            "full_history_plain_copy",
            "full_history_ingest_dag_rows",
        ),
        row("full history: validation", "full_history_validate", "full_history_ingest_dag_rows"),
        row("full history: `credit_transform` from scratch", "full_history_transform"),
        "",
        f"- Full history from raw to marts (validation + transform): "
        f"{r['full_history_validate_and_transform_seconds']:,.1f} s; landing cost "
        f"{r['full_history_land_to_copy_ratio']}x a plain COPY of the same rows, extract and "
        f"land together (the source tasks, {r['full_history_batches']:,} batches, Airflow's "
        f"task start-up included) {r['full_history_extract_and_land_to_copy_ratio']}x.",
        f"- Ordinary night: {r['night_year_one_seconds']:.1f} s after one year, "
        f"{r['night_year_five_seconds']:.1f} s after five "
        f"({r['night_five_to_one_ratio']}x); per DAG after five years: ingest "
        f"{r['night_year_five_ingest_seconds']:.1f} s, transform "
        f"{r['night_year_five_transform_seconds']:.1f} s, daily export "
        f"{r['night_year_five_export_daily_seconds']:.1f} s.",
        *(
            f"- The slowest dbt nodes of the transform {when} (seconds): "
            + ", ".join(f"`{node}` {seconds}" for node, seconds in r[key])
            + "."
            for when, key in (
                ("after one year", "night_year_one_slowest_dbt_nodes"),
                ("after five years", "night_year_five_slowest_dbt_nodes"),
            )
            if key in r
        ),
        f"- Dossier look-up by USCC (the dossier row and the subject's records, "
        f"{r['dossier_lookups']:,} random subjects): p50 {r['dossier_lookup_p50_ms']} ms, "
        f"p95 {r['dossier_lookup_p95_ms']} ms.",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(
            f"| {t['target']} | {t['measured']:,} | {'yes' if t['met'] else '**no**'} |"
            for t in r["targets"]
        ),
        "",
    ]
    return "\n".join(lines)


def _night_rows(row: Callable[..., str], when: str, backlog: str) -> list[str]:
    """A backlog's catch-up night, DAG by DAG, and the night its answers land."""
    return [
        row(f"{when} backlog: `credit_ingest`", f"{backlog}_ingest", f"{backlog}_rows"),
        row(f"{when} backlog: `credit_transform`", f"{backlog}_transform"),
        row(f"{when} backlog: `credit_export_daily`", f"{backlog}_export_daily"),
        row(f"{when} backlog: the night after (the departments' answers)", f"{backlog}_answers"),
    ]


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--plain-copy"]:
        plain_copy()
    else:
        main()
