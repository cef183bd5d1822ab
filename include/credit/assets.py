"""The Airflow Assets the DAGs hand to each other (ingest → transform → export)."""

from __future__ import annotations

from airflow.sdk import Asset

from credit.catalogue import record_kinds

# One asset per raw table: the transform DAG is scheduled on them. Each event's extra names the
# county day (ISO date) the night covered, so the transform builds the marts as of that day.
COUNTY_DAY_EXTRA = "county_day"
RAW_ASSETS = [
    Asset(name=f"raw.{kind}", uri=f"credit://warehouse/raw/{kind}") for kind in record_kinds()
]
REFERENCE_ASSET = Asset(name="reference", uri="credit://warehouse/reference")
# The marts, rebuilt by credit_transform: what the exports read.
MARTS_ASSET = Asset(name="marts", uri="credit://warehouse/marts")
