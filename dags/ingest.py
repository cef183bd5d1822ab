"""Airflow DAG ``credit_ingest``: the nightly pull of every department's system."""

from datetime import datetime

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from credit.airflow_env import COUNTY_TIMEZONE, DAG_DEFAULT_ARGS, county_day
from credit.assets import COUNTY_DAY_EXTRA, RAW_ASSETS


@dag(
    dag_id="credit_ingest",
    # Each run covers one county day (the data interval) and starts when that day is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=COUNTY_TIMEZONE),
    start_date=datetime(2026, 1, 1, tzinfo=COUNTY_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DAG_DEFAULT_ARGS,
    tags=["credit", "ingest", "great-expectations"],
    doc_md="""
### Nightly ingestion (数据归集)

For one logical date (a county day), pulls every department's system registered in
`include/credit/config/sources.yaml`, one mapped task per department so that one unreachable
system fails only its own task (whatever it landed before failing is kept and validated):

* **exchange database** (前置库) and **HTTP API**: rows whose change timestamp (`updated_at`,
  or the system's own name for it in the source's protocol) lies after the source's watermark
  (`audit.watermarks`, less the late-row look-back) and before the end of the day;
* **drop folder**: files up to the day not delivered before (name + sha256 in
  `audit.delivered_files`; a file whose name, size and modification time are known is not read
  again); unreadable files go to `quarantine.rejected_files`.

Each pull lands as one batch in `raw.<kind>` (COPY, one transaction with its `audit.batches` row
and watermark). `validate` then runs Great Expectations over the night's batches, one run per
record kind for all the departments that sent it: failing rows go to
`quarantine.rejected_rows` with every failed expectation as a reason. `reconcile` checks
rows read = accepted + quarantined for every batch of the night and publishes the `raw.*`
assets, each event carrying the county day (`extra.county_day`) for the transform;
`record_logins` adds the people's logins the server logged since to `audit.access_log`;
`all_sources_delivered` turns the run red when any source failed, after the others' data is
published. Re-running a date adds nothing; a failed source catches up the next night.
""",
)
def credit_ingest():
    @task
    def prepare() -> list[str]:
        from credit.roles import LOADER
        from credit.sources import sources
        from credit.warehouse import ready_url

        ready_url(LOADER)  # at head: the raw, audit and quarantine tables as this release has them
        return list(sources())

    # A task returning a dict pushes it as one XCom (multiple_outputs=False, in every DAG): Airflow
    # infers otherwise from `-> dict` and pushes each key too, an API call each, which cost a
    # third of a quiet night.
    @task(map_index_template="{{ dept_code }}", multiple_outputs=False)
    def ingest(dept_code: str, logical_date=None) -> dict:
        from dataclasses import asdict

        from credit.ingest import ingest_source

        night = ingest_source(dept_code, county_day(logical_date))
        return {k: v for k, v in asdict(night).items() if k != "logical_date"}

    @task(trigger_rule="all_done", multiple_outputs=False)
    def validate() -> dict:
        """Every landed batch, also those of sources whose task failed after landing some."""
        from credit.ingest import validate_pending

        return validate_pending()

    @task(trigger_rule="all_done", outlets=RAW_ASSETS, multiple_outputs=False)
    def reconcile(logical_date=None, outlet_events=None) -> dict:
        from credit.ingest import reconcile_night

        day = county_day(logical_date)
        totals = reconcile_night(day)
        if totals["batches"]:  # a night with nothing new changes no page of the Data Docs
            from credit.validation import build_data_docs

            build_data_docs()
        for asset in RAW_ASSETS:
            outlet_events[asset].extra = {COUNTY_DAY_EXTRA: day.isoformat()}
        return totals

    @task(trigger_rule="all_done")
    def record_logins() -> int:
        """People's logins since the last night, from the server's log to the access log."""
        from credit.logins import collect_logins
        from credit.roles import LOADER
        from credit.warehouse import role_url

        return collect_logins(role_url(LOADER))

    @task
    def all_sources_delivered() -> None:
        """Reached only when every source task succeeded."""

    ingested = ingest.expand(dept_code=prepare())
    ingested >> validate() >> reconcile() >> record_logins()
    ingested >> all_sources_delivered()


credit_ingest()
