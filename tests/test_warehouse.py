"""Warehouse URL resolution and the embedded PostgreSQL, started and stopped for real."""

from __future__ import annotations

import psycopg
import pytest

from credit import service, warehouse


def test_configured_url_is_used_as_given(monkeypatch) -> None:
    monkeypatch.setenv(warehouse.ENV_URL, "postgresql+psycopg://u:p@db.example:6543/credit")
    assert warehouse.warehouse_url() == "postgresql://u:p@db.example:6543/credit"
    assert warehouse.database_url("airflow") == "postgresql://u:p@db.example:6543/credit_airflow"
    assert warehouse.server_url().endswith("/postgres")
    assert warehouse.connection_parts(warehouse.warehouse_url())["port"] == 6543


def test_database_name_defaults_to_credit(monkeypatch) -> None:
    monkeypatch.setenv(warehouse.ENV_URL, "postgresql://postgres@127.0.0.1:5432")
    assert warehouse.warehouse_url().endswith("/credit")


def test_warehouse_has_the_design_schemas(warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        schemas = {row[0] for row in conn.execute("select nspname from pg_namespace")}
    assert set(warehouse.WAREHOUSE_SCHEMAS) <= schemas


@pytest.fixture
def private_embedded(tmp_path, monkeypatch):
    monkeypatch.delenv(warehouse.ENV_URL)
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path))
    server = warehouse.embedded_server()
    yield server
    server.stop()


def test_embedded_server_starts_on_tcp_and_is_reused(private_embedded) -> None:
    url = warehouse.ensure_warehouse()
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(url) as conn:
        conn.execute("create table audit.probe (x int)")
    # A later command finds the running server and the same data.
    assert warehouse.warehouse_url() == url
    private_embedded.stop()
    assert not private_embedded.is_running()
    with psycopg.connect(warehouse.ensure_warehouse()) as conn:
        assert conn.execute("select count(*) from audit.probe").fetchone() == (0,)


def test_make_down_stops_the_embedded_server_only_when_make_up_started_it(private_embedded) -> None:
    service.start_warehouse()  # `make up` starts it (county up, then the service)
    service.start_warehouse()
    assert private_embedded.is_running()
    assert service.down() == ["embedded PostgreSQL"]
    assert not private_embedded.is_running()

    private_embedded.start()  # running before `make up`: not its to stop
    service.start_warehouse()
    assert service.down() == []
    assert private_embedded.is_running()
