"""Airflow DAG ``credit_transform``: the dbt warehouse, rendered by Cosmos."""

from airflow.sdk import dag, task
from cosmos import DbtTaskGroup

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import MARTS_ASSET, RAW_ASSETS
from credit.transform import cosmos_task_group_args


@dag(
    dag_id="credit_transform",
    # Runs once every raw table of a night is published by credit_ingest.
    schedule=RAW_ASSETS,
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "transform", "dbt", "cosmos"],
    doc_md="""
### Transform (数据加工)

Builds the dbt project (`dbt/`) into the warehouse: seeds (reference data and rules), staging
views over the accepted raw rows, intermediate models and the marts analysts query. Cosmos
renders one task per dbt node from `dbt/target/manifest.json` (written by
`credit airflow prepare`, so parsing this file never runs dbt); each task runs `dbt build` on
its node in-process, tests included, so a failing test stops what depends on it. Scheduled on
the `raw.*` assets of `credit_ingest`; publishes the `marts` asset for the exports.
""",
)
def credit_transform():
    dbt = DbtTaskGroup(group_id="dbt", **cosmos_task_group_args())

    @task(outlets=[MARTS_ASSET])
    def publish_marts() -> None:
        """Marks the marts as updated for the export DAGs."""

    dbt >> publish_marts()


credit_transform()
