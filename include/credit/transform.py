"""The transform step: dbt rendered into Airflow tasks by Cosmos, from a parsed manifest.

DAG files must parse fast and never run dbt, so the manifest is written beforehand by
:func:`parse_manifest` (``credit airflow prepare`` does it) and Cosmos reads it
(``LoadMode.DBT_MANIFEST``). Tasks run dbt in-process (``InvocationMode.DBT_RUNNER``): a dbt
subprocess costs seconds before any SQL runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from credit.dbt import profile_environment, run_dbt
from credit.paths import DBT_PROJECT_DIR
from credit.warehouse import warehouse_url

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def parse_manifest() -> Path:
    """Write ``dbt/target/manifest.json`` (``dbt parse``), which the transform DAG renders."""
    run_dbt(["parse"])
    return MANIFEST


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
            manifest_path=MANIFEST,
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
        ),
        "operator_args": {
            "install_deps": False,
            # Where the warehouse is, resolved when the DAG is parsed (never starting a server).
            "env": profile_environment(warehouse_url(start=False)),
        },
    }
