"""Airflow DAG ``credit_transform``: the dbt warehouse, one ``dbt build`` a night."""

from airflow.sdk import Param, dag, task

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import MARTS_ASSET, RAW_ASSETS
from credit.transform import AS_OF_PARAM, FULL_REFRESH_PARAM


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
        ),
        FULL_REFRESH_PARAM: Param(
            False,
            type="boolean",
            description="Rebuild every incremental model from raw (dbt --full-refresh).",
        ),
    },
    tags=["credit", "transform", "dbt"],
    doc_md="""
### Transform (数据加工)

Builds the dbt project (`dbt/`) into the warehouse in **one `dbt build`**: the rule seeds, the
staging views over the accepted raw rows, the intermediate models and the marts analysts query,
with their tests, **as of one county day**: the `as_of_date` param of a manual run, else the
county day that `credit_ingest`'s raw asset events carry, else the run's date in China Standard
Time (passed to dbt as `CREDIT_AS_OF_DATE`). The reference seeds belong to `credit_reference`.
With the `full_refresh` param, and on the first run after the resident-ID hash key was rotated
(`credit warehouse rotate-hash-key`), every incremental model is rebuilt from `raw`
(`--full-refresh`); the warnings' register, the issued inspection plans and the subjects'
snapshot are kept.

Every node's status (run, pass, fail, skip, with its time and message) is in the `build` task's
log, its XCom, and the table `audit.dbt_node_results`; each attempt's (running, succeeded,
failed) in `audit.transform_builds`, which the exports check. When a node fails, the task
fails; its retry (or clearing it) runs `dbt retry`: only the failed nodes and those they skipped
run again.
Scheduled on the `raw.*` assets of `credit_ingest`; publishes the `marts` asset for the exports.
""",
)
def credit_transform():
    @task(outlets=[MARTS_ASSET], multiple_outputs=False)
    def build(
        params=None, triggering_asset_events=None, logical_date=None, dag_run=None, ti=None
    ) -> dict:
        """One dbt build of the warehouse as of the run's county day (dbt retry of what failed,
        on a later attempt)."""
        from credit.transform import build_marts, run_as_of_date

        run_date = logical_date or dag_run.run_after
        as_of = run_as_of_date(params, triggering_asset_events or {}, run_date)
        return build_marts(
            as_of,
            run_id=dag_run.run_id,
            attempt=ti.try_number,
            full_refresh=bool(params.get(FULL_REFRESH_PARAM)),
        )

    build()


credit_transform()
