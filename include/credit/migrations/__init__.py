"""The warehouse's own schemas (``raw``, ``audit``, ``quarantine``) under versioned migrations.

Each change to their tables, indexes, constraints or functions is a revision of
``scripts/versions/`` (Alembic), numbered ``0001``, ``0002``, ...: revision ``0001`` is the
schema the release before migrations built (commit 05a261c), each later one a change since.
``scripts`` is Alembic's folder, not a package: loading every module of the platform must not
run its ``env.py``.  The revision a warehouse is at is kept in ``audit.alembic_version``.
:func:`upgrade` runs the revisions a warehouse lacks, then brings the ``raw`` tables to the
catalogue (:func:`credit.landing.follow_catalogue`), in one transaction: a failure leaves the
warehouse as it was.

A warehouse an earlier release built has no version table: it is upgraded from the start, and
revision ``0001`` is written to find it as that release left it (every statement creates only
what is missing, and does what that release's set-up did at each night), so it creates the
tables that release made only when first used (``audit.exports`` at the first export, ...) and
changes nothing else.  Revisions go forward only: a mistake is corrected by a later revision.

``credit.warehouse.ensure_warehouse`` brings the warehouse to head before every task and
command; when nothing is to do, :func:`is_at_head` costs three small queries, without
importing Alembic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import psycopg
from psycopg import sql

from credit import landing

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPTS_DIR = Path(__file__).parent / "scripts"
VERSIONS_DIR = SCRIPTS_DIR / "versions"
# The schemas the revisions own; dbt owns the others.
MIGRATED_SCHEMAS = ("raw", "audit", "quarantine")
VERSION_SCHEMA = "audit"
VERSION_TABLE = "alembic_version"
# A revision's file: its four-digit number, then what it does (``0002_batches_add_up.py``).
REVISION_FILE = re.compile(r"(\d{4})_\w+\.py")
# Concurrent tasks (a night's mapped ingest tasks, a dbt run) upgrade one at a time.
LOCK_NAME = "credit.migrations"


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did: the revision before (``None``: no version table) and after,
    and the ``raw`` tables the catalogue created or extended."""

    from_revision: str | None
    to_revision: str
    raw_changes: tuple[str, ...]
    earlier_release: bool  # the warehouse had tables but no version table

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision or bool(self.raw_changes)


def head_revision() -> str:
    """The newest revision, from the files' names: no Alembic import, for :func:`is_at_head`
    (``tests/test_migrations.py`` holds it to Alembic's own head)."""
    numbers = [m.group(1) for p in VERSIONS_DIR.iterdir() if (m := REVISION_FILE.fullmatch(p.name))]
    return max(numbers)


def current_revision(conn: psycopg.Connection) -> str | None:
    """The revision the warehouse is at; ``None`` when it has no version table."""
    name = f"{VERSION_SCHEMA}.{VERSION_TABLE}"
    if conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is None:
        return None
    table = sql.Identifier(VERSION_SCHEMA, VERSION_TABLE)
    row = conn.execute(sql.SQL("select version_num from {}").format(table)).fetchone()
    return row[0] if row else None


def is_at_head(conn: psycopg.Connection) -> bool:
    """Whether the warehouse is at the newest revision and its raw tables follow the catalogue."""
    return current_revision(conn) == head_revision() and not landing.raw_tables_behind(conn)


def upgrade(url: str) -> Upgrade:
    """Bring the warehouse at ``url`` to head: the revisions it lacks, then the catalogue's
    raw tables and columns, in one transaction; a no-op at head."""
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("select pg_advisory_xact_lock(hashtext(:name))"), {"name": LOCK_NAME}
            )
            driver = cast(psycopg.Connection, connection.connection.driver_connection)
            before = current_revision(driver)
            earlier = before is None and _has_audit_tables(driver)
            # Alembic's version table is created first, in its schema.
            connection.execute(text(f"create schema if not exists {VERSION_SCHEMA}"))
            command.upgrade(alembic_config(connection), "head")
            raw_changes = landing.follow_catalogue(driver)
    finally:
        engine.dispose()
    return Upgrade(before, head_revision(), tuple(raw_changes), earlier)


def history() -> list[tuple[str, str]]:
    """Every revision, oldest first: (number, what it does)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return [
        (revision.revision, (revision.doc or "").strip())
        for revision in reversed(list(script.walk_revisions()))
    ]


def new_revision(message: str) -> Path:
    """Write the file of the next revision, numbered after the head, from ``script.py.mako``."""
    from alembic import command

    number = f"{int(head_revision()) + 1:04d}"
    script = command.revision(alembic_config(), message=message, rev_id=number)
    return Path(script.path)  # type: ignore[union-attr]


def alembic_config(connection: object | None = None) -> Config:
    """Alembic's configuration, without an ini file: the scripts here, named
    ``<number>_<slug>.py``; ``connection`` is the one ``env.py`` migrates on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def driver_connection() -> psycopg.Connection:
    """The psycopg connection of the running migration, for revisions to run SQL on as it is
    written (SQLAlchemy's ``text`` would read ``:name`` as a parameter)."""
    from alembic import op

    return cast(psycopg.Connection, op.get_bind().connection.driver_connection)


def _has_audit_tables(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('audit.batches') is not null").fetchone()[0]


def _sqlalchemy_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
