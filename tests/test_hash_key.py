"""The warehouse's resident-ID hash key: one key per warehouse, changed only by a rotation that
is refused whenever it could mix two keys (the rotation itself, on a built county, is tested in
tests/test_warning_feedback.py)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from credit import hash_key, identifiers, warehouse
from credit.cli import app
from credit.dbt import run_dbt

OLD_KEY = "the-key-the-warehouse-was-built-with"
NEW_KEY = "the-key-it-is-rotated-to"


@pytest.fixture
def keyed(warehouse_url, monkeypatch) -> Iterator[str]:
    """A warehouse of its own, created with OLD_KEY."""
    url = f"{warehouse_url}_hashkey"
    monkeypatch.setenv(warehouse.ENV_URL, url)
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, OLD_KEY)
    monkeypatch.delenv(hash_key.NEW_KEY_ENV, raising=False)
    warehouse.ensure_warehouse()
    yield url
    warehouse.drop_database(url)


def _stored(url: str) -> tuple[bytes, bytes] | None:
    with psycopg.connect(url) as conn:
        return hash_key.stored_pads(conn)


def _refusal(url: str, new_key: str) -> str:
    with pytest.raises(hash_key.RotationRefused) as refused:
        hash_key.rotate(url, new_key.encode())
    return str(refused.value)


def test_a_component_with_another_key_neither_replaces_it_nor_runs_dbt(keyed, monkeypatch) -> None:
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, NEW_KEY)
    warehouse.ensure_warehouse()  # what every command runs first
    assert _stored(keyed) == identifiers.hmac_pads(OLD_KEY.encode())
    with pytest.raises(hash_key.HashKeyMismatch, match="rotate-hash-key"):
        run_dbt(["parse"])


def test_a_rotation_is_refused_while_it_could_mix_keys(keyed, monkeypatch) -> None:
    # The components still hold the old key: the new one must be theirs first.
    assert "CREDIT_ID_HASH_KEY in this environment is not the new key" in _refusal(keyed, NEW_KEY)
    with hash_key.key_in_use(keyed):  # as a dbt command holds it while it runs
        monkeypatch.setenv(identifiers.HASH_KEY_ENV, NEW_KEY)
        assert "a dbt command" in _refusal(keyed, NEW_KEY)
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, identifiers.DEVELOPMENT_HASH_KEY)
    assert "development key" in _refusal(keyed, identifiers.DEVELOPMENT_HASH_KEY)
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, OLD_KEY)
    assert "already" in _refusal(keyed, OLD_KEY)
    assert _stored(keyed) == identifiers.hmac_pads(OLD_KEY.encode())
    assert not hash_key.rebuild_pending(keyed)


def test_the_command_asks_for_the_new_key_hidden_and_leaves_a_rebuild_due(
    keyed, monkeypatch
) -> None:
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, NEW_KEY)
    typed = f"{NEW_KEY}\n{NEW_KEY}\n"
    rotated = CliRunner().invoke(app, ["warehouse", "rotate-hash-key"], input=typed)
    assert rotated.exit_code == 0, rotated.output
    assert NEW_KEY not in rotated.output
    assert _stored(keyed) == identifiers.hmac_pads(NEW_KEY.encode())
    assert hash_key.rebuild_pending(keyed)
    again = CliRunner().invoke(app, ["warehouse", "rotate-hash-key"], input=typed)
    assert again.exit_code == 1
    assert "already" in again.output
