"""What was known when (issue 19, point 1): a past quarter's end rebuilt after later nights have
landed corrections is the warehouse that night built, mart for mart and row for row.

A county of its own runs three nights as the DAGs run them (ingest, validate, transform): the
24th of March, the quarter's end (31 March), whose warehouse is copied aside as it stood, and
the 14th of April, which lands a fortnight of April, corrections of the quarter's records
among it. ``credit warehouse as-of 2026-03-31`` (:func:`credit.as_of.rebuild_as_of`) then
rebuilds the latest warehouse as of the quarter's end, from scratch: every mart equals the
copy's.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from county_sim import engine
from credit import warehouse
from credit.as_of import as_of_database_url, copy_database
from credit.dbt import run_dbt
from credit.transform import build_marts
from tests.catch_up import CREDIT, table_rows
from tests.county import County, ingest_night, simulated_county

FIRST_DAY = dt.date(2026, 3, 9)
QUARTER_END = dt.date(2026, 3, 31)
NIGHTS = (dt.date(2026, 3, 24), QUARTER_END, dt.date(2026, 4, 14))


@dataclass(frozen=True)
class Warehouses:
    county: County
    that_night: str  # the copy of the warehouse as the quarter's end built it
    rebuilt: str  # the latest warehouse rebuilt as of the quarter's end


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory) -> Iterator[Warehouses]:
    with simulated_county(tmp_path_factory, "asof", FIRST_DAY, NIGHTS[0]) as county:
        run_dbt(["seed"])
        run_dbt(["run", "--select", "path:models/marts/reference"])
        that_night = ""
        for night in NIGHTS:
            engine.advance(night)
            ingest_night(night)
            build_marts(night, run_id=f"night-{night}", attempt=1)
            if night == QUARTER_END:
                that_night = f"{county.url}_that_night"
                copy_database(county.url, that_night)
        rebuilt = subprocess.run(
            [CREDIT, "warehouse", "as-of", QUARTER_END.isoformat()],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
        try:
            yield Warehouses(county, that_night, as_of_database_url(QUARTER_END))
        finally:
            warehouse.drop_database(that_night)
            warehouse.drop_database(as_of_database_url(QUARTER_END))


def _marts(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'marts' order by 1"
            )
        ]


def _scalar(url: str, query: str, *params) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def test_later_nights_landed_corrections_of_the_quarter(warehouses) -> None:
    """The comparison below is not idle: after the quarter's end the sources sent new versions
    of records decided in it, and the marts of the latest night differ from that night's."""
    url = warehouses.county.url
    corrected = _scalar(
        url,
        "select count(*) from staging.stg_raw__dishonesties"
        " where logical_date > %s and decision_date <= %s and change_type_code <> 'insert'",
        QUARTER_END,
        QUARTER_END,
    )
    assert corrected > 0
    assert _scalar(url, "select max(as_of_date) from marts.fct_dishonesty_records") == NIGHTS[-1]
    assert sorted(map(repr, table_rows(url, "marts", "dim_subjects"))) != sorted(
        map(repr, table_rows(warehouses.that_night, "marts", "dim_subjects"))
    )


def test_the_quarter_end_rebuilt_later_is_the_one_built_that_night(warehouses) -> None:
    marts = _marts(warehouses.that_night)
    assert len(marts) > 30
    assert _marts(warehouses.rebuilt) == marts
    differing = {}
    for name in marts:
        then = sorted(map(repr, table_rows(warehouses.that_night, "marts", name)))
        again = sorted(map(repr, table_rows(warehouses.rebuilt, "marts", name)))
        if then != again:
            differing[name] = (len(then), len(again), len(set(then) ^ set(again)))
    assert not differing, f"mart: (rows that night, rows rebuilt, rows differing) {differing}"
