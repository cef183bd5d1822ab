"""A simulated county for tests that need real source systems and a private warehouse."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from credit import warehouse
from credit.paths import DBT_PROJECT_DIR

# The shared county: one full quarter (2026 Q1) and the first days of the next, so quarterly
# numbers, quarter-on-quarter comparisons and the exports' "Nth working day after quarter end"
# all have data.
QUARTER_FIRST_DAY = date(2026, 1, 5)
QUARTER_LAST_DAY = date(2026, 4, 8)


def source_ref(source_row: dict) -> str:
    """The warehouse's ``source_ref`` of a row the truth names by its identity in its system."""
    if "file" in source_row:
        return f"{source_row['file']}:{source_row['line']}"
    return source_row["record_id"]


@dataclass(frozen=True)
class County:
    """A simulated county's warehouse, ground truth and the environment that points at them."""

    url: str
    truth: Path
    env: dict[str, str]

    @contextmanager
    def active(self) -> Iterator[County]:
        """Point the project (warehouse, data folder, dbt target, API connection) at this county."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.env.items():
                patch.setenv(name, value)
            yield self


def insert_exchange_row(conn: psycopg.Connection, table: sql.Identifier, row: dict) -> None:
    """A row a department's system commits into its exchange-database ``table``, as it is."""
    conn.execute(
        sql.SQL("insert into {} ({}) values ({})").format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        ),
        list(row.values()),
    )


@contextmanager
def simulated_county(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    first_day: date,
    last_day: date,
    *,
    activate: bool = True,
) -> Iterator[County]:
    """A test-scale county from ``first_day`` to ``last_day`` with a private warehouse.

    Its own databases (``<test warehouse>_<name>`` and its exchange database), data folder and
    dbt target folder, and the county's HTTP API served on a free port, all undone on exit.
    With ``activate`` the county's environment is set inside the ``with`` block; without, only
    ``County.active()`` sets it (for a county shared by a whole session).
    """
    from county_sim import engine
    from county_sim.api_server import start_api
    from county_sim.settings import api_token
    from credit.ingest import API_CONN

    url = f"{warehouse.warehouse_url()}_{name}"
    env = {
        warehouse.ENV_URL: url,
        "CREDIT_DATA_DIR": str(tmp_path_factory.mktemp(name)),
        "DBT_TARGET_PATH": str(tmp_path_factory.mktemp(f"{name}_dbt_target")),
        "DBT_LOG_PATH": str(tmp_path_factory.mktemp(f"{name}_dbt_logs")),
    }
    with County(url=url, truth=Path(), env=env).active():
        engine.create_county(11, "test", first_day)
        engine.advance(last_day)
        warehouse.ensure_warehouse()
        truth = engine.truth_dir()
        server = start_api(port=0)  # serves this county's folder even when inactive
    try:
        token_url = server.url.replace("http://", f"http://user:{api_token()}@")
        env[f"AIRFLOW_CONN_{API_CONN.upper()}"] = token_url
        county = County(url=url, truth=truth, env=env)
        if activate:
            with county.active():
                yield county
        else:
            yield county
    finally:
        server.stop()


@contextmanager
def built_quarter_county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    """The shared county: every department ingested up to QUARTER_LAST_DAY, dbt seeded and built.

    The first night of a new installation catches up on each source's backlog, so one ingest per
    department lands the whole period; dbt then builds everything as of the last day.
    """
    from credit.dbt import run_dbt
    from credit.ingest import ingest_source, reconcile_night, validate_pending
    from credit.sources import sources

    with simulated_county(
        tmp_path_factory, "quarter", QUARTER_FIRST_DAY, QUARTER_LAST_DAY, activate=False
    ) as county:
        with county.active():
            for dept_code in sources():
                ingest_source(dept_code, QUARTER_LAST_DAY)
            validate_pending()
            reconcile_night(QUARTER_LAST_DAY)
            run_dbt(["seed"])
            as_of = json.dumps({"as_of_date": QUARTER_LAST_DAY.isoformat()})
            # The unit tests run by themselves (tests/test_dbt_warnings.py).
            run_dbt(["build", "--vars", as_of, "--exclude-resource-type", "unit_test"])
        yield county


def ingest_night(day: date) -> None:
    """What a night's ``credit_ingest`` does, in this process: every department's sources
    pulled up to ``day``, the batches validated, the night's collection reconciled."""
    from credit.ingest import ingest_source, reconcile_night, validate_pending
    from credit.sources import sources

    for dept_code in sources():
        ingest_source(dept_code, day)
    validate_pending()
    reconcile_night(day)


def mart_digests(url: str, names: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every row of each named mart."""
    with psycopg.connect(url) as conn:
        return {
            name: conn.execute(
                sql.SQL(
                    "select count(*), md5(string_agg(md5(t::text), '' order by md5(t::text)))"
                    " from marts.{} as t"
                ).format(sql.Identifier(name))
            ).fetchone()
            for name in names
        }


def project_with_rules(
    folder: Path, changes: dict[str, Callable[[dict[str, str]], object]]
) -> Path:
    """A copy of the dbt project in ``folder`` whose rule seeds (``seeds/rules/<name>.csv``)
    have each row passed through ``changes[name]``, which edits it in place."""
    project = folder / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    for name, change in changes.items():
        seed = project / "seeds" / "rules" / f"{name}.csv"
        with seed.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            change(row)
        with seed.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return project
