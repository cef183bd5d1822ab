"""The nightly ingestion: extract and land each department's system, validate, reconcile.

Each source is extracted and landed on its own (an Airflow task each), so one unreachable
system fails only its own task; its watermark stays put and the next night catches up with no
gap. The night's landed batches are then validated together, one Great Expectations run per
record kind whatever the number of departments that delivered it (:func:`validate_pending`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import attrgetter
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from credit import alerts, warehouse
from credit.catalogue import RecordKind, record_kind
from credit.connectors import (
    COUNTY_TZ,
    Pull,
    RejectedDelivery,
    SourceUnavailable,
    day_end,
    drop_folder,
    exchange_db,
    http_api,
)
from credit.landing import (
    Batch,
    SourceRow,
    copy_rows,
    land_batch,
    land_batches,
)
from credit.paths import data_dir
from credit.roles import LOADER
from credit.sources import Source, connection_defaults, sources
from credit.workdays import is_working_day

EXCHANGE_CONN = "credit_exchange"
API_CONN = "credit_county_api"
DROPS_CONN = "credit_drops"
VOLUME_SCALE_ENV = "CREDIT_VOLUME_SCALE"
# The rows of a look-back pull looked up together among those landed before (_not_landed).
LOOK_UP_ROWS = 10_000


@dataclass
class SourceNight:
    """What one night landed for one source: its batches, rows read and rejected deliveries,
    and where its time went: reading the source (pulling pages or tables, parsing files) and
    landing what was read (writing the warehouse, committed)."""

    dept_code: str
    logical_date: date
    batches: list[int] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)
    # Record kinds whose pull was rejected: what the system answered is not rows.
    rejected_pulls: list[str] = field(default_factory=list)
    rows_read: int = 0
    # Rows a look-back pull read again and skipped, landed by an earlier night.
    rows_read_again: int = 0
    read_seconds: float = 0.0
    land_seconds: float = 0.0


def connection_uri(conn_id: str) -> str | None:
    """An Airflow-style connection from ``AIRFLOW_CONN_<ID>``, so Airflow and plain Python agree;
    while that is unset, the development default of ``sources.yaml`` (``connection_defaults``)."""
    return os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}") or connection_defaults().get(conn_id)


def exchange_url(conn_id: str = EXCHANGE_CONN) -> str:
    """An exchange database (前置库); by default the simulated one beside the warehouse."""
    return connection_uri(conn_id) or warehouse.database_url("exchange")


def drops_root(conn_id: str = DROPS_CONN) -> Path:
    """The root of the drop folders, one sub-folder per department (an ``fs`` connection)."""
    uri = connection_uri(conn_id)
    return Path(unquote(urlsplit(uri).path)) if uri else data_dir() / "county" / "drops"


# How patiently an API is asked, from the connection's extras (its URI's query), e.g.
# ``http://user:token@host:port?timeout=30&attempts=6``.
API_CLIENT_EXTRAS = {"timeout": float, "attempts": int, "backoff": float}


def api_client(conn_id: str = API_CONN) -> http_api.ApiClient:
    """An HTTP API (token as the connection's password; timeout, attempts and backoff as its
    extras, else :class:`~credit.connectors.http_api.ApiClient`'s defaults)."""
    uri = connection_uri(conn_id)
    if not uri:
        raise SourceUnavailable(f"no connection {conn_id!r}: set AIRFLOW_CONN_{conn_id.upper()}")
    parts = urlsplit(uri)
    extras = {}
    for name, value in parse_qsl(parts.query):
        if name not in API_CLIENT_EXTRAS:
            known = ", ".join(API_CLIENT_EXTRAS)
            raise SourceUnavailable(f"connection {conn_id!r}: unknown extra {name!r} ({known})")
        extras[name] = API_CLIENT_EXTRAS[name](value)
    return http_api.ApiClient(
        f"{parts.scheme}://{parts.hostname}:{parts.port}", parts.password or "", **extras
    )


def ingest_source(dept_code: str, logical_date: date) -> SourceNight:
    """Pull everything new from one department's system up to the end of ``logical_date`` and
    land it; :func:`validate_pending` validates it."""
    source = sources().get(dept_code)
    if source is None:
        raise KeyError(f"unknown department {dept_code!r}: not in the source registry")
    night = SourceNight(dept_code, logical_date)
    # One connection for the source's kinds or files: a connection costs milliseconds, and a
    # night of a dozen kinds with nothing new paid a dozen.
    with psycopg.connect(warehouse.role_url(LOADER), autocommit=True) as conn:
        try:
            if source.shape == "drop_folder":
                _ingest_drops(conn, source, logical_date, night)
            else:
                for kind_name in source.kinds:
                    _ingest_kind(conn, source, record_kind(kind_name), logical_date, night)
        except SourceUnavailable as error:
            # Whatever landed before the failure stays landed and is validated with the night.
            _record_source_error(conn, dept_code, logical_date, error)
            raise
        check_collection(conn, source, logical_date)
    return night


def validate_pending() -> dict[str, int]:
    """Validate every landed, not yet validated batch (the night's, of every source, and any an
    interrupted run left): the batches of a record kind together, one GX run per kind (and per
    group of at most 2,000 batches), not one per source and kind, so a night costs a run per kind
    that arrived, however many departments sent it. A batch that does not reconcile is marked
    failed; a kind that fails does not stop the others, which are validated before the error
    is raised. Returns the counts.
    """
    url = warehouse.role_url(LOADER)
    with psycopg.connect(url) as conn:
        pending: dict[str, list[int]] = {}
        for batch_id, kind_name in conn.execute(
            "select batch_id, record_kind from audit.batches"
            " where status = 'landed' order by batch_id"
        ):
            pending.setdefault(kind_name, []).append(batch_id)
    totals = {"batches": 0, "rows_read": 0, "rows_accepted": 0, "rows_quarantined": 0}
    if not pending:  # a night with nothing new does not pay for importing GX
        return totals
    from credit.validation import (
        ReconciliationError,
        ValidationError,
        release_connections,
        validate_batches,
    )

    failures: list[ReconciliationError | ValidationError] = []
    try:
        for batch_ids in pending.values():
            try:
                outcomes = validate_batches(url, batch_ids)
            except (ReconciliationError, ValidationError) as error:
                failures.append(error)
                continue
            for outcome in outcomes:
                totals["batches"] += 1
                totals["rows_read"] += outcome.rows_read
                totals["rows_accepted"] += outcome.accepted
                totals["rows_quarantined"] += outcome.quarantined
    finally:
        release_connections()
    if failures:
        raise type(failures[0])("; ".join(map(str, failures)))
    return totals


def check_collection(conn: psycopg.Connection, source: Source, logical_date: date) -> bool:
    """Volume check (应归尽归) of one source and night, kept in ``audit.collection_checks``.

    The source's ``expected_daily_rows`` holds on working days; on rest days only the upper
    bound. Ranges are written for the demo county: ``CREDIT_VOLUME_SCALE`` scales them.
    A miss is a warning row for people, the collection-gap warning and an alert to the operator
    (:func:`credit.alerts.source_volume`), never a failed night.
    """
    if source.expected_daily_rows is None:
        return True
    scale = float(os.environ.get(VOLUME_SCALE_ENV, "1"))
    low, high = source.expected_daily_rows
    low = math.floor(low * scale) if is_working_day(logical_date) else 0
    high = math.ceil(high * scale)
    with conn.transaction():
        received = conn.execute(
            "select coalesce(sum(rows_read), 0) from audit.batches"
            " where dept_code = %s and logical_date = %s",
            (source.dept_code, logical_date),
        ).fetchone()[0]
        passed = low <= received <= high
        conn.execute(
            """
            insert into audit.collection_checks
                (logical_date, dept_code, rows_received, expected_low, expected_high, status)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (logical_date, dept_code) do update set
                rows_received = excluded.rows_received, expected_low = excluded.expected_low,
                expected_high = excluded.expected_high, status = excluded.status,
                checked_at = now()
            """,
            (
                logical_date,
                source.dept_code,
                received,
                low,
                high,
                "passed" if passed else "warning",
            ),
        )
    if not passed:
        alerts.source_volume(source.dept_code, logical_date, received, low, high)
    return passed


def reconcile_night(logical_date: date) -> dict[str, int]:
    """Check every batch of a night: validated, and rows read = accepted + quarantined.

    Also quarantines deliveries from folders no registered department owns.
    """
    url = warehouse.role_url(LOADER)
    reject_unknown_folders(url, logical_date)
    with psycopg.connect(url) as conn:
        batches = conn.execute(
            "select batch_id, status, rows_read, rows_accepted, rows_quarantined"
            " from audit.batches where logical_date = %s",
            (logical_date,),
        ).fetchall()
    broken = [
        f"batch {batch_id}: {status}, read {read}, accepted {accepted}, quarantined {quarantined}"
        for batch_id, status, read, accepted, quarantined in batches
        if status != "validated" or read != (accepted or 0) + (quarantined or 0)
    ]
    if broken:
        from credit.validation import ReconciliationError

        raise ReconciliationError("; ".join(broken))
    analyze_night(url, logical_date)
    return {
        "batches": len(batches),
        "rows_read": sum(b[2] for b in batches),
        "rows_accepted": sum(b[3] for b in batches),
        "rows_quarantined": sum(b[4] for b in batches),
    }


# A table is analysed at the night's end when the rows changed since its last analysis reach
# this share of what the planner believes it holds (autovacuum's default rule, and dbt's
# ``analyze_table()``): an ordinary night's few thousand rows leave a five-year table's
# statistics as they were, and analysing it anyway read a sample of its pages (2-5 s a night).
ANALYZE_SHARE = 0.1


def analyze_night(url: str, logical_date: date) -> None:
    """Refresh the planner's statistics of what the night wrote (the raw tables of its kinds,
    the batches, the quarantine) where it changed them enough to matter (:data:`ANALYZE_SHARE`),
    so the transform is planned on their real size: autovacuum may be off or behind, and an
    unanalysed table is planned as a few rows.  Summarises the page ranges those raw tables
    filled in their BRIN index likewise (autovacuum's summaries are requests it may drop), so
    that a later night reads past them by their summary instead of scanning them."""
    with psycopg.connect(url, autocommit=True) as conn:
        kinds = [
            row[0]
            for row in conn.execute(
                "select distinct record_kind from audit.batches where logical_date = %s",
                (logical_date,),
            )
        ]
        written = [f"raw.{kind}" for kind in sorted(kinds)]
        for table in written:
            conn.execute(
                "select brin_summarize_new_values(%s::regclass)", (f"{table}_lineage_idx",)
            )
        stale = conn.execute(
            "select n.nspname, c.relname from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " left join pg_stat_user_tables as s on s.relid = c.oid"
            " where c.oid = any(%s::regclass[])"
            " and (c.reltuples < 0 or coalesce(s.n_mod_since_analyze, 0) >= %s * c.reltuples)"
            " order by 1, 2",
            ([*written, "audit.batches", "quarantine.rejected_rows"], ANALYZE_SHARE),
        ).fetchall()
        if stale:
            tables = sql.SQL(", ").join(sql.Identifier(*name) for name in stale)
            conn.execute(sql.SQL("analyze {}").format(tables))


def reject_unknown_folders(url: str, logical_date: date) -> list[str]:
    """Quarantine files dropped in a folder that no registered department owns."""
    root = drops_root()
    if not root.is_dir():
        return []
    rejected = []
    for folder in sorted(p for p in root.iterdir() if p.name not in sources()):
        files = sorted(folder.iterdir()) if folder.is_dir() else [folder]
        dept_code = drop_folder.stored_name(folder.name)
        with psycopg.connect(url, autocommit=True) as conn:
            seen = _Deliveries.load(conn, dept_code)
            for path in files:
                night = SourceNight(dept_code, logical_date)
                _reject_file(
                    conn,
                    dept_code,
                    path,
                    logical_date,
                    f"unknown department {dept_code!r}: not in the source registry",
                    seen,
                    night,
                )
                rejected.extend(night.rejected_files)
    return rejected


def _record_source_error(
    conn: psycopg.Connection,
    dept_code: str,
    logical_date: date,
    error: Exception,
    kind: RecordKind | None = None,
) -> None:
    source = sources()[dept_code]
    conn.execute(
        "insert into audit.source_errors"
        " (dept_code, record_kind, logical_date, source_ref, error) values (%s, %s, %s, %s, %s)",
        (
            dept_code,
            kind.name if kind else None,
            logical_date,
            _pull_ref(source, kind) if kind else source.shape,
            str(error),
        ),
    )


def _pull_ref(source: Source, kind: RecordKind) -> str:
    """The ``source_ref`` of a kind's pull: its batch's, or its error's."""
    return f"{source.shape}:{source.dept_code}.{kind.name}"


def _ingest_kind(
    conn: psycopg.Connection,
    source: Source,
    kind: RecordKind,
    logical_date: date,
    night: SourceNight,
) -> None:
    """:func:`_ingest_incremental`; a pull whose system answered with something that is not
    rows (a page that is not JSON, a table without ``updated_at``) is rolled back with its
    watermark, its reason kept in ``audit.source_errors`` and an incident (``pull_rejected``),
    and the source's other kinds go on. The next night pulls the kind again from where it
    stood."""
    try:
        _ingest_incremental(conn, source, kind, logical_date, night)
    except RejectedDelivery as error:
        _record_source_error(conn, source.dept_code, logical_date, error, kind)
        night.rejected_pulls.append(kind.name)
        alerts.pull_rejected(source.dept_code, kind, logical_date, str(error))


def _puller(source: Source, kind: RecordKind) -> Callable[[datetime | None, datetime], Pull]:
    field_map = source.field_map_of(kind.name)
    if source.exchange is not None:
        url, exchange = exchange_url(source.conn_id), source.exchange
        return lambda since, until: exchange_db.pull_table(
            url, exchange, kind, since, until, field_map
        )
    if source.api is None:
        raise ValueError(f"{source.dept_code}: a {source.shape} source without its protocol")
    client, api = api_client(source.conn_id), source.api
    return lambda since, until: http_api.pull_api(client, api, kind, since, until, field_map)


def _ingest_incremental(
    conn: psycopg.Connection,
    source: Source,
    kind: RecordKind,
    logical_date: date,
    night: SourceNight,
) -> None:
    """Land what is new of one kind as one batch, its rows copied as they are pulled, and move
    the watermark in the same transaction. The pull starts the source's look-back before the
    watermark, so a row committed late is read; what it reads again is skipped."""
    pull = _puller(source, kind)
    began = time.perf_counter()
    read_again = night.rows_read_again
    with contextlib.ExitStack() as stack, conn.transaction():
        row = conn.execute(
            "select watermark from audit.watermarks"
            " where dept_code = %s and record_kind = %s for update",
            (source.dept_code, kind.name),
        ).fetchone()
        since = row[0] - source.late_rows_look_back if row else None
        pulled = pull(since, day_end(logical_date))
        rows = iter(pulled)
        if since is not None:
            landed = stack.enter_context(_LandedRows(conn, source, kind, since))
            rows = _not_landed(rows, landed, kind, night)
        first = next(rows, None)
        if first is not None:
            batch_id = land_batch(
                conn,
                Batch(
                    dept_code=source.dept_code,
                    kind=kind,
                    shape=source.shape,
                    logical_date=logical_date,
                    source_ref=_pull_ref(source, kind),
                    rows=itertools.chain([first], rows),
                    received_at=datetime.now(UTC),
                ),
            )
            if pulled.watermark is not None:
                # Never back: a night whose rows were all late leaves it where it was.
                conn.execute(
                    """
                    insert into audit.watermarks (dept_code, record_kind, watermark)
                    values (%s, %s, %s)
                    on conflict (dept_code, record_kind)
                    do update set
                        watermark = greatest(audit.watermarks.watermark, excluded.watermark),
                        updated_at = now()
                    """,
                    (source.dept_code, kind.name, pulled.watermark),
                )
            night.batches.append(batch_id)
            night.rows_read += pulled.rows_read - (night.rows_read_again - read_again)
    night.read_seconds += pulled.seconds
    night.land_seconds += time.perf_counter() - began - pulled.seconds


class _LandedRows:
    """Which of a look-back pull's rows the source's nights of ``kind`` landed from the county
    day of ``since`` on: (record_id, updated_at as sent) of those with the record ids asked for.
    Every landed row changed after ``since`` is among them, since a night reads only rows
    changed before its day ends.

    The pulled rows are looked up as they stream into the batch's COPY: the first rows before
    the COPY starts, on the night's connection; the later ones while that connection is busy
    copying (asked there, a query waits for the COPY, which waits for the rows), so on a
    connection of their own, opened then: only a batch of more than ``LOOK_UP_ROWS`` rows needs
    it. The rows looked up were committed by earlier nights, which that connection sees."""

    def __init__(
        self, conn: psycopg.Connection, source: Source, kind: RecordKind, since: datetime
    ) -> None:
        self.conn, self.side = conn, None
        self.query = sql.SQL(
            "select source_ref, updated_at from {} where batch_id = any(array("
            "select batch_id from audit.batches"
            " where dept_code = %s and record_kind = %s and logical_date >= %s))"
            " and source_ref = any(%s)"
        ).format(sql.Identifier("raw", kind.name))
        self.params = (source.dept_code, kind.name, since.astimezone(COUNTY_TZ).date())

    def __enter__(self) -> _LandedRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.side is not None:
            self.side.close()

    def __call__(self, refs: list[str]) -> frozenset[tuple[str, str | None]]:
        conn = self.conn
        if conn.info.transaction_status == TransactionStatus.ACTIVE:
            if self.side is None:
                self.side = psycopg.connect(warehouse.role_url(LOADER), autocommit=True)
            conn = self.side
        return frozenset(conn.execute(self.query, (*self.params, refs)).fetchall())


def _not_landed(
    rows: Iterator[SourceRow],
    landed: Callable[[list[str]], frozenset[tuple[str, str | None]]],
    kind: RecordKind,
    night: SourceNight,
) -> Iterator[SourceRow]:
    """The rows of a look-back pull not landed before (counted in ``rows_read_again``), looked up
    ``LOOK_UP_ROWS`` at a time by their record ids: only the rows pulled again come back from the
    warehouse, not every row the nights since the look-back's first day landed (the night after
    a catch-up, the catch-up's whole batch), and nothing on a night the pull brings none."""
    updated_at = kind.column_names.index("updated_at")
    while chunk := list(itertools.islice(rows, LOOK_UP_ROWS)):
        seen = landed([row.source_ref for row in chunk])
        for row in chunk:
            if (row.source_ref, row.values[updated_at]) in seen:
                night.rows_read_again += 1
                continue
            yield row


@dataclass
class _Deliveries:
    """A folder's files delivered or rejected before: by content (name, sha256), and by what the
    file system says of them (name, size, modification time), so that a file unchanged since is
    skipped without being read; a file seen only by content (an older row) gets its size and
    time recorded when it is met again."""

    dept_code: str
    by_content: set[tuple[str, str]] = field(default_factory=set)
    by_stat: set[tuple[str, int, int]] = field(default_factory=set)

    @classmethod
    def load(cls, conn: psycopg.Connection, dept_code: str) -> _Deliveries:
        seen = cls(dept_code)
        for name, sha, size, modified_ns in conn.execute(
            "select file_name, sha256, file_size, modified_ns from audit.delivered_files"
            " where dept_code = %(dept)s union all"
            " select file_name, sha256, file_size, modified_ns from quarantine.rejected_files"
            " where dept_code = %(dept)s",
            {"dept": dept_code},
        ):
            seen.by_content.add((name, sha))
            if size is not None:
                seen.by_stat.add((name, size, modified_ns))
        return seen

    def unchanged(self, name: str, stat: os.stat_result) -> bool:
        """Whether the file named ``name`` is as it was when delivered or rejected."""
        return (drop_folder.stored_name(name), stat.st_size, stat.st_mtime_ns) in self.by_stat

    def known(
        self, conn: psycopg.Connection, path: Path, sha: str, stat: os.stat_result | None
    ) -> bool:
        """Whether these bytes came before; if so, remember the file's size and time too."""
        name = drop_folder.stored_name(path.name)
        if (name, sha) not in self.by_content:
            return False
        if stat is None:
            return True
        with conn.transaction():
            for table in ("audit.delivered_files", "quarantine.rejected_files"):
                conn.execute(
                    sql.SQL(
                        "update {} set file_size = %s, modified_ns = %s"
                        " where dept_code = %s and file_name = %s and sha256 = %s"
                    ).format(sql.SQL(table)),
                    (stat.st_size, stat.st_mtime_ns, self.dept_code, name, sha),
                )
        self.remember(path, sha, stat)
        return True

    def remember(self, path: Path, sha: str, stat: os.stat_result | None) -> None:
        name = drop_folder.stored_name(path.name)
        self.by_content.add((name, sha))
        if stat is not None:  # a directory or a link has no size or time of its own here
            self.by_stat.add((name, stat.st_size, stat.st_mtime_ns))


# A folder's files are landed in groups, a transaction each: a catch-up's backlog is thousands of
# small files, and landing them one transaction each cost five round trips and a commit a file
# (a third of the folder's time). A group is landed whole or not at all. Each group costs a COPY
# per record kind: Jiangyin's five years of drops (87,655 files) land in 4.1 s in groups of
# 1,000 files, 3.6 s in groups of 10,000; the rows bound what a group holds in memory.
GROUP_FILES = 10_000
GROUP_ROWS = 100_000


@dataclass(frozen=True)
class _Delivery:
    """A file read and due to land."""

    path: Path
    sha: str
    stat: os.stat_result
    batch: Batch
    rows_read: int


def _ingest_drops(
    conn: psycopg.Connection, source: Source, logical_date: date, night: SourceNight
) -> None:
    folder = drops_root(source.conn_id) / source.dept_code
    if not folder.is_dir():
        return
    seen = _Deliveries.load(conn, source.dept_code)
    group: list[_Delivery] = []
    rows = 0
    # Every file ever delivered stays in the folder: listed with the kind of each entry the
    # listing gives, a known file costs one stat and a look-up; its name is parsed and its bytes
    # read only when it is new or changed.
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=attrgetter("name"))
    for entry in entries:
        began = time.perf_counter()
        delivery = _read_file(conn, source, entry, logical_date, seen, night)
        night.read_seconds += time.perf_counter() - began
        if delivery is None:
            continue
        group.append(delivery)
        rows += delivery.rows_read
        if len(group) >= GROUP_FILES or rows >= GROUP_ROWS:
            _land_deliveries(conn, group, seen, night)
            group, rows = [], 0
    _land_deliveries(conn, group, seen, night)


def _read_file(
    conn: psycopg.Connection,
    source: Source,
    entry: os.DirEntry,
    logical_date: date,
    seen: _Deliveries,
    night: SourceNight,
) -> _Delivery | None:
    """A new file of the folder, read; ``None`` for one delivered before, not yet due, or
    rejected (recorded with its reason)."""
    # A regular file (not a link: no stat to know it) unchanged since it was delivered or
    # rejected is skipped before anything else.
    if entry.is_file(follow_symlinks=False) and seen.unchanged(
        entry.name, entry.stat(follow_symlinks=False)
    ):
        return None
    path = Path(entry.path)
    try:
        drop = drop_folder.identify(path)  # a regular file from here on
        stat = entry.stat()  # the listing's, taken above
        if drop.day > logical_date:
            return None
        sha = drop_folder.sha256_of(path)
        if seen.known(conn, path, sha, stat):
            return None
        if drop.kind.name not in source.kinds:
            raise RejectedDelivery(f"{source.dept_code} does not deliver {drop.kind.name}")
        rows: list[SourceRow] = drop_folder.parse(drop, source.field_map_of(drop.kind.name)).rows
    except RejectedDelivery as error:
        _reject_file(conn, source.dept_code, path, logical_date, str(error), seen, night)
        return None
    batch = Batch(
        dept_code=source.dept_code,
        kind=drop.kind,
        shape=source.shape,
        logical_date=logical_date,
        source_ref=f"{source.dept_code}/{drop.name}",
        rows=rows,
        received_at=datetime.now(UTC),
        source_sha256=sha,
    )
    return _Delivery(path, sha, stat, batch, len(rows))


def _land_deliveries(
    conn: psycopg.Connection, group: list[_Delivery], seen: _Deliveries, night: SourceNight
) -> None:
    """Land a group of files in one transaction, each its own batch, and record them delivered."""
    if not group:
        return
    began = time.perf_counter()
    with conn.transaction():
        batch_ids = land_batches(conn, [delivery.batch for delivery in group])
        copy_rows(
            conn,
            sql.Identifier("audit", "delivered_files"),
            ("dept_code", "file_name", "sha256", "batch_id", "file_size", "modified_ns"),
            (
                (
                    d.batch.dept_code,
                    d.path.name,
                    d.sha,
                    batch_id,
                    d.stat.st_size,
                    d.stat.st_mtime_ns,
                )
                for batch_id, d in zip(batch_ids, group, strict=True)
            ),
        )
    night.land_seconds += time.perf_counter() - began
    for batch_id, delivery in zip(batch_ids, group, strict=True):
        seen.remember(delivery.path, delivery.sha, delivery.stat)
        night.batches.append(batch_id)
        night.rows_read += delivery.rows_read


def _reject_file(
    conn: psycopg.Connection,
    dept_code: str,
    path: Path,
    logical_date: date,
    reason: str,
    seen: _Deliveries,
    night: SourceNight,
) -> None:
    regular = path.is_file() and not path.is_symlink()
    stat = path.stat() if regular else None
    if stat is not None and seen.unchanged(path.name, stat):
        return
    sha = drop_folder.sha256_of(path) if regular else "-"
    if seen.known(conn, path, sha, stat):
        return
    name = drop_folder.stored_name(path.name)
    with conn.transaction():
        conn.execute(
            "insert into quarantine.rejected_files (dept_code, file_name, sha256, logical_date,"
            " reason, file_size, modified_ns) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict do nothing",
            (
                dept_code,
                name,
                sha,
                logical_date,
                reason,
                stat.st_size if stat else None,
                stat.st_mtime_ns if stat else None,
            ),
        )
    seen.remember(path, sha, stat)
    night.rejected_files.append(name)


__all__ = [
    "SourceNight",
    "SourceUnavailable",
    "ingest_source",
    "reconcile_night",
    "validate_pending",
]
