"""Validating a landed batch (批次校验) with Great Expectations, as push-down SQL.

The batch is ``raw.<kind>`` restricted to its ``batch_id``, in which a blank text (spaces
only, full-width spaces included) reads as NULL: a CSV cell with nothing in it is a missing
value; it is computed once into a table that GX reads as a table asset.  The kind's committed
suite runs against it as the gate, with ``BASIC`` results (per expectation: success and counts,
no list of rows or values shipped back to Python).  Which rows failed comes from SQL over the
same table generated from the same suite (one pass for each expectation's condition on a row,
as GX writes it for PostgreSQL, then the whole-batch queries), whose count per expectation must
equal GX's; every row that fails any expectation gets one ``quarantine.rejected_rows`` row
listing all its failed expectations.  Everything else is *accepted*: downstream reads

    select r.* from raw.<kind> r
    join audit.batches b on b.batch_id = r.batch_id and b.status = 'validated'
    where not exists (select 1 from quarantine.rejected_rows q
                      where q.record_kind = '<kind>' and q.raw_row_id = r.raw_row_id)

Nothing is lost: rows read = accepted + quarantined is checked before the batch is marked
validated, and a mismatch raises :class:`ReconciliationError`.

Several batches of one kind can be validated in one GX run (:func:`validate_batches`): the
asset is then ``raw.<kind>`` restricted to their ids, GX's fixed cost (~0.4 s a run) is paid once
per group, and everything that belongs to a batch (duplicates, ``not_future`` against its own
logical date, batch checks, stored result, quarantine, counts, reconciliation) stays per batch.
:func:`validate_batch` is the one-batch case of the same code.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import great_expectations as gx
import psycopg
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import GxDatasourceWarning, SQLDatasource
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from credit.catalogue import RecordKind, record_kind
from credit.validation.batch_checks import (
    DEFAULT_FRESHNESS_DAYS,
    BatchCheck,
    record_group_batch_checks,
    run_group_batch_checks,
)
from credit.validation.expectations import EXPECTATION_TYPE as ROWS_EXPECTATION
from credit.validation.expectations import ISO_DATE_TYPE, ISO_TIMESTAMP_TYPE
from credit.validation.sql import blank_as_null, install_validation_sql
from credit.validation.suites import load_suite

log = logging.getLogger(__name__)

INDEX_COLUMN = "raw_row_id"
# Success and counts per expectation; no failing values (personal IDs among them) and no lists.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "unexpected_index_column_names": [INDEX_COLUMN],
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
}
# How many ids of each expectation the stored result (and so Data Docs) keeps, as GX's
# ``partial_unexpected_index_list``: the full list is in quarantine.rejected_rows.
STORED_IDS = 20
# What fails each column map expectation of the suites, as GX's PostgreSQL conditions: a NULL
# is missing, not unexpected, except for the (not-)null expectations themselves.
_FAILS: dict[str, str] = {
    "expect_column_values_to_be_null": "{column} is not null",
    "expect_column_values_to_not_be_null": "{column} is null",
    "expect_column_values_to_be_in_set": "not ({column} = any({value_set}))",
    "expect_column_values_to_match_regex": "{column} !~ {regex}",
    "expect_column_values_to_not_match_regex": "{column} ~ {regex}",
    ISO_DATE_TYPE: "not audit.is_iso_date({column})",
    ISO_TIMESTAMP_TYPE: "not audit.is_iso_timestamp({column})",
}
_MATERIALISED_SCHEMA = "audit"
_MATERIALISED_PREFIX = "validating_"


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


# A group (one GX run, one transaction) holds at most this many batches and, unless one batch
# alone is bigger, this many rows: a long catch-up never builds one enormous query or result.
MAX_GROUP_BATCHES = 2_000
MAX_GROUP_ROWS = 1_000_000


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
    return validate_batches(conn_or_url, [batch_id], freshness_days=freshness_days)[0]


def validate_batches(
    conn_or_url: psycopg.Connection | str,
    batch_ids: Iterable[int],
    *,
    freshness_days: int = DEFAULT_FRESHNESS_DAYS,
    max_batches: int = MAX_GROUP_BATCHES,
    max_rows: int = MAX_GROUP_ROWS,
) -> list[ValidationOutcome]:
    """Validate several landed batches of one record kind, a group of them per GX run.

    Gives exactly what :func:`validate_batch` gives for each batch one by one (quarantine rows,
    batch checks, stored result, counts and status), at one GX run per group of at most
    ``max_batches`` batches / ``max_rows`` rows read.  Each group is written in one transaction.
    A batch that does not reconcile is marked failed while the others of its group are still
    validated; after every group, :class:`ReconciliationError` names all such batches.
    Returns one outcome per batch, in the order given.
    """
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return []
    outcomes: dict[int, ValidationOutcome] = {}
    unreconciled: list[str] = []
    with _connection(conn_or_url) as conn:
        _install_once(conn)
        _drop_orphans(conn)
        batches = _read_batches(conn, ids)
        _analyze_if_stale(conn, list(batches.values()))
        for group in _groups(sorted(batches.values(), key=_batch_id), max_batches, max_rows):
            done, problems = _validate_group(conn, group, freshness_days)
            outcomes.update(done)
            unreconciled.extend(problems)
    if unreconciled:
        raise ReconciliationError("; ".join(unreconciled))
    return [outcomes[batch_id] for batch_id in ids]


# The raw table's statistics are refreshed first when the rows changed since they were taken,
# and the batches to validate, are more than this share of what the planner believes it has.
STALE_STATISTICS_SHARE = 0.2


def _analyze_if_stale(conn: psycopg.Connection, batches: list[_Batch]) -> None:
    """Analyse ``raw.<kind>`` when the rows written since its last analysis are a large part
    of it and the batches to validate are among them.

    The night analyses what it wrote at its end (``credit.ingest.analyze_night``); until then a
    big first delivery is planned as the few rows the table held before, so the batch is read
    by one process instead of in parallel (a million rows: 3.3 s against 2.5 s).
    """
    kind = batches[0].kind
    rows = sum(batch.rows_read for batch in batches)
    believed, changed = conn.execute(
        "select c.reltuples, coalesce(s.n_mod_since_analyze, 0) from pg_class as c"
        " left join pg_stat_user_tables as s on s.relid = c.oid where c.oid = %s::regclass",
        (f"raw.{kind.name}",),
    ).fetchone() or (0, 0)
    if min(rows, changed) > STALE_STATISTICS_SHARE * max(believed, 0):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", kind.name)))


def _batch_id(batch: _Batch) -> int:
    return batch.batch_id


def _groups(batches: list[_Batch], max_batches: int, max_rows: int) -> list[list[_Batch]]:
    """Consecutive batches cut into groups of at most ``max_batches`` and ``max_rows`` rows."""
    groups: list[list[_Batch]] = []
    rows = 0
    for batch in batches:
        if not groups or len(groups[-1]) >= max_batches or rows + batch.rows_read > max_rows:
            groups.append([])
            rows = 0
        groups[-1].append(batch)
        rows += batch.rows_read
    return [group for group in groups if group]


def _validate_group(
    conn: psycopg.Connection, group: list[_Batch], freshness_days: int
) -> tuple[dict[int, ValidationOutcome], list[str]]:
    """One GX run and one transaction for a group; returns the outcomes of the batches that
    reconciled and the messages of those that did not (marked failed)."""
    started = time.perf_counter()
    kind = group[0].kind
    ids = [batch.batch_id for batch in group]
    with _materialised(conn, kind, ids) as table:
        result = _run_suite(_sqlalchemy_url(conn), kind, ids, table)
        failing, batch_of = _failing_rows(conn, result, table)
        sizes = _batch_sizes(conn, table, kind.column_names)
        documents, run = _batch_documents(result, group, failing, batch_of, sizes)
        checks = run_group_batch_checks(
            conn,
            kind,
            _table(table),
            {batch.batch_id: batch.logical_date for batch in group},
            sizes,
            freshness_days=freshness_days,
        )
    failures = _failures(result, failing, batch_of, ids)
    pending = list(group)
    accepted: dict[int, int] = {}
    problems: list[str] = []
    while pending:
        try:
            with conn.transaction():
                accepted = _write(conn, pending, failures, checks, documents)
                _store_run(conn, group, run)
            break
        except _Unreconciled as mismatch:
            # Roll the group back, mark the batches that do not add up failed, write the rest.
            for batch_id, message in mismatch.messages.items():
                _mark_failed(conn, batch_id, message)
                problems.append(message)
            pending = [batch for batch in pending if batch.batch_id not in mismatch.messages]
    seconds = time.perf_counter() - started
    outcomes = {}
    for batch in pending:
        batch_failures = failures[batch.batch_id]
        reasons = Counter(reason["rule"] for row in batch_failures.values() for reason in row)
        outcome = ValidationOutcome(
            batch_id=batch.batch_id,
            record_kind=kind.name,
            rows_read=batch.rows_read,
            accepted=accepted[batch.batch_id],
            quarantined=len(batch_failures),
            reasons=dict(sorted(reasons.items())),
            checks=checks[batch.batch_id],
            seconds=seconds / len(group),
        )
        outcomes[batch.batch_id] = outcome
        log.info(
            "batch %s (%s/%s): %s read, %s accepted, %s quarantined in %.2f s",
            batch.batch_id,
            batch.dept_code,
            kind.name,
            outcome.rows_read,
            outcome.accepted,
            outcome.quarantined,
            outcome.seconds,
        )
    if len(group) > 1:
        log.info("%s batches of %s validated in one run in %.2f s", len(group), kind.name, seconds)
    return outcomes, problems


@contextmanager
def _connection(conn_or_url: psycopg.Connection | str) -> Iterator[psycopg.Connection]:
    if isinstance(conn_or_url, psycopg.Connection):
        if not conn_or_url.autocommit:
            raise ValueError("validation needs an autocommit connection: GX reads over its own")
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


def _read_batches(conn: psycopg.Connection, batch_ids: list[int]) -> dict[int, _Batch]:
    rows = conn.execute(
        "select batch_id, record_kind, dept_code, logical_date, rows_read from audit.batches"
        " where batch_id = any(%s)",
        (batch_ids,),
    ).fetchall()
    batches = {row[0]: _Batch(row[0], record_kind(row[1]), row[2], row[3], row[4]) for row in rows}
    missing = [batch_id for batch_id in batch_ids if batch_id not in batches]
    if missing:
        raise ValueError(f"batch {', '.join(map(str, missing))} not in audit.batches")
    kinds = sorted({batch.kind.name for batch in batches.values()})
    if len(kinds) > 1:
        raise ValueError(f"batches validated together must be of one record kind, not {kinds}")
    return batches


def _batch_query(kind: RecordKind, batch_ids: list[int]) -> str:
    """The batches as GX sees them: lineage columns, then canonical columns with blanks as NULL.

    The canonical columns are in the "C" collation: their sorts and comparisons (duplicates'
    partitions, distinct values) compare bytes instead of calling the locale's ``strcoll``.
    Every rule gives the same answer in either: equality is byte equality in both, and the
    patterns name their characters and ranges by code point.
    """
    columns = sql.SQL(", ").join(
        sql.SQL('({}) collate "C" as {}').format(
            blank_as_null(sql.Identifier(name)), sql.Identifier(name)
        )
        for name in kind.column_names
    )
    query = sql.SQL(
        "select raw_row_id, batch_id, dept_code, parse_problem, {} from raw.{}"
        " where batch_id in ({})"
    ).format(
        columns,
        sql.Identifier(kind.name),
        sql.SQL(", ").join(sql.Literal(int(batch_id)) for batch_id in batch_ids),
    )
    return query.as_string(None)


@contextmanager
def _materialised(
    conn: psycopg.Connection, kind: RecordKind, batch_ids: list[int]
) -> Iterator[str]:
    """The group's batch query (:func:`_batch_query`) computed once into an unlogged table of
    ``audit``, which GX (as a table asset) and the SQL pass read instead; yields its name.

    Every expectation scans the batch, some twice (GX counts, then samples), and GX runs a
    query asset whole once more to learn its columns: reading the blank test of every column
    once instead of in every scan, and reflecting a table's columns from the catalogue instead,
    halves a group's time.  The table is committed (GX reads over its own connection), named
    after this connection's backend, and dropped when the group is done; one that a killed
    process left behind is dropped by the next validation (:func:`_drop_orphans`).
    """
    name = f"{_MATERIALISED_PREFIX}{conn.info.backend_pid}_{uuid.uuid4().hex[:12]}"
    table = sql.Identifier(_MATERIALISED_SCHEMA, name)
    conn.execute(
        sql.SQL("create unlogged table {} as {}").format(
            table, sql.SQL(_batch_query(kind, batch_ids))
        )
    )
    try:
        yield name
    finally:
        conn.execute(sql.SQL("drop table if exists {}").format(table))


def _drop_orphans(conn: psycopg.Connection) -> None:
    """Drop the materialised batches of backends that no longer exist (once per call of
    :func:`validate_batches`, not per group)."""
    orphans = conn.execute(
        """
        select c.relname from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace and n.nspname = %s
        where c.relkind = 'r' and c.relname ~ %s
          and split_part(substr(c.relname, %s), '_', 1)::int
              not in (select pid from pg_stat_activity)
        """,
        (
            _MATERIALISED_SCHEMA,
            f"^{_MATERIALISED_PREFIX}[0-9]+_[0-9a-f]+$",
            len(_MATERIALISED_PREFIX) + 1,
        ),
    ).fetchall()
    for (name,) in orphans:
        conn.execute(
            sql.SQL("drop table if exists {}").format(sql.Identifier(_MATERIALISED_SCHEMA, name))
        )


_DATASOURCES: dict[str, SQLDatasource] = {}


def _datasource(url: str) -> SQLDatasource:
    """One ephemeral GX context and SQL data source per process and database.

    Ephemeral: nothing is written to disk; results are kept in ``audit.validation_results``
    and Data Docs are built from there (:mod:`credit.validation.docs`).
    """
    if url not in _DATASOURCES:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # The generic SQL source on purpose: add_postgres rejects some valid URLs; GX warns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GxDatasourceWarning)
            _DATASOURCES[url] = context.data_sources.add_sql(
                name="warehouse", connection_string=url
            )
    return _DATASOURCES[url]


def release_connections() -> None:
    """Close the connections GX's data sources keep in their pools (the sources stay, and
    connect again when next used): a night's validation leaves no session on the warehouse,
    which PostgreSQL needs to copy it (``credit warehouse as-of``)."""
    for datasource in _DATASOURCES.values():
        # The source's engine, and its execution engine's own, each with a pool.
        datasource.get_engine().dispose()
        datasource.get_execution_engine().engine.dispose()


def _run_suite(
    url: str, kind: RecordKind, batch_ids: list[int], table: str
) -> ExpectationSuiteValidationResult:
    datasource = _datasource(url)
    asset = datasource.add_table_asset(
        f"batch_{batch_ids[0]}_{uuid.uuid4().hex}",
        table_name=table,
        schema_name=_MATERIALISED_SCHEMA,
    )
    try:
        gx_batch = asset.add_batch_definition_whole_table("batch").get_batch()
        result = gx_batch.validate(load_suite(kind.name), result_format=RESULT_FORMAT)
    finally:
        datasource.delete_asset(asset.name)
    errors = [(r, message) for r in result.results if (message := _raised(r.exception_info))]
    if errors:
        first, message = errors[0]
        raise ValidationError(
            f"{_describe(batch_ids)}: {len(errors)} expectations raised, first "
            f"{first.expectation_config.meta}: {message}"
        )
    return result


def _raised(exception_info: dict[str, Any]) -> str | None:
    """The message of an exception GX caught for an expectation, else None.  GX keeps one that
    the expectation raised at the top of its ``exception_info``, and one that a metric raised
    (a query that failed) under that metric's id, the result then unsuccessful with no count."""
    for info in (exception_info, *exception_info.values()):
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message"))
    return None


def _describe(batch_ids: list[int]) -> str:
    if len(batch_ids) == 1:
        return f"batch {batch_ids[0]}"
    return f"batches {batch_ids[0]}..{batch_ids[-1]} ({len(batch_ids)})"


def _failing_rows(
    conn: psycopg.Connection, result: ExpectationSuiteValidationResult, table: str
) -> tuple[dict[int, list[int]], dict[int, int]]:
    """The failing raw row ids of every expectation GX found failing (by its position in the
    suite, ascending) and the batch of each failing row.  Raises :class:`ValidationError` unless
    every such expectation fails exactly as many rows as GX counted.

    An expectation GX counted no failing row for is not evaluated again: on most batches most
    expectations pass.  Two passes: one over the rows for every failing expectation a row fails
    alone (one ``case`` each, so each row is read once, and PostgreSQL may scan in parallel),
    then the failing expectations that need the whole batch (duplicates, a join), each query as
    GX runs it.
    """
    counted = {
        position: count
        for position, entry in enumerate(result.results)
        if (count := _counted(entry.result))
    }
    row_wise = [
        (position, result.results[position].expectation_config)
        for position in counted
        if not _needs_batch(result.results[position].expectation_config)
    ]
    failing: dict[int, list[int]] = {}
    batch_of: dict[int, int] = {}
    if row_wise:
        cases = []
        for position, config in row_wise:
            cases.append(
                sql.SQL("case when {} then {} end").format(_fails(config), sql.Literal(position))
            )
        query = sql.SQL(
            "select raw_row_id, batch_id, failed from ("
            " select b.raw_row_id, b.batch_id, array_remove(array[{}]::int[], null) as failed"
            " from {} as b) as checked"
            " where cardinality(failed) > 0"
        ).format(sql.SQL(", ").join(cases), _table(table))
        for raw_row_id, batch_id, failed in conn.execute(query):
            batch_of[raw_row_id] = batch_id
            for position in failed:
                failing.setdefault(position, []).append(raw_row_id)
    for position in counted:
        config = result.results[position].expectation_config
        if not _needs_batch(config):
            continue
        query = sql.SQL(
            "select b.raw_row_id, b.batch_id from {} as b where b.raw_row_id in ({})"
        ).format(_table(table), sql.SQL(_custom_query(config, table)))
        for raw_row_id, batch_id in conn.execute(query):
            batch_of[raw_row_id] = batch_id
            failing.setdefault(position, []).append(raw_row_id)
    for position, entry in enumerate(result.results):
        found = len(failing.get(position, []))
        if counted.get(position, 0) != found:
            raise ValidationError(
                f"{entry.expectation_config.meta}: GX counted {counted.get(position, 0)} failing"
                f" rows, the SQL pass found {found}"
            )
    for raw_row_ids in failing.values():
        raw_row_ids.sort()
    return failing, batch_of


def _counted(outcome: dict[str, Any]) -> int:
    """How many rows GX found failing an expectation (a custom query's observed value)."""
    return outcome.get("observed_value", outcome.get("unexpected_count")) or 0


def _needs_batch(config: Any) -> bool:
    """A custom query that is not a condition on each row alone (duplicates, a join)."""
    return config.type == ROWS_EXPECTATION and not config.kwargs.get("unexpected_rows_condition")


def _custom_query(config: Any, table: str) -> str:
    """A custom expectation's query with ``{batch}`` read as the table itself (GX writes a
    ``select *`` over it there: the same rows)."""
    return config.kwargs["unexpected_rows_query"].format(batch=f"{_MATERIALISED_SCHEMA}.{table}")


def _table(table: str) -> sql.Composable:
    return sql.Identifier(_MATERIALISED_SCHEMA, table)


def _fails(config: Any) -> sql.Composable:
    """When a row of the batch (alias ``b``) fails one expectation it is judged on alone."""
    kwargs = config.kwargs
    if kwargs.get("unexpected_rows_condition"):  # a custom query on each row alone
        return sql.SQL("({})").format(sql.SQL(kwargs["unexpected_rows_condition"]))
    if config.type not in _FAILS:
        raise ValidationError(f"{config.meta}: no SQL condition for {config.type}")
    return sql.SQL(_FAILS[config.type]).format(
        column=sql.SQL("b.{}").format(sql.Identifier(kwargs["column"])),
        value_set=sql.Literal(list(kwargs.get("value_set") or [])),
        regex=sql.Literal(kwargs.get("regex")),
    )


def _failures(
    result: ExpectationSuiteValidationResult,
    failing: dict[int, list[int]],
    batch_of: dict[int, int],
    batch_ids: list[int],
) -> dict[int, dict[int, list[dict[str, str]]]]:
    """Per batch, every failing raw row with all its reasons, ordered by rule, column and
    expectation: GX lists its results in an order that varies with the batches validated
    together, and a row's reasons read the same whichever they were."""
    failures: dict[int, dict[int, list[dict[str, str]]]] = {i: {} for i in batch_ids}
    reasons = {
        position: {
            "rule": config.meta["rule"],
            "column": config.meta["column"],
            "expectation_type": config.type,
        }
        for position in failing
        for config in [result.results[position].expectation_config]
    }
    in_order = sorted(failing, key=lambda p: tuple(reasons[p].values()))
    for position in in_order:
        for raw_row_id in failing[position]:
            failures[batch_of[raw_row_id]].setdefault(raw_row_id, []).append(reasons[position])
    return failures


# What a column map expectation's COMPLETE result holds (with exclude_unexpected_values), all
# recomputed per batch when a group's result is split.
_MAP_RESULT_KEYS = {
    "element_count",
    "missing_count",
    "missing_percent",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "unexpected_index_list",
    "partial_unexpected_index_list",
    "unexpected_index_column_names",
    "unexpected_index_query",
}


@dataclass(frozen=True)
class _StoredResult:
    """One batch's GX result document as JSON text, with what is stored beside it."""

    suite_name: str
    success: bool
    statistics: dict[str, Any]
    text: str


def _batch_documents(
    result: ExpectationSuiteValidationResult,
    group: list[_Batch],
    failing: dict[int, list[int]],
    batch_of: dict[int, int],
    sizes: dict[int, tuple[int, dict[str, int]]],
) -> tuple[dict[int, _StoredResult], dict[str, Any]]:
    """The GX result of each batch of the group, as a run on that batch alone would give it
    (counts, percentages, success, statistics), and of the group as GX ran it, with id lists
    cut to ``STORED_IDS``."""
    document = result.to_json_dict()
    entries = document.pop("results")
    for entry in entries:  # the group's id lists are big: only which keys it has matters
        entry["result"] = dict.fromkeys(entry.get("result") or {})
    ids_by_batch: dict[int, dict[int, list[int]]] = {}
    for position, raw_row_ids in failing.items():
        for raw_row_id in raw_row_ids:
            ids_by_batch.setdefault(position, {}).setdefault(batch_of[raw_row_id], []).append(
                raw_row_id
            )
    texts = _EntryTexts(entries)
    columns = sorted({column for column in texts.missing_column if column})
    documents = {}
    for batch in group:
        rows, nulls = sizes.get(batch.batch_id, (0, dict.fromkeys(columns, 0)))
        results = [
            texts(position, ids_by_batch.get(position, {}).get(batch.batch_id, []), rows, nulls)
            for position in range(len(entries))
        ]
        # The rows this batch's result is about, not the group's table that is gone; short,
        # for GX's index shows it beside every result (the query is _batch_query's).
        spec = {
            "data_asset_name": f"raw.{batch.kind.name}",
            "batch_id": batch.batch_id,
            "dept_code": batch.dept_code,
            "logical_date": batch.logical_date.isoformat(),
        }
        head = _document_head(document, spec, len(group), [success for success, _ in results])
        documents[batch.batch_id] = _StoredResult(
            suite_name=head["suite_name"],
            success=head["success"],
            statistics=head["statistics"],
            # The head always has keys (meta, success, statistics): its text after "{" goes on.
            text='{"results": ['
            + ", ".join(text for _, text in results)
            + "], "
            + json.dumps(head, ensure_ascii=False)[1:],
        )
    rows = sum(batch_rows for batch_rows, _ in sizes.values())
    nulls = {name: sum(n[name] for _, n in sizes.values()) for name in columns}
    entries_of_run = [
        _batch_entry(entry, failing.get(position, []), rows, nulls)
        for position, entry in enumerate(entries)
    ]
    spec = {
        "data_asset_name": f"raw.{group[0].kind.name}",
        "batch_ids": [b.batch_id for b in group],
    }
    head = _document_head(
        document, spec, len(group), [entry["success"] for entry in entries_of_run]
    )
    return documents, {**head, "results": entries_of_run}


class _EntryTexts:
    """Each expectation's result on one batch (:func:`_batch_entry`) as JSON text, computed and
    serialised once per distinct outcome: most batches of a group fail nothing, and many have
    the same rows and missing values, so their results are the same text."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        # The column whose missing values each expectation counts (GX's map results), else None.
        self.missing_column = [
            entry["expectation_config"]["kwargs"]["column"]
            if "missing_count" in entry["result"]
            else None
            for entry in entries
        ]
        self.known: dict[tuple, tuple[bool, str]] = {}

    def __call__(
        self, position: int, ids: list[int], rows: int, nulls: dict[str, int]
    ) -> tuple[bool, str]:
        """(success, the entry as JSON) of expectation ``position`` on a batch."""
        column = self.missing_column[position]
        key = (position, rows, nulls[column] if column else None, len(ids), *ids[:STORED_IDS])
        if key not in self.known:
            entry = _batch_entry(self.entries[position], ids, rows, nulls)
            self.known[key] = (entry["success"], json.dumps(entry, ensure_ascii=False))
        return self.known[key]


def _document_head(
    document: dict[str, Any], batch_spec: dict[str, Any], batches: int, successes: list[bool]
) -> dict[str, Any]:
    """A GX result document without its results, with its batch spec and success recomputed
    from the results' ``successes``."""
    successful = sum(successes)
    return {
        **document,
        "meta": {**document["meta"], "batch_spec": batch_spec, "validated_with_batches": batches},
        "success": successful == len(successes),
        "statistics": {
            "evaluated_expectations": len(successes),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(successes) - successful,
            "success_percent": successful / len(successes) * 100 if successes else None,
        },
    }


def _batch_sizes(
    conn: psycopg.Connection, table: str, columns: Sequence[str]
) -> dict[int, tuple[int, dict[str, int]]]:
    """Rows and NULLs (blank included) of ``columns`` per batch, as GX saw the group: for the
    per-batch GX results and the batch checks, in one query."""
    nulls = sql.SQL("").join(
        sql.SQL(", count(*) - count({})").format(sql.Identifier(name)) for name in columns
    )
    query = sql.SQL("select batch_id, count(*){} from {} group by batch_id").format(
        nulls, _table(table)
    )
    return {
        row[0]: (row[1], dict(zip(columns, row[2:], strict=True)))
        for row in conn.execute(query).fetchall()
    }


def _batch_entry(
    entry: dict[str, Any], ids: list[int], rows: int, nulls: dict[str, int]
) -> dict[str, Any]:
    """One expectation's result on one batch, computed the way GX computes it."""
    config = entry["expectation_config"]
    group_result = entry["result"]
    unexpected = len(ids)
    if config["type"] == ROWS_EXPECTATION:
        result: dict[str, Any] = {"observed_value": unexpected}
        if ids:  # a sample of the failing rows, where GX's COMPLETE format lists them
            result["details"] = {"unexpected_rows": [{INDEX_COLUMN: i} for i in ids[:STORED_IDS]]}
        return {**entry, "result": result, "success": unexpected == 0}
    unknown = set(group_result) - _MAP_RESULT_KEYS
    if unknown:
        raise ValidationError(f"{config['meta']}: cannot split GX result keys {sorted(unknown)}")
    # GX (_format_map_output): percentages of all rows, and of the non-missing ones where the
    # expectation ignores NULLs; mostly is 1 unless the suite says otherwise.
    total = unexpected / rows * 100 if rows > 0 else None
    computed: dict[str, Any] = {
        "element_count": rows,
        "unexpected_count": unexpected if rows > 0 else None,  # GX's sum over no rows
        "unexpected_percent": total,
        "unexpected_percent_total": total,
        "unexpected_index_list": [{INDEX_COLUMN: ids[:STORED_IDS]}] if ids else [],
        "partial_unexpected_index_list": [{INDEX_COLUMN: ids[:STORED_IDS]}] if ids else [],
        "unexpected_index_column_names": [INDEX_COLUMN],
    }
    considered = rows
    if "missing_count" in group_result:
        missing = nulls[config["kwargs"]["column"]]
        considered = rows - missing
        nonmissing = unexpected / considered * 100 if rows > 0 and considered > 0 else None
        computed |= {
            "missing_count": missing,
            "missing_percent": missing / rows * 100 if rows > 0 else None,
            "unexpected_percent": nonmissing,
            "unexpected_percent_nonmissing": nonmissing,
        }
    mostly = config["kwargs"].get("mostly", 1.0)
    success = considered == 0 or (considered - unexpected) / considered >= mostly
    result = {key: computed[key] for key in group_result if key in computed}
    if ids:  # a sample of the failing rows, under the key GX's SUMMARY format gives it
        result["partial_unexpected_index_list"] = [{INDEX_COLUMN: ids[:STORED_IDS]}]
    return {**entry, "result": result, "success": success}


class _Unreconciled(Exception):
    """Batches of a group whose counts do not add up: {batch_id: message}."""

    def __init__(self, messages: dict[int, str]) -> None:
        super().__init__("; ".join(messages.values()))
        self.messages = messages


def _write(
    conn: psycopg.Connection,
    batches: list[_Batch],
    failures: dict[int, dict[int, list[dict[str, str]]]],
    checks: dict[int, list[BatchCheck]],
    documents: dict[int, _StoredResult],
) -> dict[int, int]:
    """Replace the batches' quarantine rows, checks and results; reconcile each batch; mark
    them validated.  Returns the accepted rows per batch; raises :class:`_Unreconciled`
    (the caller's transaction rolls back) when any batch does not add up."""
    batch_ids = [batch.batch_id for batch in batches]
    kind = batches[0].kind
    conn.execute("delete from quarantine.rejected_rows where batch_id = any(%s)", (batch_ids,))
    with conn.cursor().copy(
        "copy quarantine.rejected_rows (record_kind, raw_row_id, batch_id, dept_code, reasons)"
        " from stdin"
    ) as copy:
        for batch in batches:
            batch_failures = failures[batch.batch_id]
            for raw_row_id in sorted(batch_failures):
                copy.write_row(
                    (
                        kind.name,
                        raw_row_id,
                        batch.batch_id,
                        batch.dept_code,
                        json.dumps(batch_failures[raw_row_id], ensure_ascii=False),
                    )
                )
    record_group_batch_checks(conn, {batch_id: checks[batch_id] for batch_id in batch_ids})
    _store_results(conn, {batch_id: documents[batch_id] for batch_id in batch_ids})
    counts = _counts(conn, kind, batch_ids)
    mismatches = {}
    for batch in batches:
        landed, accepted, quarantined = counts.get(batch.batch_id, (0, 0, 0))
        found = len(failures[batch.batch_id])
        if not (batch.rows_read == landed == accepted + quarantined and quarantined == found):
            mismatches[batch.batch_id] = (
                f"batch {batch.batch_id} ({batch.dept_code}/{kind.name}) does not reconcile: "
                f"rows_read {batch.rows_read}, landed {landed}, accepted {accepted}, "
                f"quarantined {quarantined} (validation found {found})"
            )
    if mismatches:
        raise _Unreconciled(mismatches)
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            update audit.batches
            set rows_accepted = %s, rows_quarantined = %s, status = 'validated',
                validated_at = now(), message = null
            where batch_id = %s
            """,
            [(counts[batch_id][1], counts[batch_id][2], batch_id) for batch_id in batch_ids],
        )
    return {batch_id: counts[batch_id][1] for batch_id in batch_ids}


def _counts(
    conn: psycopg.Connection, kind: RecordKind, batch_ids: list[int]
) -> dict[int, tuple[int, int, int]]:
    """Per batch: landed, accepted (by the same anti-join downstream uses) and quarantined."""
    rows = conn.execute(
        sql.SQL(
            """
            select r.batch_id,
                   count(*),
                   count(*) filter (where q.raw_row_id is null),
                   count(*) filter (where q.raw_row_id is not null)
            from raw.{} as r
            left join quarantine.rejected_rows as q
                on q.record_kind = %s and q.raw_row_id = r.raw_row_id
            where r.batch_id = any(%s)
            group by r.batch_id
            """
        ).format(sql.Identifier(kind.name)),
        (kind.name, batch_ids),
    ).fetchall()
    counts = dict.fromkeys(batch_ids, (0, 0, 0))
    counts.update({row[0]: (row[1], row[2], row[3]) for row in rows})
    return counts


def _store_results(conn: psycopg.Connection, documents: dict[int, _StoredResult]) -> None:
    """Keep each batch's GX result for Data Docs (id lists already cut to a sample)."""
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into audit.validation_results
                (batch_id, suite_name, success, statistics, result)
            values (%s, %s, %s, %s, %s::jsonb)
            on conflict (batch_id) do update set
                suite_name = excluded.suite_name, success = excluded.success,
                statistics = excluded.statistics, result = excluded.result, validated_at = now()
            """,
            [
                (batch_id, stored.suite_name, stored.success, Jsonb(stored.statistics), stored.text)
                for batch_id, stored in documents.items()
            ],
        )


def _store_run(conn: psycopg.Connection, group: list[_Batch], document: dict[str, Any]) -> None:
    """Keep the group's GX result as GX ran it, for Data Docs (id lists cut to a sample)."""
    conn.execute(
        """
        insert into audit.validation_runs
            (record_kind, logical_date, batch_ids, suite_name, success, statistics, result)
        values (%s, %s, %s, %s, %s, %s, %s)
        """,
        (
            group[0].kind.name,
            max(batch.logical_date for batch in group),
            [batch.batch_id for batch in group],
            document["suite_name"],
            document["success"],
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
