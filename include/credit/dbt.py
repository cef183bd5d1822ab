"""Running dbt against the warehouse, in-process (``dbtRunner``), with the profile's settings
taken from :mod:`credit.warehouse`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from credit.hash_key import key_in_use
from credit.paths import DBT_PROJECT_DIR
from credit.roles import TRANSFORMER
from credit.warehouse import connection_parts, ready_url

# The statuses of a node that did not do its job.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


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
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block's duration, then restore what they were."""
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


def invoke_dbt(args: Sequence[str], env: Mapping[str, str] | None = None) -> Any:
    """Run one dbt command and return dbt's result (``dbtRunnerResult``), failed or not.

    ``env`` adds environment variables for the command's duration (e.g. ``CREDIT_AS_OF_DATE``).
    The command holds the warehouse's hash key (:func:`credit.hash_key.key_in_use`): it waits
    for a key rotation under way, and raises :class:`credit.hash_key.HashKeyMismatch` without
    running when this environment's ``CREDIT_ID_HASH_KEY`` is not the warehouse's.
    """
    from dbt.cli.main import dbtRunner

    url = ready_url(TRANSFORMER)
    command = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    with key_in_use(url), environment_set({**profile_environment(url), **(env or {})}):
        return dbtRunner().invoke(command)


def failure_message(args: Sequence[str], outcome: Any) -> str:
    """What a failed dbt command reports: its failing nodes, else the exception."""
    failures = [
        f"{result.node.unique_id}: {result.status} {result.message or ''}".strip()
        for result in getattr(outcome.result, "results", None) or []
        if str(result.status) in FAILED_STATUSES
    ]
    detail = "; ".join(failures) or str(outcome.exception)
    return f"dbt {' '.join(args)} failed: {detail}"


def run_dbt(args: Sequence[str], env: Mapping[str, str] | None = None) -> object:
    """Run one dbt command (``["build", "--select", "reference"]``) and return its result.

    Raises :class:`DbtError` naming the failed nodes when the command does not succeed.
    """
    outcome = invoke_dbt(args, env)
    if not outcome.success:
        raise DbtError(failure_message(args, outcome))
    return outcome.result
