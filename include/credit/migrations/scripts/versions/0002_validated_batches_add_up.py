"""A validated batch adds up: the database refuses one whose rows do not.

Revision 0002, after 0001.

Nothing is lost (promise 2): every row a batch read is accepted or quarantined.  Validation
counts both and reconciles them before it marks a batch validated, and the night's
reconciliation checks it again; this constraint makes the warehouse itself refuse a validated
batch without both counts or whose counts do not add up to the rows read, whatever wrote it.
Adding it checks the batches already there: every release marked a batch validated only once it
added up.
"""

from credit.migrations import driver_connection

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    driver_connection().execute(
        """
        alter table audit.batches add constraint batches_validated_add_up check (
            status <> 'validated'
            or (
                rows_accepted >= 0
                and rows_quarantined >= 0
                and rows_accepted + rows_quarantined = rows_read
            ) is true
        )
        """
    )
