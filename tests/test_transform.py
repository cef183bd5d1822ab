"""The transform DAG: Cosmos renders the dbt project and builds the same warehouse as dbt.

Its DAG run rebuilds the shared quarter county, so this module runs after the others that read it
(pytest's file order); the rebuilt marts equal what they were.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

from credit.airflow_env import COUNTY_TIMEZONE, run_dag
from credit.assets import COUNTY_DAY_EXTRA, RAW_ASSETS
from credit.paths import DAGS_DIR
from credit.transform import AS_OF_PARAM, run_as_of_date
from tests.county import QUARTER_LAST_DAY

MARTS = ("marts.fct_credit_records", "marts.dim_subjects", "marts.fct_dishonesty_records")
# What dbt builds (every model; seeds and the snapshot are rebuilt in place by their tasks).
BUILT_SCHEMAS = ("staging", "intermediate", "marts")


def test_cosmos_renders_every_dbt_node_as_a_task(airflow_ready) -> None:
    dag = DagBag(dag_folder=str(DAGS_DIR)).dags["credit_transform"]
    task_ids = {task.task_id for task in dag.tasks}
    for model in ("stg_raw__penalties", "dim_subjects", "fct_dishonesty_records"):
        assert any(model in task_id for task_id in task_ids), model


def _marts(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select * from {table} order by 1, 2").fetchall()  # noqa: S608
            for table in MARTS
        }


def _as_of_dates(url: str) -> set[dt.date]:
    with psycopg.connect(url) as conn:
        return {
            row[0]
            for table in ("marts.fct_dishonesty_records", "marts.dossiers")
            for row in conn.execute(f"select distinct as_of_date from {table}")  # noqa: S608
        }


def test_the_dag_builds_what_a_bare_dbt_build_builds_as_of_the_run_date(
    quarter_county, airflow_ready
) -> None:
    """The shared county was built by a bare `dbt build` as of its last day (tests/county.py).
    With every model dropped, the DAG's run of that night builds exactly the same marts."""
    expected = _marts(quarter_county.url)
    assert all(expected.values()), "the county produced no rows to compare"
    assert _as_of_dates(quarter_county.url) == {QUARTER_LAST_DAY}
    with psycopg.connect(quarter_county.url, autocommit=True) as conn:
        for schema in BUILT_SCHEMAS:
            conn.execute(f"drop schema {schema} cascade")
            conn.execute(f"create schema {schema}")
    # Midnight in Jiangyin is still the previous day in UTC: the county day is read in CST.
    night = dt.datetime.combine(QUARTER_LAST_DAY, dt.time(0, 30), COUNTY_TIMEZONE)
    assert run_dag("credit_transform", logical_date=night) == "success"
    assert _marts(quarter_county.url) == expected
    assert _as_of_dates(quarter_county.url) == {QUARTER_LAST_DAY}


def _raw_event(kind_index: int, county_day: str | None) -> AssetEventDagRunReferenceResult:
    asset = RAW_ASSETS[kind_index]
    return AssetEventDagRunReferenceResult(
        asset=AssetReferenceAssetEventDagRun(name=asset.name, uri=asset.uri, extra={}),
        extra={COUNTY_DAY_EXTRA: county_day} if county_day else {},
        source_task_id="reconcile",
        source_dag_id="credit_ingest",
        source_run_id="scheduled__2026-01-06",
        source_map_index=-1,
        source_aliases=[],
        timestamp=dt.datetime(2026, 1, 6, 18, tzinfo=dt.UTC),
    )


def test_the_run_date_comes_from_the_param_then_the_ingest_events_then_the_run() -> None:
    run = dt.datetime(2026, 1, 9, 17, tzinfo=dt.UTC)  # 01:00 on the 10th in Jiangyin
    events = TriggeringAssetEventsAccessor.build(
        [_raw_event(0, "2026-01-06"), _raw_event(1, "2026-01-07"), _raw_event(2, None)]
    )
    assert run_as_of_date({AS_OF_PARAM: "2026-03-31"}, events, run) == dt.date(2026, 3, 31)
    assert run_as_of_date({AS_OF_PARAM: None}, events, run) == dt.date(2026, 1, 7)
    assert run_as_of_date({}, TriggeringAssetEventsAccessor.build([]), run) == dt.date(2026, 1, 10)
