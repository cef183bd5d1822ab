"""A second warehouse over a county's systems that missed nights and catches them up, and the
comparison of two warehouses and their exports (tests of ``credit airflow catch-up``)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from credit import nights, warehouse
from credit.exports.daily import KIND as DAILY_WARNINGS
from credit.exports.outbox import MANIFEST, latest_version
from credit.exports.publicity import KIND as DAILY_PUBLICITY
from credit.exports.settings import outbox_dir
from credit.ingest import DROPS_CONN, EXCHANGE_CONN, drops_root, exchange_url
from tests.county import County

CREDIT = str(Path(sys.executable).with_name("credit"))
# The schemas the nights write: what they land and what dbt builds.
NIGHTS_SCHEMAS = ("raw", "quarantine", "staging", "intermediate", "marts", "snapshots")
# Columns that say when a row was written, not what it holds, and the warehouse's own numbers
# of raw rows and batches, which follow the order the night's sources happened to land in.
NOT_CONTENT = (
    *("received_at", "quarantined_at", "staged_at", "dbt_updated_at", "dbt_valid_from"),
    "dbt_valid_to",
    *("dbt_scd_id", "raw_row_id", "batch_id", "credit_record_id", "current_raw_row_id"),
    *("objection_raw_row_id", "objection_batch_id", "version_raw_row_id", "version_batch_id"),
    # intermediate.publicity_periods_state: when staging last wrote the rows a build read
    *("permits_staged_at", "penalties_staged_at"),
)
# What a build found changed since the build before: nothing, for a night built a second time.
LAST_BUILDS_CHANGES = frozenset(
    {
        "int_evaluation_input_changes",
        "int_evaluation_targets",
        "int_subject_batches",
        "int_subjects_changed",
    }
)


def late_warehouse(county: County, tmp_path_factory: pytest.TempPathFactory) -> County:
    """A warehouse of its own (database, data folder, dbt target) over ``county``'s systems;
    call it with the county active."""
    env = {
        **county.env,
        warehouse.ENV_URL: f"{county.url}_late",
        "CREDIT_DATA_DIR": str(tmp_path_factory.mktemp("late")),
        "DBT_TARGET_PATH": str(tmp_path_factory.mktemp("late_dbt_target")),
        "DBT_LOG_PATH": str(tmp_path_factory.mktemp("late_dbt_logs")),
        f"AIRFLOW_CONN_{EXCHANGE_CONN.upper()}": exchange_url(),
        f"AIRFLOW_CONN_{DROPS_CONN.upper()}": f"fs://{drops_root()}",
    }
    return County(url=env[warehouse.ENV_URL], truth=county.truth, env=env)


def catch_up_failing_on(
    first: dt.date, last: dt.date, unwritable: dt.date
) -> tuple[nights.NightFailed, str]:
    """In the active warehouse, the nights ``first``..``last`` caught up with the outbox
    unwritable on ``unwritable``, so that the nights stop there; then, the outbox fixed,
    ``credit airflow catch-up`` over the same range. Returns the first attempt's error and the
    command's output."""
    url = warehouse.ensure_warehouse()
    missed = nights.nights_to_run(url, first, last, today=dt.date.today())
    with pytest.raises(nights.NightFailed) as failed:
        nights.catch_up(url, missed, _outbox_unwritable_on(unwritable))
    (outbox_dir() / ".partial").unlink()
    resumed = subprocess.run(
        [CREDIT, "airflow", "catch-up", first.isoformat(), last.isoformat()],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return failed.value, resumed.stdout


def _outbox_unwritable_on(day: dt.date) -> Callable[[dt.date, list[nights.Step]], dict]:
    """The nights as the command runs them, but on ``day`` the outbox's working folder is a
    file."""

    def run_night(night: dt.date, steps: list[nights.Step]) -> dict[str, float]:
        if night == day:
            partial = outbox_dir() / ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.write_text("not a folder", encoding="utf-8")
        return nights.run_night_here(night, steps)

    return run_night


def nights_tables(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema = any(%s) order by 1, 2",
            (list(NIGHTS_SCHEMAS),),
        ).fetchall()


def table_rows(url: str, schema: str, table: str, *, but=()) -> list[tuple[str | None, ...]]:
    """Every row of a table, its columns but ``but``, each as PostgreSQL writes it."""
    with psycopg.connect(url) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            )
            if name not in but
        ]
        return conn.execute(
            sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns),
                sql.Identifier(schema, table),
            )
        ).fetchall()


def differing_tables(expected_url: str, url: str) -> list[str]:
    """The tables whose content differs between two warehouses (see NOT_CONTENT and
    LAST_BUILDS_CHANGES for what is not compared)."""
    return [
        f"{schema}.{table}"
        for schema, table in nights_tables(expected_url)
        if table not in LAST_BUILDS_CHANGES
        and sorted(map(repr, table_rows(url, schema, table, but=NOT_CONTENT)))
        != sorted(map(repr, table_rows(expected_url, schema, table, but=NOT_CONTENT)))
    ]


def export_files(day: dt.date) -> dict[str, bytes]:
    """A day's daily exports (the latest version of its warnings and of its publicity list) by
    kind and path, their manifests without the time they were written and the lineage (the
    warehouse's own run, invocation and batch numbers)."""
    files = {}
    for kind in (DAILY_WARNINGS, DAILY_PUBLICITY):
        latest = latest_version(kind, day.isoformat())
        assert latest is not None, f"no {kind} export of {day}"
        folder = latest[1]
        files |= {
            f"{kind}/{path.relative_to(folder)}": path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != MANIFEST
        }
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        manifest.pop("generated_at")
        manifest.pop("lineage")
        files[f"{kind}/{MANIFEST}"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def publicity_csv(day: dt.date, table: str) -> dict[str, dict[str, str]] | None:
    """A day's publicity CSV file (its latest version), ``listed`` or ``changes``, by 公示编号;
    None when the day has none."""
    latest = latest_version(DAILY_PUBLICITY, day.isoformat())
    assert latest is not None, f"no publicity export of {day}"
    found = sorted(latest[1].rglob(f"*_{table}.csv"))
    if not found:
        return None
    with found[0].open(encoding="utf-8-sig", newline="") as f:
        return {row["公示编号"]: row for row in csv.DictReader(f)}


def publicity_applied(days: list[dt.date]) -> dict[str, dict[str, str]]:
    """The first day's whole publicity list with each later day's changes applied, as the portal
    applies them: 新增 and 更新 put the record as given, 撤下 takes it off."""
    portal = publicity_csv(days[0], "listed")
    assert portal is not None, f"no whole list on {days[0]}"
    for day in days[1:]:
        for record, row in (publicity_csv(day, "changes") or {}).items():
            if row.pop("变更") == "撤下":
                del portal[record]
            else:
                portal[record] = row
    return portal


def exports_logged(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select kind, period, as_of_date, file_count, row_count, content_sha256"
            # A night's exports are tasks side by side: in the order of their days, not of ids.
            " from audit.exports order by as_of_date, kind, period, export_id"
        ).fetchall()
