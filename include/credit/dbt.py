"""Running dbt against the warehouse, in-process (``dbtRunner``), with the profile's settings
taken from :mod:`credit.warehouse`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from credit.paths import DBT_PROJECT_DIR
from credit.warehouse import connection_parts, ensure_warehouse


def profile_environment(url: str) -> dict[str, str]:
    """The ``CREDIT_DBT_*`` variables that ``dbt/profiles.yml`` reads."""
    parts = connection_parts(url)
    return {
        "CREDIT_DBT_HOST": str(parts["host"]),
        "CREDIT_DBT_PORT": str(parts["port"]),
        "CREDIT_DBT_USER": str(parts["user"]),
        "CREDIT_DBT_PASSWORD": str(parts["password"]),
        "CREDIT_DBT_DBNAME": str(parts["dbname"]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class DbtError(RuntimeError):
    """A dbt command failed; the message lists the failing nodes."""


def run_dbt(args: Sequence[str]) -> object:
    """Run one dbt command (``["build", "--select", "reference"]``) and return its result.

    Raises :class:`DbtError` naming the failed nodes when the command does not succeed.
    """
    from dbt.cli.main import dbtRunner

    url = ensure_warehouse()
    command = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    with _environment(profile_environment(url)):
        outcome = dbtRunner().invoke(command)
    if not outcome.success:
        failures = [
            f"{result.node.unique_id}: {result.status} {result.message or ''}".strip()
            for result in getattr(outcome.result, "results", None) or []
            if str(result.status) in {"error", "fail", "runtime error"}
        ]
        detail = "; ".join(failures) or str(outcome.exception)
        raise DbtError(f"dbt {' '.join(args)} failed: {detail}")
    return outcome.result
