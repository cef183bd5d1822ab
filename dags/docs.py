"""Airflow DAG ``credit_docs``: the warehouse's dbt docs, after each night's transform."""

from airflow.sdk import dag, task

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import MARTS_ASSET


@dag(
    dag_id="credit_docs",
    # After each night's transform has rebuilt the marts.
    schedule=[MARTS_ASSET],
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "docs", "dbt"],
    doc_md="""
### Warehouse documentation (数据仓库文档)

Runs when `credit_transform` publishes the `marts` asset: `dbt docs generate` writes the dbt
docs of the warehouse (every model, seed and column with its Chinese and English description,
the lineage graph, the tables' columns and sizes read from the warehouse) to
`<data dir>/docs/dbt/`. The UI shows them under Browse → *dbt docs 数据仓库文档*, beside the
Great Expectations *Data Docs 数据校验文档* of the latest night's validation.
""",
)
def credit_docs():
    @task
    def generate() -> str:
        from credit.dbt_docs import generate_dbt_docs

        return str(generate_dbt_docs())

    generate()


credit_docs()
