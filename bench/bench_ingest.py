"""Benchmark of ingestion: landing, parsing and validating penalty rows against a plain COPY.

The same N synthetic penalty rows (valid USCCs and resident IDs, ISO dates, catalogue enum
values; seeded, so every run sees the same rows, about 1 % of them with a defect) go through:

* ``copy``: plain ``COPY`` of the canonical text columns into a bare table (the baseline);
* ``land``: :func:`credit.landing.land_batch` (lineage, ``COPY``, the content hash computed by
  PostgreSQL, one transaction);
* ``parse``: :func:`credit.connectors.drop_folder.identify` and ``parse`` of a GBK CSV drop file
  with the catalogue's Chinese labels as headers;
* ``validate``: :func:`credit.validation.validate_batch` of the landed batch (GX push-down,
  quarantine, reconciliation).

Each stage runs in its own process (so its peak memory is its own) against a scratch database
``<warehouse>_bench_ingest`` on the warehouse server (``CREDIT_WAREHOUSE_URL``, else the
embedded PostgreSQL), created and dropped by this script.  Results replace the "Ingestion"
section of ``docs/benchmarks.md``; the figures go to ``bench/results/ingest.json``.

    .venv/bin/python bench/bench_ingest.py [--rows 1000000] [--defect-rate 0.01] [--no-doc]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from common import commit, machine, publish
from psycopg import sql
from stdnum.cn import ric

from credit import migrations
from credit.catalogue import RecordKind, record_kind
from credit.identifiers import make_uscc
from credit.landing import Batch, SourceRow, copied_columns, land_batch
from credit.paths import EXPECTATIONS_DIR
from credit.sources import sources

KIND = "penalty"
DEPT = "justice"  # a CSV drop folder in GBK that delivers penalties
LOGICAL_DATE = dt.date(2026, 3, 2)
RECEIVED_AT = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)
SEED = 20260302
BARE_TABLE = "bench_plain_penalty"
STAGES = ("setup", "generate", "copy", "land", "parse", "validate")

_SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高梁郑罗宋谢唐韩曹许邓萧冯"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红"
_TOWNS = ("澄江", "南闸", "云亭", "华士", "周庄", "新桥", "长泾", "顾山", "祝塘", "月城", "青阳")
_TRADES = ("机械制造", "纺织", "建材", "物流", "餐饮", "商贸", "电子科技", "化工", "建筑工程")
_VIOLATIONS = (
    ("未按规定取得许可从事经营活动", "《中华人民共和国行政许可法》第八十一条"),
    ("安全生产管理制度不落实", "《中华人民共和国安全生产法》第九十七条"),
    ("未按规定开展职业卫生检测", "《中华人民共和国职业病防治法》第七十一条"),
    ("违法排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条"),
    ("销售不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条"),
    ("虚假广告宣传", "《中华人民共和国广告法》第五十五条"),
    ("拒不履行法律援助义务", "《中华人民共和国法律援助法》第六十三条"),
)


# --- rows ------------------------------------------------------------------------------------


def resident_id(rng: random.Random) -> str:
    """A valid 18-digit resident ID of the county (region 320281)."""
    born = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(365 * 45))
    body = f"320281{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum drops the placeholder digit


def person_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.choice((1, 2, 2))))


def subject_values(rng: random.Random, kind: RecordKind, i: int) -> dict[str, str | None]:
    """Subject columns: an organisation, an individual business or a natural person."""
    subject_type = rng.choices(kind.column("subject_type").values, weights=(70, 10, 20))[0]
    values: dict[str, str | None] = dict.fromkeys(
        ("uscc", "legal_rep", "legal_rep_id_number", "id_number")
    )
    values["subject_type"] = subject_type
    if subject_type == "自然人":
        values["subject_name"] = person_name(rng)
        values["id_number"] = resident_id(rng)
        return values
    category = "92" if subject_type == "个体工商户" else "91"
    values["uscc"] = make_uscc(category, "320281", f"{10_000_000 + i:08d}")
    town, trade = rng.choice(_TOWNS), rng.choice(_TRADES)
    suffix = "经营部" if category == "92" else "有限公司"
    values["subject_name"] = f"江阴市{town}{person_name(rng)}{trade}{suffix}"
    values["legal_rep"] = person_name(rng)
    values["legal_rep_id_number"] = resident_id(rng)
    return values


def penalty_values(rng: random.Random, kind: RecordKind, i: int) -> dict[str, str | None]:
    """One clean penalty row: every column a value its rules accept, as text."""
    organ = sources()[DEPT].organ_uscc
    decided = LOGICAL_DATE - dt.timedelta(days=rng.randrange(1, 30))
    category = rng.choice(kind.column("penalty_category").values)
    violation, basis = rng.choice(_VIOLATIONS)
    fine = f"{rng.randrange(1, 5000) / 10:.2f}" if category == "罚款" else None
    values = subject_values(rng, kind, i)
    values.update(
        penalty_doc_no=f"澄司罚决字〔{decided.year}〕{i + 1:06d}号",
        violation_type=violation,
        violation_facts=f"经查，当事人于{decided:%Y年%m月%d日}存在{violation}的行为，事实清楚。",
        penalty_basis=basis,
        penalty_category=category,
        penalty_content=f"{category}，罚款人民币{fine}万元" if fine else category,
        fine_amount=fine,
        confiscated_amount=None,
        license_affected="许可证（编号320281-" + str(i) + "）" if "许可" in category else None,
        decision_date=decided.isoformat(),
        valid_until=(decided + dt.timedelta(days=365)).isoformat(),
        publicity_until=(decided + dt.timedelta(days=365 * 3)).isoformat(),
        authority="江阴市司法局",
        authority_code=organ,
        remarks=None,
        source_unit="江阴市司法局",
        source_unit_code=organ,
        change_type=rng.choices(kind.column("change_type").values, weights=(90, 8, 2))[0],
        record_id=f"{DEPT}-{KIND}-{i:08d}",
        updated_at=f"{decided}T{rng.randrange(8, 18):02d}:{rng.randrange(60):02d}:00+08:00",
    )
    return values


def with_defect(rng: random.Random, values: dict[str, str | None]) -> dict[str, str | None]:
    """The row with one typical source defect, which validation must quarantine."""
    column, value = rng.choice(
        (
            ("decision_date", "2026/02/30"),
            ("penalty_category", "罚没"),
            ("authority_code", "11320281MB0000000X"),
            ("penalty_basis", None),
            ("fine_amount", "-3.5"),
        )
    )
    return {**values, column: value}


def make_rows(n: int, defect_rate: float) -> list[SourceRow]:
    rng = random.Random(SEED)
    kind = record_kind(KIND)
    rows = []
    for i in range(n):
        values = penalty_values(rng, kind, i)
        if rng.random() < defect_rate:
            values = with_defect(rng, values)
        values = {name: values[name] for name in kind.column_names}
        rows.append(SourceRow(f"{DEPT}/{drop_name()}:{i + 2}", values))
    return rows


def drop_name() -> str:
    return f"{KIND}_{LOGICAL_DATE:%Y%m%d}.csv"


def drop_path(folder: Path) -> Path:
    return folder / DEPT / drop_name()


def write_drop_file(rows: list[SourceRow], path: Path) -> None:
    """The rows as the department would send them: GBK CSV, Chinese labels as headers."""
    kind = record_kind(KIND)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([column.label for column in kind.columns])
        for row in rows:
            writer.writerow([row.values[name] or "" for name in kind.column_names])


# --- database --------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """A fresh scratch database at head, with the validation SQL and the bare table."""
    from credit.validation import install_validation_sql
    from credit.warehouse import drop_database, ensure_database

    drop_database(url)
    ensure_database(url)
    columns = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(name)) for name in record_kind(KIND).column_names
    )
    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        install_validation_sql(conn)
        conn.execute(sql.SQL("create table {} ({})").format(sql.Identifier(BARE_TABLE), columns))


def scalar(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    if row is None:
        raise RuntimeError(f"{query!r} returned no row")
    return row[0]


def server_description(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        version = str(scalar(conn, "show server_version")).split()[0]
        fsync = scalar(conn, "show fsync")
        host = conn.info.host
    where = "configured" if os.environ.get("CREDIT_WAREHOUSE_URL") else "embedded"
    return f"PostgreSQL {version} ({where}, on {host}, fsync {fsync})"


def table_mb(conn: psycopg.Connection, table: str) -> float:
    size = scalar(conn, "select pg_total_relation_size(%s::regclass)", (table,))
    return round(size / 2**20, 1)


# --- stages (each in its own process) --------------------------------------------------------


def stage_setup(args: argparse.Namespace) -> dict[str, Any]:
    """A child too: validation's SQL imports GX, and a child inherits its parent's peak RSS."""
    prepare_database(args.url)
    return {"server": server_description(args.url)}


def stage_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Build the rows (timed), then write them as the drop file the parse stage reads."""
    began = time.perf_counter()
    rows = make_rows(args.rows, args.defect_rate)
    seconds = time.perf_counter() - began
    write_drop_file(rows, Path(args.file))
    return {"rows": len(rows), "seconds": seconds}


def stage_copy(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: the canonical text columns, nothing else, one COPY in one transaction."""
    rows = make_rows(args.rows, args.defect_rate)
    names = record_kind(KIND).column_names
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(BARE_TABLE), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with psycopg.connect(args.url) as conn:
        began = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(statement) as writer:
            for row in rows:
                writer.write_row([row.values[name] for name in names])
        seconds = time.perf_counter() - began
        return {"rows": len(rows), "seconds": seconds, "table_mb": table_mb(conn, BARE_TABLE)}


def stage_land(args: argparse.Namespace) -> dict[str, Any]:
    """land_batch in one transaction, committed; then, for where its time goes, the server's
    side alone: the same rows inserted again from the table (rolled back), and into the bare
    table, each under EXPLAIN ANALYZE."""
    rows = make_rows(args.rows, args.defect_rate)
    with psycopg.connect(args.url) as conn:
        began = time.perf_counter()
        with conn.transaction():
            batch_id = land_batch(
                conn,
                Batch(
                    dept_code=DEPT,
                    kind=record_kind(KIND),
                    shape="drop_folder",
                    logical_date=LOGICAL_DATE,
                    source_ref=drop_name(),
                    rows=rows,
                    received_at=RECEIVED_AT,
                ),
            )
        seconds = time.perf_counter() - began
        size = table_mb(conn, f"raw.{KIND}")
        server = server_side(conn, batch_id)
    return {
        "rows": len(rows),
        "seconds": seconds,
        "batch_id": batch_id,
        "table_mb": size,
        **server,
    }


def server_side(conn: psycopg.Connection, batch_id: int) -> dict[str, float]:
    """Seconds PostgreSQL spends writing the batch's rows into ``raw.<kind>`` and into the bare
    table, measured by re-inserting them, rolled back."""
    kind = record_kind(KIND)
    names = sql.SQL(", ").join(map(sql.Identifier, copied_columns(kind)))
    canonical = sql.SQL(", ").join(map(sql.Identifier, kind.column_names))
    plans = {}
    for key, target, columns in (
        ("server_land_s", sql.SQL("raw.{}").format(sql.Identifier(KIND)), names),
        ("server_copy_s", sql.Identifier(BARE_TABLE), canonical),
    ):
        with conn.transaction():
            plans[key] = conn.execute(
                sql.SQL(
                    "explain (analyze, format json) insert into {} ({}) select {} from raw.{}"
                    " where batch_id = %s"
                ).format(target, columns, columns, sql.Identifier(KIND)),
                (batch_id,),
            ).fetchone()[0][0]
            raise psycopg.Rollback
    land, bare = plans["server_land_s"], plans["server_copy_s"]
    return {
        "server_land_s": land["Execution Time"] / 1000,
        "server_copy_s": bare["Execution Time"] / 1000,
    }


def stage_parse(args: argparse.Namespace) -> dict[str, Any]:
    """identify (name, content hash) and parse of the GBK drop file."""
    from credit.connectors import drop_folder

    began = time.perf_counter()
    parsed = drop_folder.parse(drop_folder.identify(Path(args.file)))
    seconds = time.perf_counter() - began
    problems = sum(1 for row in parsed.rows if row.parse_problem)
    if parsed.encoding != "gb18030" or problems or len(parsed.rows) != args.rows:
        raise RuntimeError(f"parse read {len(parsed.rows)} rows as {parsed.encoding}, {problems=}")
    return {
        "rows": len(parsed.rows),
        "seconds": seconds,
        "file_mb": round(Path(args.file).stat().st_size / 2**20, 1),
    }


def stage_validate(args: argparse.Namespace) -> dict[str, Any]:
    """validate_batch of the landed batch, cold: GX context, suite run, quarantine, reconcile."""
    began = time.perf_counter()
    from credit.validation import validate_batch

    imported = time.perf_counter()
    outcome = validate_batch(args.url, args.batch_id)
    return {
        "rows": outcome.rows_read,
        "seconds": time.perf_counter() - imported,
        "import_seconds": imported - began,
        "quarantined": outcome.quarantined,
    }


def run_stage(args: argparse.Namespace) -> dict[str, Any]:
    stages = {
        "setup": stage_setup,
        "generate": stage_generate,
        "copy": stage_copy,
        "land": stage_land,
        "parse": stage_parse,
        "validate": stage_validate,
    }
    result = stages[args.child](args)
    result["stage"] = args.child
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def run_in_child(stage: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", stage, "--rows", str(args.rows)]
    command += ["--defect-rate", str(args.defect_rate), "--url", args.url]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------

LABELS = {
    "generate": "build the rows in Python (no I/O)",
    "copy": "plain `COPY`, text columns only (baseline)",
    "land": "`land_batch` (lineage + `COPY`)",
    "parse": "parse GBK CSV drop (`identify` + `parse`)",
    "validate": "`validate_batch` (GX push-down)",
}


def render(results: list[dict[str, Any]], context: dict[str, Any]) -> str:
    by_stage = {r["stage"]: r for r in results}
    copy_s = by_stage["copy"]["seconds"]
    validate = by_stage["validate"]
    lines = [
        "## Ingestion",
        "",
        f"`bench/bench_ingest.py --rows {context['rows']}`, {dt.date.today()}, "
        f"{machine()}, commit {context['commit']}, "
        f"{context['server']}. {context['rows']:,} penalty rows (seeded; "
        f"{validate['quarantined']:,} with a defect), whole run {context['wall_s']:.0f} s, "
        "one run. Results: `bench/results/ingest.json`.",
        "Each stage runs in its own process; peak RSS is that process's and includes the rows "
        "held in memory (see the first line). Time vs plain COPY = stage seconds / COPY seconds.",
        "",
        "| stage | rows/s | seconds | time vs plain COPY | peak RSS (MB) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ratio = "—" if r["stage"] == "generate" else f"{r['seconds'] / copy_s:.2f}×"
        lines.append(
            f"| {LABELS[r['stage']]} | {round(r['rows'] / r['seconds']):,} | {r['seconds']:.2f} "
            f"| {ratio} | {r['peak_rss_mb']} |"
        )
    chain = sum(by_stage[stage]["seconds"] for stage in ("parse", "land", "validate"))
    lines += ["", *explanation(by_stage, context, chain), "", *targets(by_stage)]
    return "\n".join(lines) + "\n"


def explanation(
    by_stage: dict[str, dict[str, Any]], context: dict[str, Any], chain: float
) -> list[str]:
    copy, land, validate = by_stage["copy"], by_stage["land"], by_stage["validate"]
    return [
        f"Landing costs {land['seconds'] / copy['seconds']:.1f}× a plain COPY of the same rows. "
        "The client's side is the plain COPY's, the lineage values and a test for NUL per row. "
        "The server's side is the rest: writing the rows into "
        f"`raw.{KIND}` alone takes PostgreSQL {land['server_land_s']:.2f} s against "
        f"{land['server_copy_s']:.2f} s into the bare table (the same rows re-inserted under "
        "EXPLAIN ANALYZE), for the lineage columns, the identity key and the batch index "
        f"({land['table_mb']} MB on disk against {copy['table_mb']} MB for the bare table); "
        "the content hash is computed when read (`raw.row_hash(row)`), and no foreign key is "
        "checked per row. "
        f"Parsing the {by_stage['parse']['file_mb']} "
        "MB GBK file (decode, csv, one SourceRow per line) is Python and holds the whole file "
        "in memory, hence its peak RSS. Validation is the bottleneck of the chain: it runs "
        f"{context['expectations']} expectations as SQL over the batch, collects the ids of "
        "the failing rows and quarantines them; its time includes building the GX context "
        f"(importing GX, {validate['import_seconds']:.1f} s, is not counted). A drop file of "
        f"{context['rows']:,} rows thus takes about {chain:.0f} s (parse + land + validate) to "
        "reach validated raw rows.",
    ]


def targets(by_stage: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 14's two targets for this benchmark, as measured (on 1,000,000 rows)."""
    land_share = by_stage["copy"]["seconds"] / by_stage["land"]["seconds"]
    validate = by_stage["validate"]
    rate = validate["rows"] / validate["seconds"]
    return [
        "| target | measured | met |",
        "|---|---|---|",
        f"| landing at least 0.5x the rows/s of a plain COPY | {land_share:.2f}x "
        f"| {'yes' if land_share >= 0.5 else '**no**'} |",
        f"| validation at least 100,000 rows/s on 1,000,000 rows | {rate:,.0f} rows/s on "
        f"{validate['rows']:,} | "
        f"{'yes' if rate >= 100_000 and validate['rows'] >= 1_000_000 else '**no**'} |",
    ]


def expectation_count() -> int:
    """From the committed suite's JSON: importing the suite module would import GX here."""
    suite = json.loads((EXPECTATIONS_DIR / f"{KIND}.json").read_text(encoding="utf-8"))
    return len(suite["expectations"])


# --- main ------------------------------------------------------------------------------------


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        drop = drop_path(Path(folder))
        for stage in ("generate", "copy", "land", "parse"):
            results.append(run_in_child(stage, args, file=drop))
            print(results[-1], flush=True)
    batch_id = results[-2]["batch_id"]
    results.append(run_in_child("validate", args, batch_id=batch_id))
    print(results[-1], flush=True)
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--defect-rate", type=float, default=0.01)
    parser.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--batch-id", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        print(json.dumps(run_stage(args)))
        return
    from credit.warehouse import database_url, drop_database

    began = time.perf_counter()
    args.url = database_url("bench_ingest")
    try:
        server = run_in_child("setup", args)["server"]
        results = run_all(args)
    finally:
        drop_database(args.url)
    context = {
        "rows": args.rows,
        "server": server,
        "wall_s": time.perf_counter() - began,
        "expectations": expectation_count(),
        "commit": commit(),
    }
    by_stage = {r["stage"]: r for r in results}
    result = {
        **context,
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "stages": by_stage,
        "land_vs_copy": by_stage["land"]["seconds"] / by_stage["copy"]["seconds"],
        "validate_rows_per_s": by_stage["validate"]["rows"] / by_stage["validate"]["seconds"],
    }
    publish("ingest", result, render(results, context), doc=not args.no_doc)


if __name__ == "__main__":
    main()
