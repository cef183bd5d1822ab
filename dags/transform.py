"""Airflow DAG ``credit_transform``: the dbt warehouse, rendered by Cosmos."""

from airflow.sdk import Param, dag, task
from cosmos import DbtTaskGroup

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import MARTS_ASSET, RAW_ASSETS
from credit.transform import AS_OF_PARAM, AS_OF_TASK_ID, cosmos_task_group_args


@dag(
    dag_id="credit_transform",
    # Runs once every raw table of a night is published by credit_ingest.
    schedule=RAW_ASSETS,
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    params={
        AS_OF_PARAM: Param(
            None,
            type=["null", "string"],
            format="date",
            description="Build the marts as of this county day; empty: the run's own day.",
        )
    },
    tags=["credit", "transform", "dbt", "cosmos"],
    doc_md="""
### Transform (数据加工)

Builds the dbt project (`dbt/`) into the warehouse: seeds (reference data and rules), staging
views over the accepted raw rows, intermediate models and the marts analysts query, **as of one
county day**: the `as_of_date` param of a manual run, else the county day that `credit_ingest`'s
raw asset events carry, else the run's date in China Standard Time, passed to every dbt task as
`CREDIT_AS_OF_DATE` (the default of dbt's `as_of_date` var).
Cosmos renders one task per dbt node from `dbt/target/manifest.json` (written by
`credit airflow prepare`, so parsing this file never runs dbt); each task runs `dbt build` on
its node in-process, tests included, so a failing test stops what depends on it (without writing
dbt's JSON artifacts, which cost more than most nodes). Scheduled on the `raw.*` assets of
`credit_ingest`; publishes the `marts` asset for the exports (Cosmos emits no per-table assets).
""",
)
def credit_transform():
    @task(task_id=AS_OF_TASK_ID)
    def as_of_date(params=None, triggering_asset_events=None, logical_date=None, dag_run=None):
        """The county day the marts describe, read by every dbt task."""
        from credit.transform import run_as_of_date

        run_date = logical_date or dag_run.run_after
        return run_as_of_date(params, triggering_asset_events or {}, run_date).isoformat()

    dbt = DbtTaskGroup(group_id="dbt", **cosmos_task_group_args())

    @task(outlets=[MARTS_ASSET])
    def publish_marts() -> None:
        """Marks the marts as updated for the export DAGs."""

    as_of_date() >> dbt >> publish_marts()


credit_transform()
