"""A past day rebuilt (回溯重建): the marts as the warehouse could have built them on that night.

Every model reads only what the warehouse had received by the night of its as-of date (a row
counts from the night its batch was landed, ``logical_date``) and the subjects' attributes
valid then, so a past day's marts are one ``dbt build`` as of that day. Rebuilding them in the
warehouse itself would replace tonight's marts and the incremental models' state, so
:func:`rebuild_as_of` builds them in a copy: a new database on the same server, made from the
warehouse as its template (PostgreSQL copies it file by file; no session may be connected to
the warehouse meanwhile), then a full refresh as of the day. What no rebuild recovers, the
registers of what the warehouse issued, are taken from the copy as they stood that night: the
entries made by later nights are removed first (:data:`LATER_ENTRIES`). The subjects' snapshot
(history as each night saw it, which no mart reads) is left as copied.
"""

from __future__ import annotations

import tempfile
from datetime import date

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from credit import warehouse
from credit.dbt import environment_set, run_dbt
from credit.transform import build_excluding

# The registers' entries a night after the day made: the warnings it raised first, the
# quarters' inspection plans it issued and the state that records them.
LATER_ENTRIES = (
    "delete from intermediate.int_warnings_raised where raised_date > %(day)s",
    "delete from marts.fct_inspection_plans where issued_date > %(day)s",
    "delete from intermediate.drawn_quarters where issued_date > %(day)s",
)


class WarehouseBusy(RuntimeError):
    """Sessions are connected to the warehouse, so PostgreSQL cannot copy it."""


def as_of_database_url(day: date) -> str:
    """The URL of the copy that holds the warehouse rebuilt as of ``day``:
    ``<warehouse>_as_of_<yyyymmdd>`` on the same server."""
    return warehouse.database_url(f"as_of_{day:%Y%m%d}")


def copy_database(source: str, copy: str) -> None:
    """Make the database ``copy`` names (replacing it) a copy of ``source``'s, on its server.
    Raises :class:`WarehouseBusy`, naming the sessions, when any is connected to ``source``."""
    warehouse.drop_database(copy)
    with psycopg.connect(warehouse.server_url(), autocommit=True) as conn:
        sessions = conn.execute(
            "select usename, coalesce(nullif(application_name, ''), 'no name'), state,"
            " left(query, 60) from pg_stat_activity"
            # An autovacuum worker is not a session: PostgreSQL stops it for the copy.
            " where datname = %s and backend_type = 'client backend'",
            (make_url(source).database,),
        ).fetchall()
        if sessions:
            names = "; ".join(
                f"{user} ({app}, {state}: {query})" for user, app, state, query in sessions
            )
            raise WarehouseBusy(f"sessions are connected to the warehouse: {names}")
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(make_url(copy).database),
                sql.Identifier(make_url(source).database),
            )
        )


def rebuild_as_of(day: date) -> str:
    """Copy the warehouse and rebuild every model of the copy as of ``day``; return its URL.

    An earlier copy for the same day is replaced. Raises :class:`WarehouseBusy` (naming the
    sessions) when the warehouse cannot be copied, and :class:`credit.dbt.DbtError` when the
    build fails (the copy stays, to look into)."""
    copy = as_of_database_url(day)
    copy_database(warehouse.ensure_warehouse(), copy)
    with psycopg.connect(copy) as conn:
        for statement in LATER_ENTRIES:
            conn.execute(statement, {"day": day})
    # The copy's own dbt target folder: the nightly build's manifest and state stay as they are.
    with (
        tempfile.TemporaryDirectory(prefix="credit-as-of-") as target,
        environment_set({warehouse.ENV_URL: copy, "DBT_TARGET_PATH": target}),
    ):
        run_dbt(
            [*build_excluding("resource_type:snapshot"), "--full-refresh"],
            env={"CREDIT_AS_OF_DATE": day.isoformat()},
        )
    return copy
