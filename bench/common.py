"""What the end-to-end benchmarks share: a scratch warehouse, timing a command as a process of
its own, the task durations of a DAG run, and publishing a result (``bench/results/<name>.json``
and its section of ``docs/benchmarks.md``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results"
VENV_BIN = Path(sys.executable).parent


@contextmanager
def scratch_warehouse(suffix: str, *, keep: bool = False) -> Iterator[None]:
    """Point this process (and the commands it starts) at ``<warehouse>_<suffix>`` with its
    Airflow and exchange databases, created fresh and dropped afterwards unless ``keep`` (to
    profile what the run built). With no server configured, the embedded PostgreSQL this starts
    (under ``CREDIT_DATA_DIR``) is stopped too."""
    from credit import warehouse

    embedded = warehouse.ENV_URL not in os.environ
    os.environ[warehouse.ENV_URL] = f"{warehouse.warehouse_url()}_{suffix}"
    _drop_databases()
    try:
        yield
    finally:
        if keep:
            print(f"kept: {os.environ[warehouse.ENV_URL]} (with _airflow and _exchange, if made)")
        else:
            _drop_databases()
        if embedded:
            warehouse.embedded_server().stop()


def publish(
    name: str, result: dict[str, Any], section: str, *, doc: bool, before: str | None = None
) -> None:
    """Write ``bench/results/<name>.json``; print the section and, with ``doc``, put it in
    docs/benchmarks.md in place of its earlier version (first time: before the ``before``
    heading, else at the end)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(section)
    if not doc:
        return
    text = DOC.read_text(encoding="utf-8")
    heading = section.splitlines()[0]
    pattern = re.compile(rf"{re.escape(heading)}\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n", text)
    elif before and f"\n{before}\n" in text:
        text = text.replace(f"\n{before}\n", f"\n{section.rstrip()}\n\n{before}\n", 1)
    else:
        text = f"{text.rstrip()}\n\n{section}"
    DOC.write_text(text, encoding="utf-8")


def _drop_databases() -> None:
    from credit import warehouse

    for suffix in ("", "_airflow", "_exchange"):
        warehouse.drop_database(f"{os.environ[warehouse.ENV_URL]}{suffix}")


def run_command(command: list[Any], env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [str(part) for part in command],
        env={**os.environ, **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def timed(
    command: list[Any], env: dict[str, str] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Wall seconds and peak RSS of one command, run as its own process (its process group is
    killed after ``timeout`` seconds, and the run recorded as timed out). The peak is the largest
    VmHWM of the command's processes, polled: a forked child's own rusage would count the pages
    it shared with this (large) process before exec."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [str(part) for part in command],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = None if timeout is None else began + timeout
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _tree_peak_kb(process.pid))
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            os.killpg(process.pid, 9)
            os.wait4(process.pid, 0)
            print(f"{command[-1]}: killed after {timeout:.0f} s", flush=True)
            return {"seconds": None, "timed_out_after": timeout}
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed")
    measured = {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(" ".join(str(part) for part in command[-4:]), measured, flush=True)
    return measured


def _tree_peak_kb(pid: int) -> int:
    """The largest VmHWM (kB) of a process and its descendants, 0 once they are gone."""
    peak = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        pending.extend(int(child) for child in children)
    return peak


def result_header(benchmark: str, scale: str) -> dict[str, Any]:
    """What every result starts with: the benchmark, its scale, the day, commit and machine, and
    the load average at the end (how busy the machine was)."""
    return {
        "benchmark": benchmark,
        "scale": scale,
        "date": dt.date.today().isoformat(),
        "commit": commit(),
        "machine": machine(),
        "load_average_5min_end": round(os.getloadavg()[1], 2),
    }


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def task_seconds(dag_id: str) -> dict[str, float]:
    """Seconds per task of the latest run of ``dag_id`` (mapped tasks summed), from Airflow's
    metadata database."""
    import psycopg

    from credit.warehouse import database_url

    with psycopg.connect(database_url("airflow")) as conn:
        rows = conn.execute(
            """
            select task_id, sum(extract(epoch from end_date - start_date))
            from task_instance
            where dag_id = %(dag)s and run_id = (
                select run_id from dag_run where dag_id = %(dag)s
                order by start_date desc limit 1)
            group by task_id
            """,
            {"dag": dag_id},
        ).fetchall()
    return {task_id: round(float(seconds), 2) for task_id, seconds in rows}


def task_results(dag_id: str, task_id: str) -> list[Any]:
    """What the task returned in the latest run of ``dag_id`` (one value per mapped instance),
    from Airflow's metadata database."""
    import psycopg

    from credit.warehouse import database_url

    with psycopg.connect(database_url("airflow")) as conn:
        rows = conn.execute(
            """
            select value from xcom
            where dag_id = %(dag)s and task_id = %(task)s and key = 'return_value'
              and run_id = (select run_id from dag_run where dag_id = %(dag)s
                            order by start_date desc limit 1)
            order by map_index
            """,
            {"dag": dag_id, "task": task_id},
        ).fetchall()
    return [json.loads(value) if isinstance(value, str) else value for (value,) in rows]
