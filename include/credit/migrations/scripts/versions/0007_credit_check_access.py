"""Credit checks in the access log: action ``credit_check``.

Revision 0007, after 0006.

``marts.credit_check`` (信用核查) logs each call in ``audit.access_log``: who checked a list of
subjects, for which purpose (``target``), as of which day and which codes (``detail``).
"""

from credit.migrations import driver_connection

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    driver_connection().execute(
        """
        alter table audit.access_log
            drop constraint access_log_action_check,
            add constraint access_log_action_check check (action in (
                'login', 'dossier_lookup', 'export', 'delivery', 'login_created', 'credit_check'
            ))
        """
    )
