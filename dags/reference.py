"""Airflow DAG ``credit_reference``: load and check the reference data."""

from airflow.sdk import dag, task

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import REFERENCE_ASSET


@dag(
    dag_id="credit_reference",
    schedule="@weekly",
    catchup=False,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "reference", "dbt"],
    doc_md="""
### Reference data (参考数据)

Loads the 34 responsible departments of Attachment 1 and Jiangyin's 21 town-level divisions
(dbt seeds under `dbt/seeds/reference`) into the warehouse's `reference` schema, builds
`marts.dim_department_domains`, runs their dbt tests, then checks the row counts against the
seed files. Publishes the `reference` asset. Safe to re-run: seeds are replaced whole.
""",
)
def credit_reference():
    @task
    def prepare_warehouse() -> None:
        from credit.roles import TRANSFORMER
        from credit.warehouse import ready_url

        ready_url(TRANSFORMER)

    @task
    def build_reference() -> None:
        from credit.dbt import run_dbt
        from credit.transform import REFERENCE_SELECTION

        # Tests of other models that point at the reference tables wait for those models.
        run_dbt(["build", "--select", *REFERENCE_SELECTION, "--indirect-selection", "cautious"])

    @task(outlets=[REFERENCE_ASSET], multiple_outputs=False)
    def check_reference() -> dict[str, int]:
        from credit.reference import check_loaded_reference
        from credit.roles import TRANSFORMER
        from credit.warehouse import role_url

        return check_loaded_reference(role_url(TRANSFORMER))

    prepare_warehouse() >> build_reference() >> check_reference()


credit_reference()
