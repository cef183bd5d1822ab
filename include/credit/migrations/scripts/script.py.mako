"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}.
"""

from credit.migrations import driver_connection

revision = "${up_revision}"
down_revision = "${down_revision}"


def upgrade() -> None:
    driver_connection().execute(
        """
        """
    )
