"""Test session set-up: a real PostgreSQL test database and a private data folder.

With ``CREDIT_WAREHOUSE_URL`` set, the tests use that server; unset, they start (and at the end
stop) the project's embedded PostgreSQL, as a user's fresh machine would.  Either way they work
in their own databases (``<warehouse>_test`` and its siblings), dropped and recreated per session,
and in a temporary data folder (dbt's target and logs included), so a demo's warehouse is never
touched and two sessions can run side by side.

The environment is set at import time because Airflow reads its configuration when first imported.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from credit import warehouse

_embedded = None if os.environ.get(warehouse.ENV_URL) else warehouse.embedded_server()
_embedded_was_running = _embedded.is_running() if _embedded else True
_base_url = make_url(warehouse.warehouse_url())
# One set of databases per test session, so sessions running side by side never collide.
TEST_WAREHOUSE_URL = _base_url.set(
    database=f"{_base_url.database}_test_{os.getpid()}"
).render_as_string(hide_password=False)
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="credit-tests-"))

os.environ[warehouse.ENV_URL] = TEST_WAREHOUSE_URL
if _embedded is not None:  # its log is read for the access log's logins (credit.logins)
    os.environ[warehouse.SERVER_LOG_ENV] = str(_embedded.log_file)
os.environ["CREDIT_DATA_DIR"] = str(TEST_DATA_DIR)
# dbt's manifest, partial-parse file and logs too, so sessions side by side never share them.
os.environ["DBT_TARGET_PATH"] = str(TEST_DATA_DIR / "dbt_target")
os.environ["DBT_LOG_PATH"] = str(TEST_DATA_DIR / "dbt_logs")
os.environ.setdefault("CREDIT_ID_HASH_KEY", "test-suite-key")
os.environ["CREDIT_RETRY_DELAY_SECONDS"] = "0"  # a failing task's retries run at once


def _drop_test_databases() -> None:
    """Drop the session's warehouse and every sibling (``_airflow``, ``_exchange``, ...)."""
    prefix = make_url(TEST_WAREHOUSE_URL).database
    with psycopg.connect(warehouse.server_url(), autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "select datname from pg_database where datname = %s or starts_with(datname, %s)",
                (prefix, f"{prefix}_"),
            )
        ]
    for name in names:
        warehouse.drop_database(
            make_url(TEST_WAREHOUSE_URL).set(database=name).render_as_string(False)
        )


_drop_test_databases()

from credit import airflow_env  # noqa: E402  (after the environment is set)

airflow_env.apply_airflow_environment()


@pytest.fixture(scope="session", autouse=True)
def _session_resources() -> Iterator[None]:
    yield
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)
    from airflow import settings

    settings.dispose_orm()  # close pooled connections before their databases go away
    _drop_test_databases()
    if _embedded is not None and not _embedded_was_running:
        _embedded.stop()


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """The test warehouse, created with its schemas."""
    return warehouse.ensure_warehouse()


@pytest.fixture(scope="session")
def airflow_ready(warehouse_url: str) -> dict[str, str]:
    """Airflow's metadata database, migrated, for ``dag.test()`` runs."""
    return airflow_env.prepare_airflow()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return TEST_DATA_DIR


@pytest.fixture(scope="session")
def quarter_county_built(tmp_path_factory, warehouse_url) -> Iterator:
    """One county for the whole session (see tests/county.py), built once, shared read-only."""
    from tests.county import built_quarter_county

    with built_quarter_county(tmp_path_factory) as county:
        yield county


@pytest.fixture
def quarter_county(quarter_county_built) -> Iterator:
    """The shared quarter county with its environment active for one test.

    Tests must not change its warehouse; to try a changed rule, build into a copy of the dbt
    project with a different target schema or database.
    """
    with quarter_county_built.active() as county:
        yield county


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server (aiosmtpd) on localhost, reached by the credit_smtp connection; its
    inbox keeps every message."""
    from credit.exports.delivery import SMTP_CONN

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(f"AIRFLOW_CONN_{SMTP_CONN.upper()}", f"smtp://127.0.0.1:{port}")
    try:
        yield inbox
    finally:
        controller.stop()
