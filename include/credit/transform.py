"""The transform step: dbt rendered into Airflow tasks by Cosmos, from a parsed manifest.

DAG files must parse fast and never run dbt, so the manifest is written beforehand by
:func:`parse_manifest` (``credit airflow prepare`` does it) and Cosmos reads it
(``LoadMode.DBT_MANIFEST``). Tasks run dbt in-process (``InvocationMode.DBT_RUNNER``): a dbt
subprocess costs seconds before any SQL runs. Each task is still a whole dbt invocation that loads
every node of the project (partial parse, graph), so tasks skip dbt's JSON artifacts
(``--no-write-json``): writing manifest.json twice and graph.gpickle cost more than building a
staging view and its tests, and nothing reads them (the DAG renders the prepared manifest; Cosmos'
per-table lineage, which would, is off).

The marts describe one county day, dbt's ``as_of_date`` var: a first task resolves it
(:func:`run_as_of_date`) and every dbt task reads it from that task's XCom, passed as the
environment variable ``CREDIT_AS_OF_DATE`` that the var defaults to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from credit.dbt import profile_environment, run_dbt
from credit.paths import DBT_PROJECT_DIR
from credit.warehouse import warehouse_url

# The DAG's parameter for manual runs and the task that resolves the day (its XCom feeds dbt).
AS_OF_PARAM = "as_of_date"
AS_OF_TASK_ID = "as_of_date"
# How the day reaches dbt from the DAG (read by the model int_lifecycle_as_of).
AS_OF_ENV = "CREDIT_AS_OF_DATE"


def run_as_of_date(
    params: Mapping[str, Any],
    triggering_asset_events: Mapping[Any, Sequence[Any]],
    run_date: datetime,
) -> date:
    """The county day a transform run builds the marts as of (业务日期).

    A manual run's ``as_of_date`` parameter wins; a run triggered by ``credit_ingest`` takes the
    latest county day its raw asset events carry (``extra["county_day"]``); any other run takes
    its own date in China Standard Time.
    """
    # Imported here: credit.airflow_env imports this module, and credit.assets imports Airflow,
    # which must not load before credit.airflow_env has set its configuration.
    from credit.airflow_env import county_day
    from credit.assets import COUNTY_DAY_EXTRA

    if params.get(AS_OF_PARAM):
        return date.fromisoformat(str(params[AS_OF_PARAM]))
    days = [
        date.fromisoformat(str(event.extra[COUNTY_DAY_EXTRA]))
        for asset in triggering_asset_events
        for event in triggering_asset_events[asset]
        if COUNTY_DAY_EXTRA in event.extra
    ]
    return max(days) if days else county_day(run_date)


def manifest_path() -> Path:
    """Where ``dbt parse`` writes the manifest: dbt's target path (``DBT_TARGET_PATH`` when set,
    relative to the project like dbt reads it, else ``dbt/target``)."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return DBT_PROJECT_DIR / target / "manifest.json"


def parse_manifest() -> Path:
    """Write the manifest (``dbt parse``) that the transform DAG renders."""
    run_dbt(["parse"])
    return manifest_path()


def cosmos_task_group_args() -> dict[str, Any]:
    """Arguments of the Cosmos ``DbtTaskGroup``: project, profile, execution and rendering."""
    from cosmos import (
        ExecutionConfig,
        ExecutionMode,
        InvocationMode,
        LoadMode,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
        TestBehavior,
        TestIndirectSelection,
    )

    return {
        "project_config": ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=manifest_path(),
            project_name="credit",
            partial_parse=True,
        ),
        "profile_config": ProfileConfig(
            profile_name="credit",
            target_name="warehouse",
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # A test runs with the node whose build completes its parents, not with the first.
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # One task per node runs `dbt build` on it: the node and its tests together.
            test_behavior=TestBehavior.BUILD,
            # No per-table Airflow assets from Cosmos' lineage (it reads run_results.json, which
            # the tasks no longer write): `publish_marts` publishes the asset the exports wait on.
            emit_datasets=False,
        ),
        "operator_args": {
            "install_deps": False,
            # Each task is one `dbt build` of a ~900-node project: dbt would write manifest.json
            # twice, graph.gpickle and run_results.json every time (seconds per task) for
            # nothing to read them (see render_config's emit_datasets).
            "dbt_cmd_global_flags": ["--no-write-json"],
            "env": {
                # Where the warehouse is, resolved when the DAG is parsed (never starting a server).
                **profile_environment(warehouse_url(start=False)),
                # Templated per run: the day resolved by the first task of the DAG. Not a dbt var:
                # new vars make every task re-parse the whole project (~20 s), while dbt re-parses
                # only the one model that reads this variable.
                AS_OF_ENV: f"{{{{ ti.xcom_pull(task_ids='{AS_OF_TASK_ID}') }}}}",
            },
        },
    }
