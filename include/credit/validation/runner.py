"""Validating a landed batch (批次校验) with Great Expectations, as push-down SQL.

The batch is a GX query asset over ``raw.<kind>`` restricted to its ``batch_id``, in which a
blank text (spaces only, full-width spaces included) reads as NULL: a CSV cell with nothing in
it is a missing value.  The kind's committed suite runs against it with ``COMPLETE`` results
keyed by ``raw_row_id``; every row that fails any expectation gets one ``quarantine.rejected_rows``
row listing all its failed expectations.  Everything else is *accepted*: downstream reads

    select r.* from raw.<kind> r
    join audit.batches b on b.batch_id = r.batch_id and b.status = 'validated'
    where not exists (select 1 from quarantine.rejected_rows q
                      where q.record_kind = '<kind>' and q.raw_row_id = r.raw_row_id)

Nothing is lost: rows read = accepted + quarantined is checked before the batch is marked
validated, and a mismatch raises :class:`ReconciliationError`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import great_expectations as gx
import psycopg
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import GxDatasourceWarning, SQLDatasource
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from credit.catalogue import RecordKind, record_kind
from credit.validation.batch_checks import (
    DEFAULT_FRESHNESS_DAYS,
    BatchCheck,
    record_batch_checks,
    run_batch_checks,
)
from credit.validation.sql import BLANK_PATTERN, install_validation_sql
from credit.validation.suites import load_suite

log = logging.getLogger(__name__)

INDEX_COLUMN = "raw_row_id"
# COMPLETE with the row id as index, and no cap on how many ids GX lists per expectation.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [INDEX_COLUMN],
    "partial_unexpected_count": 2**31 - 1,
    "exclude_unexpected_values": True,
}
# How many ids of each expectation the stored result (and so Data Docs) keeps: the full
# list is in quarantine.rejected_rows.
STORED_IDS = 20
_JOIN = re.compile(r"\bjoin\b", re.IGNORECASE)


class ReconciliationError(RuntimeError):
    """Rows read differ from accepted + quarantined: a row would be lost or counted twice."""


class ValidationError(RuntimeError):
    """Validation could not run to the end (an expectation raised, a result is incomplete)."""


@dataclass(frozen=True)
class ValidationOutcome:
    """What validating one batch found: counts, failing rows per rule and the batch checks."""

    batch_id: int
    record_kind: str
    rows_read: int
    accepted: int
    quarantined: int
    reasons: dict[str, int]  # rule -> rows failing it
    checks: list[BatchCheck] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def warnings(self) -> list[BatchCheck]:
        return [check for check in self.checks if not check.passed]


@dataclass(frozen=True)
class _Batch:
    batch_id: int
    kind: RecordKind
    dept_code: str
    logical_date: date
    rows_read: int


def validate_batch(
    conn_or_url: psycopg.Connection | str,
    batch_id: int,
    *,
    freshness_days: int = DEFAULT_FRESHNESS_DAYS,
) -> ValidationOutcome:
    """Validate a landed batch, quarantine its failing rows and mark it validated.

    The batch's rows must be committed (GX reads them over its own connection).  Quarantine,
    batch checks, the stored GX result and ``audit.batches`` are written in one transaction,
    replacing what an earlier validation of the same batch wrote, so re-running is idempotent.
    """
    started = time.perf_counter()
    with _connection(conn_or_url) as conn:
        _install_once(conn)
        batch = _read_batch(conn, batch_id)
        batch_query = _batch_query(batch.kind, batch_id)
        result = _run_suite(_sqlalchemy_url(conn), batch, batch_query)
        failures = _failures(conn, result, batch_query)
        checks = run_batch_checks(
            conn,
            batch.kind,
            batch_id,
            batch.logical_date,
            freshness_days=freshness_days,
        )
        try:
            with conn.transaction():
                accepted = _write(conn, batch, failures, checks, result)
        except ReconciliationError as error:
            _mark_failed(conn, batch_id, str(error))
            raise
    reasons = Counter(reason["rule"] for row in failures.values() for reason in row)
    outcome = ValidationOutcome(
        batch_id=batch_id,
        record_kind=batch.kind.name,
        rows_read=batch.rows_read,
        accepted=accepted,
        quarantined=len(failures),
        reasons=dict(sorted(reasons.items())),
        checks=checks,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "batch %s (%s/%s): %s read, %s accepted, %s quarantined in %.2f s",
        batch_id,
        batch.dept_code,
        batch.kind.name,
        outcome.rows_read,
        outcome.accepted,
        outcome.quarantined,
        outcome.seconds,
    )
    return outcome


@contextmanager
def _connection(conn_or_url: psycopg.Connection | str) -> Iterator[psycopg.Connection]:
    if isinstance(conn_or_url, psycopg.Connection):
        yield conn_or_url
        return
    with psycopg.connect(conn_or_url, autocommit=True) as conn:
        yield conn


_installed: set[str] = set()


def _install_once(conn: psycopg.Connection) -> None:
    """Install the SQL functions once per process and database, not once per batch."""
    key = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    if key not in _installed:
        install_validation_sql(conn)
        _installed.add(key)


def _read_batch(conn: psycopg.Connection, batch_id: int) -> _Batch:
    row = conn.execute(
        "select record_kind, dept_code, logical_date, rows_read from audit.batches"
        " where batch_id = %s",
        (batch_id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"batch {batch_id} is not in audit.batches")
    return _Batch(batch_id, record_kind(row[0]), row[1], row[2], row[3])


def _batch_query(kind: RecordKind, batch_id: int) -> str:
    """The batch as GX sees it: lineage columns, then canonical columns with blanks as NULL."""
    columns = sql.SQL(", ").join(
        sql.SQL("case when {c} ~ {blank} then null else {c} end as {c}").format(
            c=sql.Identifier(name), blank=sql.Literal(BLANK_PATTERN)
        )
        for name in kind.column_names
    )
    query = sql.SQL(
        "select raw_row_id, batch_id, dept_code, parse_problem, {} from raw.{} where batch_id = {}"
    ).format(columns, sql.Identifier(kind.name), sql.Literal(batch_id))
    return query.as_string(None)


@cache
def _datasource(url: str) -> SQLDatasource:
    """One ephemeral GX context and SQL data source per process and database.

    Ephemeral: nothing is written to disk; results are kept in ``audit.validation_results``
    and Data Docs are built from there (:mod:`credit.validation.docs`).
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # The generic SQL source on purpose: add_postgres rejects some valid URLs; GX warns about it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GxDatasourceWarning)
        return context.data_sources.add_sql(name="warehouse", connection_string=url)


def _run_suite(url: str, batch: _Batch, batch_query: str) -> ExpectationSuiteValidationResult:
    datasource = _datasource(url)
    asset = datasource.add_query_asset(f"batch_{batch.batch_id}_{uuid.uuid4().hex}", batch_query)
    try:
        gx_batch = asset.add_batch_definition_whole_table("batch").get_batch()
        result = gx_batch.validate(load_suite(batch.kind.name), result_format=RESULT_FORMAT)
    finally:
        datasource.delete_asset(asset.name)
    errors = [r for r in result.results if r.exception_info.get("raised_exception")]
    if errors:
        first = errors[0]
        raise ValidationError(
            f"batch {batch.batch_id}: {len(errors)} expectations raised, first "
            f"{first.expectation_config.meta}: {first.exception_info.get('exception_message')}"
        )
    return result


def _failures(
    conn: psycopg.Connection, result: ExpectationSuiteValidationResult, batch_query: str
) -> dict[int, list[dict[str, str]]]:
    """Every failing raw row with all its reasons, in suite order."""
    failures: dict[int, list[dict[str, str]]] = {}
    for expectation in result.results:
        if expectation.success:
            continue
        config = expectation.expectation_config
        reason = {
            "rule": config.meta["rule"],
            "column": config.meta["column"],
            "expectation_type": config.type,
        }
        for raw_row_id in _failing_ids(conn, expectation, batch_query):
            failures.setdefault(raw_row_id, []).append(reason)
    return failures


def _failing_ids(
    conn: psycopg.Connection, expectation: ExpectationValidationResult, batch_query: str
) -> list[int]:
    """The ids of the rows one expectation failed, checked against its unexpected count."""
    config = expectation.expectation_config
    outcome = expectation.result
    if config.type == "unexpected_rows_expectation":
        ids = [row[INDEX_COLUMN] for row in outcome["details"]["unexpected_rows"]]
        expected = outcome["observed_value"]
        if len(ids) < expected:
            # GX keeps at most 200 rows of a custom query; the rest come from the same query.
            ids = _run_rows_query(conn, config.kwargs["unexpected_rows_query"], batch_query)
    else:
        index = outcome.get("unexpected_index_list") or [{INDEX_COLUMN: []}]
        ids = list(index[0][INDEX_COLUMN])
        expected = outcome["unexpected_count"]
    if len(set(ids)) != expected:
        raise ValidationError(
            f"{config.meta}: GX counted {expected} failing rows but listed {len(set(ids))}"
        )
    return [int(i) for i in ids]


def _run_rows_query(conn: psycopg.Connection, query: str, batch_query: str) -> list[int]:
    """A custom expectation's query, with ``{batch}`` substituted the way GX substitutes it."""
    batch = f"({batch_query})" if _JOIN.search(query) else f"({batch_query}) as subselect"
    return [row[0] for row in conn.execute(query.format(batch=batch)).fetchall()]


def _write(
    conn: psycopg.Connection,
    batch: _Batch,
    failures: dict[int, list[dict[str, str]]],
    checks: list[BatchCheck],
    result: ExpectationSuiteValidationResult,
) -> int:
    """Replace the batch's quarantine rows, checks and result; reconcile; mark it validated."""
    batch_id = batch.batch_id
    conn.execute("delete from quarantine.rejected_rows where batch_id = %s", (batch_id,))
    with conn.cursor().copy(
        "copy quarantine.rejected_rows (record_kind, raw_row_id, batch_id, dept_code, reasons)"
        " from stdin"
    ) as copy:
        for raw_row_id in sorted(failures):
            copy.write_row(
                (
                    batch.kind.name,
                    raw_row_id,
                    batch_id,
                    batch.dept_code,
                    json.dumps(failures[raw_row_id], ensure_ascii=False),
                )
            )
    record_batch_checks(conn, batch_id, checks)
    _store_result(conn, batch_id, result)
    landed, accepted, quarantined = _counts(conn, batch)
    if not (batch.rows_read == landed == accepted + quarantined and quarantined == len(failures)):
        raise ReconciliationError(
            f"batch {batch_id} ({batch.dept_code}/{batch.kind.name}) does not reconcile: "
            f"rows_read {batch.rows_read}, landed {landed}, accepted {accepted}, "
            f"quarantined {quarantined} (validation found {len(failures)})"
        )
    conn.execute(
        """
        update audit.batches
        set rows_accepted = %s, rows_quarantined = %s, status = 'validated',
            validated_at = now(), message = null
        where batch_id = %s
        """,
        (accepted, quarantined, batch_id),
    )
    return accepted


def _counts(conn: psycopg.Connection, batch: _Batch) -> tuple[int, int, int]:
    """Landed, accepted (by the same anti-join downstream uses) and quarantined rows."""
    row = conn.execute(
        sql.SQL(
            """
            select count(*),
                   count(*) filter (where q.raw_row_id is null),
                   count(*) filter (where q.raw_row_id is not null)
            from raw.{} as r
            left join quarantine.rejected_rows as q
                on q.record_kind = %s and q.raw_row_id = r.raw_row_id
            where r.batch_id = %s
            """
        ).format(sql.Identifier(batch.kind.name)),
        (batch.kind.name, batch.batch_id),
    ).fetchone()
    return row[0], row[1], row[2]


def _store_result(
    conn: psycopg.Connection, batch_id: int, result: ExpectationSuiteValidationResult
) -> None:
    """Keep the GX result for Data Docs, with id lists cut to a sample."""
    document = result.to_json_dict()
    for entry in document["results"]:
        outcome = entry.get("result") or {}
        for key in ("unexpected_index_list", "partial_unexpected_index_list"):
            if outcome.get(key):
                outcome[key] = [
                    {name: ids[:STORED_IDS] for name, ids in item.items()} for item in outcome[key]
                ]
        outcome.pop("unexpected_index_query", None)
        details = outcome.get("details") or {}
        if "unexpected_rows" in details:
            details["unexpected_rows"] = details["unexpected_rows"][:STORED_IDS]
    conn.execute(
        """
        insert into audit.validation_results
            (batch_id, suite_name, success, statistics, result)
        values (%s, %s, %s, %s, %s)
        on conflict (batch_id) do update set
            suite_name = excluded.suite_name, success = excluded.success,
            statistics = excluded.statistics, result = excluded.result, validated_at = now()
        """,
        (
            batch_id,
            result.suite_name,
            result.success,
            Jsonb(document["statistics"]),
            Jsonb(document),
        ),
    )


def _mark_failed(conn: psycopg.Connection, batch_id: int, message: str) -> None:
    with conn.transaction():
        conn.execute(
            "update audit.batches set status = 'failed', message = %s where batch_id = %s",
            (message, batch_id),
        )


def _sqlalchemy_url(conn: psycopg.Connection) -> str:
    """The connection's database as a SQLAlchemy URL for GX (psycopg 3 driver)."""
    info = conn.info
    host = info.host
    socket_dir = host.startswith("/")
    url = URL.create(
        "postgresql+psycopg",
        username=info.user,
        password=info.password or None,
        host=None if socket_dir else host,
        port=info.port,
        database=info.dbname,
        query={"host": host} if socket_dir else {},
    )
    return url.render_as_string(hide_password=False)
