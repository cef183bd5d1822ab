"""Objections (异议) end to end, as the credit office sees them.

A department's exchange database holds, night after night, a serious dishonesty record
(认定), an objection against it (受理), the objection closed with 撤销 (办结) and, the day after,
the department's own 撤销 version of the record. Each night lands the department's rows
(real pull, landing and Great Expectations validation) and the nightly transform builds the
warehouse as of that day.
The marts mark the record under objection (异议中) the night the objection lands; the outcome
revokes it that day, before the department's version comes, so it leaves the stock and its
warnings close; the version history and the change log (变更日志) name the objection and its
source row.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from county_sim import engine, systems
from credit import warehouse
from credit.airflow_env import COUNTY_TIMEZONE
from credit.catalogue import record_kind
from credit.dbt import run_dbt
from credit.ingest import ingest_source, reconcile_night, validate_pending
from credit.paths import DBT_PROJECT_DIR
from credit.sources import Source, sources
from credit.transform import build_marts
from tests.county import County, insert_exchange_row

DECIDED = dt.date(2026, 3, 2)  # a Monday; each event comes on the next working day
OBJECTED = DECIDED + dt.timedelta(days=1)
REVOKED = OBJECTED + dt.timedelta(days=1)
APPLIED = REVOKED + dt.timedelta(days=1)  # the department sends its 撤销 version
DOC_NO = "澄异议测〔2026〕1号"
OBJECTION_NO = "YY2026030301"


def _department() -> tuple[Source, str, str]:
    """An exchange-database department sending dishonesty and objections, and a behaviour its
    dishonesty list (the dishonesty_behaviours seed) rates serious."""
    with (DBT_PROJECT_DIR / "seeds" / "rules" / "dishonesty_behaviours.csv").open(
        encoding="utf-8"
    ) as f:
        serious = [row for row in csv.DictReader(f) if row["severity_code"] == "serious"]
    for row in serious:
        source = sources()[row["dept_code"]]
        if source.shape == "exchange_db" and {"dishonesty", "objection"} <= set(source.kinds):
            return source, row["behaviour_code"], row["behaviour"]
    raise AssertionError("no exchange-database department with a serious behaviour")


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Iterator[County]:
    """A private warehouse over a county whose systems are empty but for this test's rows."""
    name = "objection"
    url = f"{warehouse.warehouse_url()}_{name}"
    env = {
        warehouse.ENV_URL: url,
        "CREDIT_DATA_DIR": str(tmp_path_factory.mktemp(name)),
        "DBT_TARGET_PATH": str(tmp_path_factory.mktemp(f"{name}_dbt_target")),
        "DBT_LOG_PATH": str(tmp_path_factory.mktemp(f"{name}_dbt_logs")),
    }
    county = County(url=url, truth=Path(), env=env)
    with county.active():
        engine.create_county(11, "test", DECIDED)  # the population and empty systems
        warehouse.ensure_warehouse()
        # The reference data, which the weekly credit_reference DAG loads.
        run_dbt(["seed", "--select", "path:seeds/reference"])
        yield county


class Department:
    """The department's system: rows it commits to its exchange database on a day."""

    def __init__(self) -> None:
        self.source, self.behaviour_code, self.behaviour = _department()
        self.names = systems.system_names(self.source.dept_code)
        self.subject = engine.population_of(engine.load_state()).subjects[0]
        with (DBT_PROJECT_DIR / "seeds" / "reference" / "departments.csv").open(
            encoding="utf-8"
        ) as f:
            names = {row["dept_code"]: row["name_zh"] for row in csv.DictReader(f)}
        self.authority = f"江阴市{names[self.source.dept_code]}"

    def commit(self, kind_name: str, day: dt.date, row: dict, record_id: str) -> None:
        kind = record_kind(kind_name)
        stamped = dt.datetime.combine(day, dt.time(10), COUNTY_TIMEZONE)
        subject = self.subject
        values = {
            "subject_name": subject.name,
            "subject_type": subject.subject_type,
            "uscc": subject.uscc,
            "legal_rep": subject.legal_rep,
            "legal_rep_id_number": subject.legal_rep_id,
            "authority": self.authority,
            "authority_code": self.source.organ_uscc,
            "source_unit": self.authority,
            "source_unit_code": self.source.organ_uscc,
            "change_type": "新增",
            "record_id": record_id,
            "updated_at": stamped,
            **row,
        }
        with psycopg.connect(systems.exchange_url()) as conn:
            insert_exchange_row(
                conn, self.names.table(kind.name), self.names.to_system(kind, values)
            )

    def dishonesty(self, day: dt.date, change_type: str, remarks: str | None) -> None:
        self.commit(
            "dishonesty",
            day,
            {
                "decision_doc_no": DOC_NO,
                "behaviour_code": self.behaviour_code,
                "behaviour": self.behaviour,
                "severity": "严重",
                "basis": "《失信行为认定办法》",
                "decision_date": DECIDED.isoformat(),
                "rectification_deadline": (DECIDED + dt.timedelta(days=30)).isoformat(),
                "publicity_until": DECIDED.replace(year=DECIDED.year + 3).isoformat(),
                "change_type": change_type,
                "remarks": remarks,
            },
            f"SX-{day:%m%d}",
        )

    def objection(self, day: dt.date, stage: str, outcome: str | None) -> None:
        self.commit(
            "objection",
            day,
            {
                "objection_no": OBJECTION_NO,
                "target_doc_no": DOC_NO,
                "target_kind": "失信行为认定",
                "stage": stage,
                "filed_date": OBJECTED.isoformat(),
                "reason": "对认定事实有异议，申请核查",
                "outcome": outcome,
                "outcome_date": day.isoformat() if outcome else None,
            },
            f"YY-{day:%m%d}",
        )


def _night(department: Department, day: dt.date) -> None:
    """The department's rows of the night landed and validated, the warehouse built as of it."""
    ingest_source(department.source.dept_code, day)
    validate_pending()
    reconcile_night(day)
    build_marts(day, f"objection-{day}", 1)


def _one(conn: psycopg.Connection, query: str, *params) -> dict:
    rows = conn.execute(query, params).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def _stock(conn: psycopg.Connection, dept_code: str) -> dict[dt.date, int]:
    """The department's daily stock of records (失信存量) up to the as-of date."""
    rows = conn.execute(
        "select period_start, stock_end from marts.fct_dishonesty_metrics where grain = 'day'"
        " and unit = 'records' and dimension = 'department' and dimension_value = %s",
        (dept_code,),
    ).fetchall()
    return {row["period_start"]: row["stock_end"] for row in rows}


def _joint_punishment_notices(conn: psycopg.Connection) -> list[dict]:
    return conn.execute(
        "select status, closed_date from marts.fct_warnings"
        " where rule_code = 'joint_punishment_notice' and condition_key like %s",
        (f"{DOC_NO}|%",),
    ).fetchall()


def test_an_objection_revokes_a_record_from_source_row_to_change_log(office) -> None:
    department = Department()
    dept_code = department.source.dept_code

    department.dishonesty(DECIDED, "新增", None)
    _night(department, DECIDED)
    with psycopg.connect(office.url, row_factory=dict_row) as conn:
        record = _one(conn, "select * from marts.fct_dishonesty_records")
        assert (record["severity_code"], record["record_status_zh"]) == ("serious", "有效")
        assert _stock(conn, dept_code)[DECIDED] == 1
        notices = _joint_punishment_notices(conn)
        assert notices and {n["status"] for n in notices} == {"open"}

    department.objection(OBJECTED, "受理", None)
    _night(department, OBJECTED)
    with psycopg.connect(office.url, row_factory=dict_row) as conn:
        record = _one(conn, "select * from marts.fct_dishonesty_records")
        assert record["under_objection"] and record["is_active"]
        assert (record["objection_no"], record["objection_state"]) == (OBJECTION_NO, "pending")
        assert (record["record_status"], record["record_status_zh"]) == (
            "under_objection",
            "异议中",
        )
        dossier = _one(conn, "select * from marts.dossiers")
        assert (dossier["under_objection_count"], dossier["pending_objection_count"]) == (1, 1)
        assert _stock(conn, dept_code)[OBJECTED] == 1
        assert not conn.execute("select * from marts.fct_dishonesty_record_changes").fetchall()

    department.objection(REVOKED, "办结", "撤销")
    _night(department, REVOKED)
    with psycopg.connect(office.url, row_factory=dict_row) as conn:
        closing = _one(
            conn,
            "select raw_row_id, batch_id from raw.objection where source_ref = %s",
            f"YY-{REVOKED:%m%d}",
        )
        record = _one(conn, "select * from marts.fct_dishonesty_records")
        assert (record["exit_reason"], record["exit_date"]) == ("revocation", REVOKED)
        assert (record["objection_outcome"], record["under_objection"]) == ("revoke", False)
        assert record["record_status_zh"] == "已退出"
        stock = _stock(conn, dept_code)
        assert (stock[OBJECTED], stock[REVOKED]) == (1, 0)
        notices = _joint_punishment_notices(conn)
        assert notices and {(n["status"], n["closed_date"]) for n in notices} == {
            ("closed", REVOKED)
        }
        change = _one(conn, "select * from marts.fct_dishonesty_record_changes")
        assert change["change_type_code"] == "revoke" and change["change_type"] == "撤销"
        assert (change["change_cause_code"], change["objection_no"]) == ("objection", OBJECTION_NO)
        assert (change["objection_raw_row_id"], change["objection_batch_id"]) == (
            closing["raw_row_id"],
            closing["batch_id"],
        )
        assert OBJECTION_NO in change["change_cause"] and "撤销" in change["change_cause"]
        assert (change["change_date"], change["left_stock"]) == (REVOKED, True)
        assert change["version_pending"] and change["version_number"] is None

    department.dishonesty(APPLIED, "撤销", "经异议核查，撤销原认定")
    _night(department, APPLIED)
    with psycopg.connect(office.url, row_factory=dict_row) as conn:
        versions = conn.execute(
            "select version_number, change_type_code, change_cause_code, objection_no,"
            " objection_raw_row_id, known_date, valid_to is null as is_open"
            " from marts.fct_dishonesty_record_versions order by version_number"
        ).fetchall()
        assert [tuple(v.values()) for v in versions] == [
            (1, "insert", "identification", None, None, DECIDED, False),
            (2, "revoke", "objection", OBJECTION_NO, closing["raw_row_id"], APPLIED, True),
        ]
        record = _one(conn, "select * from marts.fct_dishonesty_records")
        assert (record["exit_date"], record["version_count"]) == (REVOKED, 2)
        change = _one(conn, "select * from marts.fct_dishonesty_record_changes")
        assert (change["change_key"], change["version_known_date"]) == (f"{DOC_NO}#2", APPLIED)
        assert (change["change_date"], change["version_pending"]) == (REVOKED, False)
        assert change["objection_raw_row_id"] == closing["raw_row_id"]
        assert change["version_remarks"] == "经异议核查，撤销原认定"
        assert _stock(conn, dept_code)[APPLIED] == 0
