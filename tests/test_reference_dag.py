"""A real Airflow run of the reference-data DAG against the real warehouse."""

from __future__ import annotations

import psycopg

from credit.airflow_env import run_dag


def test_reference_dag_loads_departments_and_divisions(airflow_ready, warehouse_url) -> None:
    assert run_dag("credit_reference") == "success"
    with psycopg.connect(warehouse_url) as conn:
        departments = conn.execute("select count(*) from reference.departments").fetchone()[0]
        divisions = conn.execute(
            "select count(*) from reference.jiangyin_divisions where division_code like '320281%'"
        ).fetchone()[0]
        market = conn.execute(
            "select count(*) from marts.dim_department_domains"
            " where dept_code = 'market_regulation'"
        ).fetchone()[0]
    assert (departments, divisions, market) == (34, 21, 6)


def test_rerunning_changes_nothing(airflow_ready, warehouse_url) -> None:
    def snapshot() -> list[tuple]:
        with psycopg.connect(warehouse_url) as conn:
            return conn.execute(
                "select * from marts.dim_department_domains order by department_domain_key"
            ).fetchall()

    run_dag("credit_reference")
    before = snapshot()
    run_dag("credit_reference")
    assert snapshot() == before
