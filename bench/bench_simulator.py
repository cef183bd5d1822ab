"""Benchmark of the county simulator: demo scale for one year, Jiangyin scale for five years.

Each case runs in its own process (so its peak memory is its own), in a scratch data folder
and on the warehouse server of ``CREDIT_WAREHOUSE_URL`` (default: the local PostgreSQL on
127.0.0.1:5432, database ``credit_bench``).  Results replace the "Simulator" section of
``docs/benchmarks.md``.

    .venv/bin/python bench/bench_simulator.py [--only demo|jiangyin]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CASES = {
    "demo": ("demo", dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    "jiangyin": ("jiangyin", dt.date(2026, 1, 1), dt.date(2030, 12, 31)),
}


def run_case(name: str) -> dict:
    """Inside the child process: create and advance one county, report time and memory."""
    from county_sim import engine

    scale, start, end = CASES[name]
    began = time.perf_counter()
    engine.create_county(42, scale, start)
    created = time.perf_counter()
    state = engine.advance(end)
    finished = time.perf_counter()
    rows = sum(v for k, v in state.counts.items() if not k.startswith("defect"))
    size = sum(p.stat().st_size for p in engine.systems.county_dir().rglob("*") if p.is_file())
    return {
        "case": name,
        "scale": scale,
        "days": (end - start).days + 1,
        "rows": rows,
        "create_s": round(created - began, 1),
        "advance_s": round(finished - created, 1),
        "rows_per_s": round(rows / (finished - created)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "files_mb": round(size / 2**20),
    }


def run_in_child(name: str) -> dict:
    env = dict(os.environ)
    env.setdefault("CREDIT_WAREHOUSE_URL", "postgresql://postgres@127.0.0.1:5432/credit_bench")
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
        env["CREDIT_DATA_DIR"] = folder
        output = subprocess.run(
            [sys.executable, __file__, "--child", name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_section(results: list[dict]) -> None:
    lines = [
        "## Simulator",
        "",
        f"`bench/bench_simulator.py`, {dt.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL on localhost.",
        "Create = population + reset of the systems; advance = every day into all three shapes, "
        "truth included. Peak RSS is the simulator process's.",
        "",
        "| case | days | source rows | create (s) | advance (s) | rows/s | peak RSS (MB) "
        "| files (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} ({r['scale']}) | {r['days']} | {r['rows']:,} | {r['create_s']} "
            f"| {r['advance_s']} | {r['rows_per_s']:,} | {r['peak_rss_mb']} | {r['files_mb']} |"
        )
    section = "\n".join(lines) + "\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Simulator\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--only", choices=sorted(CASES))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child)))
        return
    results = []
    for name in [args.only] if args.only else list(CASES):
        result = run_in_child(name)
        print(result, flush=True)
        results.append(result)
    write_section(results)


if __name__ == "__main__":
    main()
