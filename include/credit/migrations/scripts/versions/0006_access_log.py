"""The access log: ``audit.access_log``.

Revision 0006, after 0005.

Who read or handed out what, and when (访问日志): a person's login to the warehouse (from the
server's log, :mod:`credit.logins`), a dossier looked up through ``marts.lookup_dossier``, an
export written, a delivery sent, a person's login created. ``login``
is the PostgreSQL role of the session that did it (its ``session_user``: a person's login, or
a service role), ``action`` what it did and ``target`` what it did it to (a subject's USCC or
key, an export's kind and period, a recipient); ``detail`` carries the rest. The credit office
reads it (``credit_office``); only the roles that write it (:data:`credit.roles.AUDIT_WRITES`)
and the functions that log look-ups may add to it, and nobody changes or deletes a row.

``audit.server_log_reads`` keeps how far the server's log has been read for logins: the file
(its path and device:inode, so a rotated log is read from its start) and the bytes read.
"""

from credit.migrations import driver_connection

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    driver_connection().execute(
        """
        create table audit.access_log (
            access_id bigint generated always as identity primary key,
            accessed_at timestamptz not null default now(),
            login text not null default session_user,
            action text not null
                check (action in (
                    'login', 'dossier_lookup', 'export', 'delivery', 'login_created'
                )),
            target text not null,
            detail jsonb not null default '{}'
        );
        create index access_log_accessed_at on audit.access_log (accessed_at);
        create index access_log_target on audit.access_log (target);
        create table audit.server_log_reads (
            log_file text primary key,
            file_identity text not null,
            read_bytes bigint not null,
            read_at timestamptz not null default now()
        )
        """
    )
