"""Test session set-up: a real PostgreSQL test database and a private data folder.

With ``CREDIT_WAREHOUSE_URL`` set, the tests use that server; unset, they start (and at the end
stop) the project's embedded PostgreSQL, as a user's fresh machine would.  Either way they work
in their own databases (``<warehouse>_test`` and its siblings), dropped and recreated per session,
and in a temporary data folder, so a demo's warehouse is never touched.

The environment is set at import time because Airflow reads its configuration when first imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from credit import warehouse

_embedded = None if os.environ.get(warehouse.ENV_URL) else warehouse.embedded_server()
_embedded_was_running = _embedded.is_running() if _embedded else True
_base_url = make_url(warehouse.warehouse_url())
TEST_WAREHOUSE_URL = _base_url.set(database=f"{_base_url.database}_test").render_as_string(
    hide_password=False
)
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="credit-tests-"))

os.environ[warehouse.ENV_URL] = TEST_WAREHOUSE_URL
os.environ["CREDIT_DATA_DIR"] = str(TEST_DATA_DIR)
os.environ.setdefault("CREDIT_ID_HASH_KEY", "test-suite-key")

for _suffix in ("", "_airflow", "_exchange"):
    warehouse.drop_database(f"{TEST_WAREHOUSE_URL}{_suffix}")

from credit import airflow_env  # noqa: E402  (after the environment is set)

airflow_env.apply_airflow_environment()


@pytest.fixture(scope="session", autouse=True)
def _session_resources() -> Iterator[None]:
    yield
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)
    if _embedded is not None and not _embedded_was_running:
        from airflow import settings

        settings.dispose_orm()  # close pooled connections before their server goes away
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
