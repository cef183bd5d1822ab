"""The transform DAG: Cosmos renders the dbt project and builds the same warehouse as dbt."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag

from credit.airflow_env import run_dag
from credit.dbt import run_dbt
from credit.ingest import ingest_source
from credit.paths import DAGS_DIR
from credit.sources import sources
from credit.transform import parse_manifest
from tests.county import simulated_county

DAY = dt.date(2026, 1, 6)
MARTS = ("marts.fct_credit_records", "marts.dim_subjects", "marts.fct_dishonesty_records")


@pytest.fixture(scope="module")
def county(tmp_path_factory, airflow_ready):
    with simulated_county(tmp_path_factory, "transform", DAY, DAY) as county:
        for dept_code in sources():
            ingest_source(dept_code, DAY)
        parse_manifest()
        yield county


def _marts(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select * from {table} order by 1, 2").fetchall()  # noqa: S608
            for table in MARTS
        }


def test_cosmos_renders_every_dbt_node_as_a_task(county) -> None:
    dag = DagBag(dag_folder=str(DAGS_DIR)).dags["credit_transform"]
    task_ids = {task.task_id for task in dag.tasks}
    for model in ("stg_raw__penalties", "dim_subjects", "fct_dishonesty_records"):
        assert any(model in task_id for task_id in task_ids), model


def test_the_dag_builds_what_a_bare_dbt_build_builds(county) -> None:
    run_dbt(["build"])
    expected = _marts(county["url"])
    assert all(expected.values()), "the county produced no rows to compare"
    assert run_dag("credit_transform") == "success"
    assert _marts(county["url"]) == expected
