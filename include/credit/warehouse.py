"""Where the warehouse is: the one place that resolves database URLs.

``CREDIT_WAREHOUSE_URL`` names the warehouse database on any PostgreSQL server.  When it is
unset, an embedded PostgreSQL (the binaries shipped in the ``pgserver`` wheel) is initialised
under ``.data/pg`` and started on a localhost TCP port; it keeps running for later commands and
``credit warehouse stop`` stops it.  Every other database the project uses (Airflow's metadata,
the simulated exchange database) lives on the same server, named after the warehouse database,
so DAGs, dbt profiles, Great Expectations and the tests all take their URLs from here.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from credit import hash_key, migrations, roles
from credit.net import accepts_connections, free_port, port_is_free
from credit.paths import data_dir

log = logging.getLogger(__name__)

ENV_URL = "CREDIT_WAREHOUSE_URL"
# The server's log file, for the logins of the access log (credit.logins).
SERVER_LOG_ENV = "CREDIT_SERVER_LOG"
DEFAULT_DATABASE = "credit"
EMBEDDED_USER = "postgres"
EMBEDDED_DEFAULT_PORT = 54329
# PostgreSQL refuses to run as root; pgserver's helpers create this system user for it.
EMBEDDED_SYSTEM_USER = "pgserver"

WAREHOUSE_SCHEMAS = (
    "raw",
    "quarantine",
    "audit",
    "staging",
    "intermediate",
    "marts",
    "exports",
)


@dataclass(frozen=True)
class EmbeddedServer:
    """An embedded PostgreSQL cluster under ``.data/pg``."""

    pgdata: Path

    @property
    def port_file(self) -> Path:
        return self.pgdata.parent / "pg.port"

    @property
    def log_file(self) -> Path:
        return self.pgdata.parent / "pg.log"

    def port(self) -> int:
        if self.port_file.exists():
            return int(self.port_file.read_text().strip())
        port = free_port(EMBEDDED_DEFAULT_PORT)
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.write_text(f"{port}\n")
        return port

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return f"postgresql://{EMBEDDED_USER}@127.0.0.1:{self.port()}/{database}"

    def is_running(self) -> bool:
        return accepts_connections("127.0.0.1", self.port())

    def start(self) -> None:
        """Initialise the cluster if needed and start it; a no-op when it already runs."""
        if self.is_running():
            return
        from pgserver import _commands  # the wheel's initdb / pg_ctl wrappers

        run_as = self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            _commands.initdb(
                ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", EMBEDDED_USER],
                pgdata=self.pgdata,
                user=run_as,
            )
        port = self.port()
        if not port_is_free(port):
            raise RuntimeError(
                f"port {port} (from {self.port_file}) is taken by another program; "
                f"delete that file to let the embedded PostgreSQL choose a free port"
            )
        if run_as:
            self.log_file.touch()
            _chown(self.log_file, run_as)
        options = f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200 -c fsync=off"
        _commands.pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(self.log_file), "start"],
            pgdata=self.pgdata,
            user=run_as,
            timeout=90,
        )
        _wait_for("127.0.0.1", port, timeout=30)

    def stop(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        from pgserver import _commands

        run_as = EMBEDDED_SYSTEM_USER if os.geteuid() == 0 else None
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=run_as, timeout=60)

    def _prepare_permissions(self) -> str | None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        import stat

        from pgserver import _commands
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(EMBEDDED_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        bin_path = _commands.POSTGRES_BIN_PATH
        ensure_prefix_permissions(bin_path)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path.parent / "lib", readable)
        if (bin_path.parent / "share").exists():
            ensure_folder_permissions(bin_path.parent / "share", readable)
        _chown(self.pgdata, EMBEDDED_SYSTEM_USER)
        return EMBEDDED_SYSTEM_USER


def embedded_server() -> EmbeddedServer:
    return EmbeddedServer(data_dir() / "pg" / "data")


def warehouse_url(*, start: bool = True) -> str:
    """The warehouse database's URL, starting the embedded server when none is configured."""
    configured = os.environ.get(ENV_URL)
    if configured:
        return _normalise(configured)
    server = embedded_server()
    if start:
        server.start()
    return server.url(DEFAULT_DATABASE)


def role_url(role: str, *, start: bool = True) -> str:
    """The warehouse's URL for connecting as one of its roles (:mod:`credit.roles`): the same
    server and database, the role as the user, a service role's password from its variable
    (``CREDIT_LOADER_PASSWORD``, ...) when set, else none: libpq's password file, or a server
    that trusts the host."""
    url = make_url(warehouse_url(start=start))
    return _render(url.set(username=roles.checked_name(role), password=roles.password(role)))


def ready_url(role: str) -> str:
    """:func:`role_url`, once the warehouse is at this release: the nightly tasks' way in.

    The check connects as the role and costs a few catalogue queries; only a warehouse that is
    behind (a new release, a new database) is brought to head, with the configured URL's rights
    (:func:`ensure_warehouse`)."""
    url = role_url(role)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if migrations.is_at_head(conn) and roles.is_installed(conn):
                return url
    except psycopg.OperationalError:
        pass  # no such database or role yet
    ensure_warehouse()
    return url


def database_url(suffix: str, *, start: bool = True) -> str:
    """URL of a sibling database on the warehouse's server, e.g. ``credit_airflow``."""
    url = make_url(warehouse_url(start=start))
    return _render(url.set(database=f"{url.database}_{suffix}"))


def server_url(*, start: bool = True) -> str:
    """URL of the server's maintenance database, for creating and dropping databases."""
    return _render(make_url(warehouse_url(start=start)).set(database="postgres"))


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """The same URL with an explicit SQLAlchemy driver (``psycopg`` or ``psycopg2``)."""
    return _render(make_url(url).set(drivername=f"postgresql+{driver}"))


def connection_parts(url: str) -> dict[str, str | int]:
    """Host, port, user, password and database of a URL, as dbt and Airflow want them."""
    parsed = make_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password or "",
        "dbname": parsed.database or DEFAULT_DATABASE,
    }


def ensure_database(url: str) -> bool:
    """Create the database a URL names if it does not exist; True when it was created."""
    name = make_url(url).database
    admin = _render(make_url(url).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = _render(make_url(url).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def ensure_warehouse() -> str:
    """Create the warehouse database if missing and bring it to head: its own schemas (``raw``,
    ``audit``, ``quarantine``) by their migrations (:mod:`credit.migrations`), dbt's created
    when missing, the roles and grants (:mod:`credit.roles`); returns its URL, the configured
    one (the warehouse owner's: a superuser, or a role that may create roles).

    Every task and command that uses the warehouse starts here, so a warehouse an earlier release
    built is upgraded by the first of them; at head it costs a few small queries."""
    url = warehouse_url()
    ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            if schema not in migrations.MIGRATED_SCHEMAS:
                conn.execute(
                    sql.SQL("create schema if not exists {}").format(sql.Identifier(schema))
                )
        if not migrations.is_at_head(conn):
            upgrade = migrations.upgrade(url)
            log.info(
                "warehouse upgraded from revision %s to %s%s",
                upgrade.from_revision or "(none)",
                upgrade.to_revision,
                "".join(f"; {change}" for change in upgrade.raw_changes),
            )
        hash_key.install_key(conn)
        _switch_jit_off(conn)
        roles.install(conn)
        if server_log() is not None:
            _log_connections(conn)
    return url


def _switch_jit_off(conn: psycopg.Connection) -> None:
    """No JIT compilation in the warehouse's sessions: the planner's estimates over the models'
    date series run to hundreds of millions of rows, so PostgreSQL compiled for seconds queries
    that run in milliseconds (2.6 s of the 4.1 s of fct_dishonesty_metrics at demo scale)."""
    if conn.execute("select current_setting('jit')").fetchone()[0] == "off":
        return
    database = sql.Identifier(conn.info.dbname)
    conn.execute(sql.SQL("alter database {} set jit = off").format(database))


def server_log() -> Path | None:
    """The server's log file where this machine reads it: ``CREDIT_SERVER_LOG``, else the
    embedded server's, else None (another server, whose log is elsewhere)."""
    configured = os.environ.get(SERVER_LOG_ENV)
    if configured:
        return Path(configured)
    if not os.environ.get(ENV_URL):
        return embedded_server().log_file
    return None


def _log_connections(conn: psycopg.Connection) -> None:
    """A server whose log is read logs every connection: people's logins reach the access log
    from there (:mod:`credit.logins`). A reload applies it to the connections that follow."""
    if conn.execute("select current_setting('log_connections')").fetchone()[0] == "on":
        return
    conn.execute("alter system set log_connections = on")
    conn.execute("select pg_reload_conf()")


def _normalise(url: str) -> str:
    parsed = make_url(url)
    if parsed.database is None:
        parsed = parsed.set(database=DEFAULT_DATABASE)
    return _render(parsed.set(drivername="postgresql"))


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _wait_for(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not accepts_connections(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL did not accept connections on {host}:{port}")
        time.sleep(0.2)
    # The port opens a moment before the server accepts logins.
    while True:
        try:
            psycopg.connect(f"postgresql://{EMBEDDED_USER}@{host}:{port}/postgres").close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
