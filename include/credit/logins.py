"""People's logins (登录) in the access log, from the warehouse server's own log.

PostgreSQL 15 has no hook that runs when a session starts, so the server logs every connection
(``log_connections``) and :func:`collect_logins`, a task of every night's ``credit_ingest``,
reads the log from where it stopped and adds each person's login to this warehouse to
``audit.access_log`` (action ``login``: when, the login, its roles, the server process). A person
is a login in one of the roles people join (:func:`credit.roles.group_roles`); the platform's own
roles connect hundreds of times a night and are Airflow's to log.

The embedded PostgreSQL logs connections (the warehouse's set-up turns ``log_connections`` on)
to ``.data/pg/pg.log``; for another server set ``log_connections = on`` there and point
``CREDIT_SERVER_LOG`` at its log file, readable where the nightly tasks run. Without a readable
log the task records nothing and says so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from credit import roles, warehouse

log = logging.getLogger(__name__)

# "2026-12-06 19:40:01.123 UTC [12345] LOG:  connection authorized: user=li_lei database=credit"
# (log_line_prefix '%m [%p] ', PostgreSQL's default; more after the pid is allowed).
CONNECTION = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: \S+)?) \[(?P<pid>\d+)\]"
    r".*?LOG:\s+connection authorized: user=(?P<login>\S+) database=(?P<database>\S+)"
)


@dataclass(frozen=True)
class Login:
    at: str  # the server's timestamp text, zone included
    pid: int
    login: str
    database: str


def parse(text: str) -> list[Login]:
    """The connections a stretch of the server's log authorised."""
    return [
        Login(m["at"], int(m["pid"]), m["login"], m["database"])
        for line in text.splitlines()
        if (m := CONNECTION.match(line))
    ]


def collect_logins(url: str, path: Path | None = None) -> int:
    """Add the people's logins to this warehouse that the server logged since the last call;
    returns how many. ``url`` connects as the loader (the owner of ``audit``)."""
    path = path or warehouse.server_log()
    if path is None or not path.is_file():
        log.warning(
            "no server log to read logins from (%s): set %s",
            path or "none",
            warehouse.SERVER_LOG_ENV,
        )
        return 0
    status = path.stat()
    identity = f"{status.st_dev}:{status.st_ino}"
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('credit.logins'))")
        row = conn.execute(
            "select file_identity, read_bytes from audit.server_log_reads where log_file = %s",
            (str(path),),
        ).fetchone()
        # A log rotated or truncated since is read from its start.
        start = row[1] if row and row[0] == identity and row[1] <= status.st_size else 0
        with path.open("rb") as stream:
            stream.seek(start)
            chunk = stream.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written waits for the next call
        logins = [
            login
            for login in parse(complete.decode("utf-8", errors="replace"))
            if login.database == conn.info.dbname
        ]
        people = _people(conn, {login.login for login in logins})
        rows = [
            (
                login.at,
                login.login,
                login.database,
                Jsonb({"pid": login.pid, "roles": people[login.login]}),
            )
            for login in logins
            if login.login in people
        ]
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into audit.access_log (accessed_at, login, action, target, detail)"
                " values (%s::timestamptz, %s, 'login', %s, %s)",
                rows,
            )
        conn.execute(
            """
            insert into audit.server_log_reads (log_file, file_identity, read_bytes)
            values (%s, %s, %s)
            on conflict (log_file) do update set file_identity = excluded.file_identity,
                read_bytes = excluded.read_bytes, read_at = now()
            """,
            (str(path), identity, start + len(complete)),
        )
    return len(rows)


def _people(conn: psycopg.Connection, logins: set[str]) -> dict[str, list[str]]:
    """Of these logins, the people: each with the roles people join that it is a member of."""
    if not logins:
        return {}
    found: dict[str, list[str]] = {}
    for login, role in conn.execute(
        """
        select member.rolname, granted.rolname
        from pg_roles as member
        cross join pg_roles as granted
        where member.rolname = any(%s) and member.rolname <> all(%s)
            and granted.rolname = any(%s)
            and pg_has_role(member.oid, granted.oid, 'member')
        order by 1, 2
        """,
        (sorted(logins), list(roles.all_roles()), list(roles.group_roles())),
    ):
        found.setdefault(login, []).append(role)
    return found
