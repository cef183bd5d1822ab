"""Reference data shared by the simulator, the ingestion and dbt: departments and divisions.

The CSV files are dbt seeds (``dbt/seeds/reference``), so the warehouse and the Python code
read the very same rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from credit.paths import DBT_PROJECT_DIR

REFERENCE_DIR = DBT_PROJECT_DIR / "seeds" / "reference"
JIANGYIN_DIVISION = "320281"


@dataclass(frozen=True)
class Department:
    """One of the 34 departments of the scheme's Attachment 1 (责任单位)."""

    dept_code: str
    name_zh: str
    name_en: str
    domains_zh: tuple[str, ...]
    key_groups: bool


@dataclass(frozen=True)
class Division:
    """A town-level unit of Jiangyin (镇/街道/园区)."""

    division_code: str
    name_zh: str
    kind: str


@cache
def departments() -> tuple[Department, ...]:
    with (REFERENCE_DIR / "departments.csv").open(encoding="utf-8", newline="") as f:
        return tuple(
            Department(
                dept_code=row["dept_code"],
                name_zh=row["name_zh"],
                name_en=row["name_en"],
                domains_zh=tuple(row["domains_zh"].split(";")),
                key_groups=row["key_groups"] == "true",
            )
            for row in csv.DictReader(f)
        )


@cache
def divisions() -> tuple[Division, ...]:
    with (REFERENCE_DIR / "jiangyin_divisions.csv").open(encoding="utf-8", newline="") as f:
        return tuple(Division(**row) for row in csv.DictReader(f))


def department(dept_code: str) -> Department:
    for dept in departments():
        if dept.dept_code == dept_code:
            return dept
    raise KeyError(f"unknown department code {dept_code!r}")


def check_loaded_reference(url: str) -> dict[str, int]:
    """Compare the warehouse's reference tables with the seed files; raise on any difference."""
    import psycopg

    expected = {
        "reference.departments": len(departments()),
        "reference.jiangyin_divisions": len(divisions()),
        "marts.dim_department_domains": sum(len(d.domains_zh) for d in departments()),
    }
    with psycopg.connect(url) as conn:
        found = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
            for table in expected
        }
    if found != expected:
        raise AssertionError(
            f"reference data in the warehouse {found} differs from seeds {expected}"
        )
    return found


def reference_loaded(url: str) -> bool:
    """Whether the warehouse holds the reference data as the seed files have it."""
    import psycopg

    try:
        check_loaded_reference(url)
    except (AssertionError, psycopg.errors.UndefinedTable):
        return False
    return True
