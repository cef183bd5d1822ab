"""A rejected pull is an incident: ``audit.incidents`` takes the kind ``pull_rejected``.

Revision 0004, after 0003.

A system that answers something that is not rows (a page that is not JSON, a table without its
key or change-timestamp column) has that kind's pull rejected and the source's other kinds land
(:func:`credit.ingest._ingest_kind`): the task succeeds, so no ``task_failed`` incident tells the
operator that the kind's rows stopped coming.  The check constraint of the incidents' kinds is
replaced by one that also allows ``pull_rejected``; the table's rows are only checked, not
rewritten.
"""

from credit.migrations import driver_connection

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    conn = driver_connection()
    (name,) = conn.execute(
        "select conname from pg_constraint"
        " where conrelid = 'audit.incidents'::regclass and contype = 'c'"
        " and pg_get_constraintdef(oid) like '%source_volume%'"
    ).fetchone()
    conn.execute(f'alter table audit.incidents drop constraint "{name}"')
    conn.execute(
        "alter table audit.incidents add constraint incidents_kind_check check (kind in"
        " ('task_failed', 'reconciliation_failed', 'source_volume', 'pull_rejected'))"
    )
