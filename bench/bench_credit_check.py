"""Benchmark of the credit check (信用核查) on a list of 10,000 USCCs.

A simulated county (``--scale``, seed 42, 2026-01-01 to 2026-04-08, as ``make demo`` builds it)
is ingested in one catch-up night into a scratch warehouse ``<warehouse>_bench_credit_check``
and built by dbt as of 2026-04-08 (none of this is timed). The list: the county's registered
subjects (repeated when it has fewer), 1% codes of no subject and 1% malformed ones, 10,000 in
all. Timed, ``--runs`` times each, medians reported:

* ``marts.credit_check(list, purpose, 2026-04-08)`` for each purpose, one query as the
  ``credit check`` command sends it (connected as its role, every row fetched);
* ``credit check --purpose award`` on the list as a CSV file, a process of its own as a user
  starts it: reading the list, the query, writing the workbook.

Results go to ``bench/results/credit-check-<scale>.json`` and replace the "Credit check"
section of ``docs/benchmarks.md``.

    .venv/bin/python bench/bench_credit_check.py [--scale demo] [--runs 3] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_transform import NIGHT, build_county
from common import VENV_BIN, publish, result_header, scratch_warehouse, timed

LIST_SIZE = 10_000
PURPOSES = ("award", "subsidy", "approval", "procurement")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()

    os.environ["CREDIT_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-credit-check-")
    os.environ["DBT_TARGET_PATH"] = str(Path(os.environ["CREDIT_DATA_DIR"]) / "dbt_target")
    with scratch_warehouse("bench_credit_check"):
        result = run(args)
    publish(f"credit-check-{args.scale}", result, render(result), doc=not args.no_doc)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from credit.dbt import run_dbt

    build_county(args.scale)
    run_dbt(["seed"])
    as_of = json.dumps({"as_of_date": NIGHT.isoformat()})
    run_dbt(["build", "--vars", as_of, "--exclude-resource-type", "unit_test"])
    codes, subjects = code_list()
    query = {
        purpose: [time_query(codes, purpose) for _ in range(args.runs)] for purpose in PURPOSES
    }
    listed = Path(os.environ["CREDIT_DATA_DIR"]) / "list.csv"
    listed.write_text("统一社会信用代码\n" + "\n".join(codes) + "\n", encoding="utf-8")
    workbook = listed.with_name("result.xlsx")
    command = [
        *(VENV_BIN / "credit", "check", listed, "--purpose", "award"),
        *("--as-of", NIGHT.isoformat(), "-o", workbook),
    ]
    cli = [timed(command) for _ in range(args.runs)]
    return {
        **result_header("credit_check", args.scale),
        "subjects": subjects,
        "list_size": len(codes),
        "as_of": NIGHT.isoformat(),
        "runs": args.runs,
        "query_median_seconds": {
            purpose: round(statistics.median(run["seconds"] for run in runs), 2)
            for purpose, runs in query.items()
        },
        "cli_median_seconds": round(statistics.median(run["seconds"] for run in cli), 2),
        "cli_peak_rss_mb": max(run["peak_rss_mb"] for run in cli),
        "workbook_bytes": workbook.stat().st_size,
        "query": query,
        "cli": cli,
    }


def code_list() -> tuple[list[str], int]:
    """10,000 codes: registered subjects, 1% of no subject, 1% malformed; and how many
    subjects the county registered."""
    import psycopg

    from credit.identifiers import make_uscc
    from credit.warehouse import warehouse_url

    with psycopg.connect(warehouse_url()) as conn:
        registered = [
            key
            for (key,) in conn.execute(
                "select subject_key from marts.dim_subjects where is_registered order by 1"
            )
        ]
    others = LIST_SIZE // 100
    unknown = [make_uscc("91", "320281", f"QA{n:06d}") for n in range(others)]
    malformed = [f"9132028{n:04d}" for n in range(others)]
    wanted = LIST_SIZE - len(unknown) - len(malformed)
    subjects = (registered * (wanted // len(registered) + 1))[:wanted]
    return subjects + unknown + malformed, len(registered)


def time_query(codes: list[str], purpose: str) -> dict[str, Any]:
    """One call of the function as ``credit check`` makes it, every row fetched."""
    import psycopg

    from credit.credit_check import CHECK_SQL
    from credit.roles import EXPORTER
    from credit.warehouse import role_url

    with psycopg.connect(role_url(EXPORTER)) as conn:
        began = time.perf_counter()
        rows = conn.execute(CHECK_SQL, (codes, purpose, NIGHT)).fetchall()
        seconds = time.perf_counter() - began
    measured = {"seconds": round(seconds, 2), "rows": len(rows)}
    print(purpose, measured, flush=True)
    return measured


def render(result: dict[str, Any]) -> str:
    queries = result["query_median_seconds"]
    lines = [
        "## Credit check",
        "",
        f"`bench/bench_credit_check.py` at {result['scale']} scale ({result['subjects']:,}"
        f" registered subjects), {result['date']}, commit {result['commit']}, {result['machine']}"
        f" (load average {result['load_average_5min_end']} at the end): a list of"
        f" {result['list_size']:,} USCCs (the subjects, 1% codes of no subject, 1% malformed)"
        f" checked as of {result['as_of']}, median of {result['runs']} runs. A load average"
        " above the CPU count means the machine was shared while it ran: the times are then"
        " upper bounds.",
        "",
        "| what | seconds |",
        "|---|---|",
        *(f"| `marts.credit_check`, purpose {p} | {s} |" for p, s in queries.items()),
        f"| `credit check --purpose award list.csv -o result.xlsx` (a process: start-up,"
        f" the list, the query, the workbook of {result['workbook_bytes'] // 1024:,} KiB)"
        f" | {result['cli_median_seconds']} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
