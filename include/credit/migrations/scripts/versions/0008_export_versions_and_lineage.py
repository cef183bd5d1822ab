"""Versioned exports and the lineage of the transform's builds.

Revision 0008, after 0007.

An export of a period is a new version beside the ones before (``outbox/<kind>/<period>/v<n>/``),
never written over what was delivered: ``audit.exports.version`` is its number (null for the
exports of earlier releases, which rewrote the period's folder) and ``lineage`` what its
manifest says the files were made from (:mod:`credit.lineage`).  Each build attempt of the
transform records, before dbt starts, the last batch validated by then
(``batch_high_water_mark``), the code's commit and how it was found, the sha256 of every rule
seed file, and, when dbt ends, its invocation id.
"""

from credit.migrations import driver_connection

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    driver_connection().execute(
        """
        alter table audit.transform_builds
            add column batch_high_water_mark bigint,
            add column code_commit text,
            add column code_commit_source text,
            add column rule_seeds jsonb,
            add column invocation_id text;
        alter table audit.exports
            add column version integer check (version > 0),
            add column lineage jsonb;
        create unique index exports_version_idx on audit.exports (kind, period, version)
            where version is not null
        """
    )
