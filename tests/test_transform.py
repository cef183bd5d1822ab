"""The transform DAG: one dbt build a night, each node's status recorded, a failed node retried
alone.

Its DAG run rebuilds the shared quarter county, so this module runs after the others that read it
(pytest's file order); the rebuilt marts equal what they were.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

import credit.dbt
import credit.transform
from credit.airflow_env import COUNTY_TIMEZONE, run_dag
from credit.assets import COUNTY_DAY_EXTRA, MARTS_ASSET, RAW_ASSETS
from credit.paths import DAGS_DIR, DBT_PROJECT_DIR
from credit.transform import AS_OF_PARAM, PASSED_STATUSES, build_marts, run_as_of_date
from tests.county import QUARTER_LAST_DAY

MARTS = ("marts.fct_credit_records", "marts.dim_subjects", "marts.fct_dishonesty_records")
# What the night builds (every model; seeds and the snapshot are rebuilt in place).
BUILT_SCHEMAS = ("staging", "intermediate", "marts")
# A reference table the night reads but never rebuilds (credit_reference owns it).
FAULTY_TABLE = "jiangyin_divisions"


def test_the_dag_is_one_dbt_build_publishing_the_marts(airflow_ready) -> None:
    dag = DagBag(dag_folder=str(DAGS_DIR)).dags["credit_transform"]
    assert [task.task_id for task in dag.tasks] == ["build"]
    assert [outlet.name for outlet in dag.tasks[0].outlets] == [MARTS_ASSET.name]


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


@contextmanager
def _fails_once(url: str, table: str) -> Iterator[None]:
    """The first query that reads ``reference.<table>`` fails; later ones read it as it was."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"alter table reference.{table} rename to {table}_kept")
        conn.execute("create sequence reference.fault_calls")
        conn.execute(
            """
            create function reference.fault_once() returns boolean
            language plpgsql volatile as $$
            begin
                if nextval('reference.fault_calls') = 1 then
                    raise exception 'injected fault: the first read fails';
                end if;
                return true;
            end $$
            """
        )
        conn.execute(
            f"create view reference.{table} as"  # noqa: S608
            f" select * from reference.{table}_kept where reference.fault_once()"
        )
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop view reference.{table}")
            conn.execute("drop function reference.fault_once()")
            conn.execute("drop sequence reference.fault_calls")
            conn.execute(f"alter table reference.{table}_kept rename to {table}")


def _node_results(url: str) -> dict[int, dict[str, str]]:
    """Per attempt of the one run recorded: node → status (the project hook left out)."""
    attempts: dict[int, dict[str, str]] = {}
    with psycopg.connect(url) as conn:
        runs = conn.execute("select distinct run_id from audit.dbt_node_results").fetchall()
        assert len(runs) == 1, runs
        for attempt, unique_id, status in conn.execute(
            "select attempt, unique_id, status from audit.dbt_node_results"
            " where resource_type <> 'operation'"
        ):
            attempts.setdefault(attempt, {})[unique_id] = status
    return attempts


def test_a_failed_node_is_retried_alone_and_the_night_builds_what_dbt_builds(
    quarter_county, airflow_ready
) -> None:
    """The shared county was built by a bare `dbt build` as of its last day (tests/county.py).
    With every model dropped, the DAG's run of that night builds exactly the same marts, although
    its first attempt fails on one node: the retry runs that node and what it skipped, no more."""
    expected = _marts(quarter_county.url)
    assert all(expected.values()), "the county produced no rows to compare"
    assert _as_of_dates(quarter_county.url) == {QUARTER_LAST_DAY}
    with psycopg.connect(quarter_county.url, autocommit=True) as conn:
        for schema in BUILT_SCHEMAS:
            conn.execute(f"drop schema {schema} cascade")
            conn.execute(f"create schema {schema}")
    # Midnight in Jiangyin is still the previous day in UTC: the county day is read in CST.
    night = dt.datetime.combine(QUARTER_LAST_DAY, dt.time(0, 30), COUNTY_TIMEZONE)
    with _fails_once(quarter_county.url, FAULTY_TABLE):
        assert run_dag("credit_transform", logical_date=night) == "success"

    assert _marts(quarter_county.url) == expected
    assert _as_of_dates(quarter_county.url) == {QUARTER_LAST_DAY}
    attempts = _node_results(quarter_county.url)
    assert sorted(attempts) == [1, 2], "one failed attempt, then its retry"
    first, retry = attempts[1], attempts[2]
    failed = {node for node, status in first.items() if status == "error"}
    skipped = {node for node, status in first.items() if status == "skipped"}
    assert len(failed) == 1, failed
    assert skipped, "the failed node's descendants waited for it"
    assert set(retry) == failed | skipped
    assert set(retry.values()) <= {*PASSED_STATUSES, "warn"}
    passed = {node for node, status in first.items() if status in PASSED_STATUSES}
    assert passed and not passed & set(retry), "the retry ran only what the failure left undone"


def _seeds_loaded(url: str, run_id: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            row[0]
            for row in conn.execute(
                "select unique_id from audit.dbt_node_results"
                " where run_id = %s and resource_type = 'seed'",
                (run_id,),
            )
        }


def test_a_night_loads_only_the_rule_seeds_whose_file_changed(quarter_county, tmp_path) -> None:
    """After a night that succeeded (the DAG run above), the next loads no unchanged rule seed;
    one whose file changed is loaded again, with its tests."""
    expected = _marts(quarter_county.url)
    assert build_marts(QUARTER_LAST_DAY, run_id="unchanged", attempt=1)["failed"] == []
    assert _seeds_loaded(quarter_county.url, "unchanged") == set()

    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    seed = project / "seeds" / "rules" / "measures.csv"
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("NDRC Order 36 (2025)", "NDRC Order 36 of 2025", 1), "utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credit.dbt, "DBT_PROJECT_DIR", project)
        patch.setattr(credit.transform, "DBT_PROJECT_DIR", project)
        build_marts(QUARTER_LAST_DAY, run_id="changed", attempt=1)
    assert _seeds_loaded(quarter_county.url, "changed") == {"seed.credit.measures"}

    # The project's own file is now the changed one's predecessor: loaded again, as it was.
    build_marts(QUARTER_LAST_DAY, run_id="restored", attempt=1)
    assert _seeds_loaded(quarter_county.url, "restored") == {"seed.credit.measures"}
    assert _marts(quarter_county.url) == expected


def test_a_night_counts_the_last_success_of_its_own_warehouse_only(
    warehouse_url, monkeypatch
) -> None:
    """A warehouse created anew (or another reached from the same data folder) loads every rule
    seed: it has none yet, whatever another warehouse's last night left."""
    from credit import warehouse

    fresh = warehouse.database_url("last_success_probe")
    warehouse.drop_database(fresh)
    warehouse.ensure_database(fresh)
    monkeypatch.setenv(warehouse.ENV_URL, fresh)
    saved = credit.transform.last_success_dir()
    try:
        assert credit.transform.nightly_build() == list(credit.transform.NIGHTLY_BUILD)
        saved.mkdir(parents=True)
        (saved / "manifest.json").write_text("{}", encoding="utf-8")
        assert "--state" in credit.transform.nightly_build()  # its own last success counts
        warehouse.drop_database(fresh)
        warehouse.ensure_database(fresh)  # the same name, created again
        assert credit.transform.last_success_dir() != saved
        assert credit.transform.nightly_build() == list(credit.transform.NIGHTLY_BUILD)
    finally:
        shutil.rmtree(saved, ignore_errors=True)
        warehouse.drop_database(fresh)


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
