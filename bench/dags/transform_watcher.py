"""Airflow DAG ``credit_transform_watcher``, for bench/bench_transform.py only: the nightly build
rendered by Cosmos in ``ExecutionMode.WATCHER`` (one ``dbt build`` producer task and one sensor
task per model reflecting its status), to time against the project's one-task ``credit_transform``.
The benchmark points Airflow's DAG folder here; the product never loads this file."""

import os
from pathlib import Path

from airflow.sdk import dag
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
    TestIndirectSelection,
)

from credit.dbt import profile_environment
from credit.paths import DBT_PROJECT_DIR
from credit.transform import AS_OF_ENV, REFERENCE_SELECTION
from credit.warehouse import warehouse_url


@dag(dag_id="credit_transform_watcher", schedule=None, catchup=False)
def credit_transform_watcher():
    DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=DBT_PROJECT_DIR
            / os.environ.get("DBT_TARGET_PATH", "target")
            / "manifest.json",
            project_name="credit",
        ),
        profile_config=ProfileConfig(
            profile_name="credit",
            target_name="warehouse",
            profiles_yml_filepath=Path(DBT_PROJECT_DIR) / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # As the night's own build: keep the tests that read the excluded reference data.
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, exclude=list(REFERENCE_SELECTION)
        ),
        operator_args={
            "install_deps": False,
            "env": {
                **profile_environment(warehouse_url(start=False)),
                AS_OF_ENV: os.environ[AS_OF_ENV],
            },
            # Sensors poll in the task itself under dag.test(): no triggerer runs there.
            "deferrable": False,
            "poke_interval": 1,
        },
    )


credit_transform_watcher()
