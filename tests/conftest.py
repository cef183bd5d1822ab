"""Test session set-up: a real PostgreSQL test database and a private data folder.

With ``CREDIT_WAREHOUSE_URL`` set, the tests use that server; unset, they start (and at the end
stop) the project's embedded PostgreSQL, as a user's fresh machine would.  Either way they work
in their own databases (``<warehouse>_test`` and its siblings), dropped and recreated per session,
and in a temporary data folder (dbt's target and logs included), so a demo's warehouse is never
touched and two sessions can run side by side.

The environment is set at import time because Airflow reads its configuration when first imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from credit import warehouse
from tests import mail
from tests.mail import Inbox

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


# CI (.ci/run) runs the suite in both database modes side by side. With CREDIT_TEST_SHARE set to
# a mode, a module listed here runs only in its mode; the modules not listed (the essentials: the
# warehouse's set-up, migrations, landing, identifiers and their hashing, the simulator, the
# DAGs' integrity) run in both. Without it, as `make test` runs, every test runs. Each mode
# builds marts with dbt (on PostgreSQL 15 and the embedded 16) and runs DAGs end to end; modules
# that share a county stay together.
SHARE_ENV = "CREDIT_TEST_SHARE"
SHARES = {
    "server": {
        "test_access.py",
        "test_commitments.py",
        "test_compliance_risk.py",
        "test_credit_check.py",
        "test_dbt_evaluation.py",
        "test_dbt_lifecycle.py",
        "test_dbt_metrics.py",
        "test_dbt_staging.py",
        "test_dbt_warnings.py",
        "test_department_scorecard.py",
        "test_export_delivery.py",
        "test_exports.py",
        "test_objections.py",
        "test_personal_data.py",
        "test_publicity.py",
        "test_reference_dag.py",
        "test_transform.py",
    },
    "embedded": {
        "test_as_of.py",
        "test_bad_input.py",
        "test_catch_up.py",
        "test_faults.py",
        "test_ingest.py",
        "test_issued_records.py",
        "test_service.py",
        "test_source_protocol.py",
        "test_validation.py",
        "test_warning_feedback.py",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the modules of the other mode's share (see SHARES)."""
    mode = os.environ.get(SHARE_ENV)
    if not mode:
        return
    if mode not in SHARES:
        raise pytest.UsageError(f"{SHARE_ENV} must be one of {sorted(SHARES)}, not {mode!r}")
    listed = set().union(*SHARES.values())
    missing = sorted(name for name in listed if not (Path(__file__).parent / name).is_file())
    if missing:  # a renamed module would otherwise run in neither mode
        raise pytest.UsageError(f"SHARES names modules that do not exist: {missing}")
    others = listed - SHARES[mode]
    dropped = [item for item in items if item.path.name in others]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.path.name not in others]


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


@pytest.fixture
def smtp_server(monkeypatch) -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on localhost, reached by the credit_smtp connection; its
    inbox keeps every message."""
    from credit.exports.delivery import SMTP_CONN

    with mail.smtp_server() as (inbox, uri):
        monkeypatch.setenv(f"AIRFLOW_CONN_{SMTP_CONN.upper()}", uri)
        yield inbox
