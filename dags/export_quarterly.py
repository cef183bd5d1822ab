"""Airflow DAG ``credit_export_quarterly``: a closed quarter's statistics and progress forms."""

from datetime import datetime

from airflow.sdk import dag, task

from credit.airflow_env import COUNTY_TIMEZONE, DAG_DEFAULT_ARGS
from credit.exports.schedule import QuarterlyWorkingDayTimetable
from credit.exports.settings import export_settings

QUARTERLY = export_settings()["quarterly_statistics"]


@dag(
    dag_id="credit_export_quarterly",
    # One run per quarter, on the Nth Chinese working day after it ends (config/exports.yaml).
    schedule=QuarterlyWorkingDayTimetable(
        QUARTERLY["working_days_after_quarter_end"], QUARTERLY["run_hour"]
    ),
    start_date=datetime(2026, 1, 1, tzinfo=COUNTY_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "export", "statistics"],
    doc_md="""
### Quarterly statistics export (信用监管季度统计)

Each run covers one quarter (its data interval) and starts on the Nth working day after the
quarter ends (`quarterly_statistics` in `include/credit/config/exports.yaml`; Chinese working
days with the State Council's holiday arrangements). Writes, under
`<data dir>/outbox/quarterly_statistics/<quarter>/v<n>/` (the quarter's next version, beside the
ones before, none when nothing changed), the credit office's workbook (collection
per department, dishonesty stock / inflow / exit / distribution with charts, grades and
inspection plans, rectification and interviews, repair, objections, all progress rows, the
department scorecard), the quarter's summary report (季度总结报告, a Word document) and each
reporting department's Attachment 2 progress form, as XLSX + UTF-8 CSV with a `manifest.json`
(with lineage); logs the version in `audit.exports`, then e-mails the latest version to the
recipients when `AIRFLOW_CONN_CREDIT_SMTP` is set (`audit.deliveries`). See `docs/exports.md`.
""",
)
def credit_export_quarterly():
    @task(multiple_outputs=False)
    def export(data_interval_start=None) -> dict:
        from credit.airflow_env import county_day
        from credit.exports.periods import quarter_of
        from credit.exports.quarterly import export_quarterly_statistics

        return export_quarterly_statistics(quarter_of(county_day(data_interval_start))).summary()

    @task(multiple_outputs=False)
    def deliver(exported: dict) -> dict:
        from credit.exports.delivery import deliver

        return deliver(exported["kind"], exported["period"])

    deliver(export())


credit_export_quarterly()
