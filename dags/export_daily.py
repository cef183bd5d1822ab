"""Airflow DAG ``credit_export_daily``: the day's warnings to the credit office and departments,
and the day's publicity list to the credit office."""

from airflow.sdk import dag, task

from credit.airflow_env import DAG_DEFAULT_ARGS
from credit.assets import MARTS_ASSET


@dag(
    dag_id="credit_export_daily",
    # After each night's transform has rebuilt the marts.
    schedule=[MARTS_ASSET],
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "export", "warnings", "publicity"],
    doc_md="""
### Daily warnings export (信用预警日报)

Runs when `credit_transform` publishes the `marts` asset. Fails, writing nothing, when the
transform's last build attempt (`audit.transform_builds`) failed or did not finish: the marts
are then half rebuilt. Reads `marts.fct_warnings` as of the marts' day and writes, under
`<data dir>/outbox/daily_warnings/<day>/v<n>/` (the day's next version, beside the ones before),
one workbook (XLSX with the same tables as UTF-8 CSV) for the credit office (every new and
still-open warning, summaries by department and by rule), one per responsible department
(谁认定、谁负责) and one per town, street or zone (镇街/园区) for subjects registered there, plus
`manifest.json` (rows, sha256, lineage). The version is logged in `audit.exports`. `deliver`
e-mails each recipient its files of the latest version when `AIRFLOW_CONN_CREDIT_SMTP` is set
(logged in `audit.deliveries`); files already sent are not sent again. Re-running makes
byte-identical files, so no new version. See `docs/exports.md`.

Beside it, `export_publicity` reads `marts.fct_publicity_records` and writes the credit
office's publicity list (信用信息公示清单) for its portal under
`<data dir>/outbox/daily_publicity/<day>/v<n>/`: the day's changes to the permits, penalties and
dishonesty records the portal may publish (against the list it was last given,
`audit.publicity_listings`; the whole list too on Sundays), and those repaired, revoked or
corrected that must come off the portal by their deadline; `deliver_publicity` e-mails it the
same way.
""",
)
def credit_export_daily():
    @task(multiple_outputs=False)
    def export() -> dict:
        from credit.exports.daily import export_daily_warnings

        return export_daily_warnings().summary()

    @task(multiple_outputs=False)
    def deliver(exported: dict) -> dict:
        from credit.exports.delivery import deliver

        return deliver(exported["kind"], exported["period"])

    @task(multiple_outputs=False)
    def export_publicity() -> dict:
        from credit.exports.publicity import export_daily_publicity

        return export_daily_publicity().summary()

    deliver(export())
    deliver.override(task_id="deliver_publicity")(export_publicity())


credit_export_daily()
