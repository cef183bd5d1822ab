"""The resident-ID hash key in the warehouse: usable by dbt, never logged, never public."""

from __future__ import annotations

from pathlib import Path

import psycopg

from credit import identifiers, warehouse
from credit.dbt import run_dbt
from credit.validation import install_validation_sql

KEY = "a-distinctive-key-that-must-not-be-logged"
RESIDENT_ID = "32028119800101123X"


def test_hash_key_reaches_sql_but_not_logs_or_public(warehouse_url, monkeypatch, tmp_path) -> None:
    url = f"{warehouse_url}_keys"
    logs = tmp_path / "logs"
    monkeypatch.setenv(warehouse.ENV_URL, url)
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, KEY)
    monkeypatch.setenv("DBT_LOG_PATH", str(logs))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    with psycopg.connect(warehouse.ensure_warehouse()) as conn:
        install_validation_sql(conn)  # the identifier functions validation and staging share
    run_dbt(["--debug", "seed", "--select", "jiangyin_divisions"])  # runs on-run-start

    with psycopg.connect(url) as conn:
        hashed, public_may_call, public_may_read = conn.execute(
            """
            select
                audit.hash_identifier(%s),
                has_function_privilege('public', 'audit.hash_identifier(text)', 'execute'),
                has_table_privilege('public', 'audit.identifier_hash_key', 'select')
            """,
            (RESIDENT_ID,),
        ).fetchone()
    assert hashed == identifiers.hash_identifier(RESIDENT_ID, KEY.encode())
    assert not public_may_call
    assert not public_may_read
    logged = [p for p in Path(logs).rglob("*") if p.is_file() and KEY in p.read_text("utf-8")]
    assert list(logs.rglob("*.log")) and not logged
