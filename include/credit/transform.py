"""The transform step (数据加工): one ``dbt build`` a night, as of the run's county day.

The ``credit_transform`` DAG's ``build`` task calls :func:`build_marts`: one dbt invocation
builds the rule seeds, staging, intermediate models and marts with their tests, in dependency
order, on dbt's own threads. The reference seeds and ``dim_department_domains`` belong to the
weekly ``credit_reference`` DAG, so the night leaves them alone (``NIGHTLY_BUILD``); the tests
that read them still run.

Each node's status comes from dbt's ``run_results``: written to ``audit.dbt_node_results`` (one
row per node and invocation, for operators and analysts), summarised in the task's log (failures
with their messages, the slowest nodes) and returned as the task's XCom.

Rule seeds are loaded when their file changed since the last night that succeeded (its
manifest is kept in ``<data>/transform/last_success/<warehouse>/``; dbt compares the seeds'
checksums), and every seed on a warehouse's first night: a night does not reload a dozen
unchanged CSV files and test them again.

A failed attempt keeps its ``run_results.json`` in the run's state folder
(``<data>/transform/runs/<run_id>/``). The next attempt of the same run (Airflow's retry, or the
task cleared by hand) runs ``dbt retry`` on it: only the nodes that failed and those they skipped
run again; the state folder goes once the night succeeds.

Every attempt is a row of ``audit.transform_builds``: ``running`` from before dbt starts, then
``succeeded`` or ``failed``, with its lineage (:mod:`credit.lineage`: the last batch validated
when it began, the code's commit, the rule seeds' checksums, dbt's invocation id), which the
exports' manifests carry. A failed or unfinished attempt leaves the marts half rebuilt (the
models it built as of the new day, the rest as of the last), so the exports read the marts only
when the last attempt succeeded (:func:`last_build`).

A run with the ``full_refresh`` param, and the first night after the resident-ID hash key was
rotated (:mod:`credit.hash_key`), rebuild every incremental model from ``raw`` with dbt's
``--full-refresh``; what no rebuild could recover is kept: the warnings' register, the issued
inspection plans and the subjects' snapshot (a rotation re-keys what of them holds a hash).

The marts describe one county day, dbt's ``as_of_date`` var: the task resolves it
(:func:`run_as_of_date`) and dbt reads it from the environment variable
``CREDIT_AS_OF_DATE`` that the var defaults to (a changed var makes dbt re-parse the whole
project; a changed environment variable, only the model that reads it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from credit.dbt import FAILED_STATUSES, DbtError, failure_message, invoke_dbt
from credit.hash_key import key_in_use, mark_rebuilt, rebuild_pending
from credit.lineage import batch_high_water_mark, code_commit, rule_seed_checksums
from credit.paths import DBT_PROJECT_DIR, data_dir
from credit.roles import TRANSFORMER
from credit.warehouse import ready_url, role_url

log = logging.getLogger(__name__)

# The DAG's parameters for manual runs.
AS_OF_PARAM = "as_of_date"
FULL_REFRESH_PARAM = "full_refresh"
# How the day reaches dbt (read by the model int_lifecycle_as_of).
AS_OF_ENV = "CREDIT_AS_OF_DATE"
# What the weekly credit_reference DAG builds, and the night leaves alone.
REFERENCE_SELECTION = ("path:seeds/reference", "path:models/marts/reference")
# The night's build: everything else but the unit tests, which check the rules' SQL on rows of
# their own, not the night's data: they run in the test suite, not every night (as dbt advises),
# where they cost a sixth of a small county's build. `cautious` keeps the tests that read the
# reference tables (a record's department, a subject's division) in the night.
NIGHTLY_BUILD = (
    "build",
    "--exclude",
    *REFERENCE_SELECTION,
    "--indirect-selection",
    "cautious",
    "--exclude-resource-type",
    "unit_test",
)
# With the manifest of the last night that succeeded, the rule seeds whose file is unchanged
# since are not loaded and tested again (dbt's state comparison).
UNCHANGED_SEEDS = "resource_type:seed,state:unmodified"
SLOWEST_LOGGED = 10
# The statuses of nodes that did their job: models and seeds, tests, exposures (nothing to run).
PASSED_STATUSES = frozenset({"success", "pass", "no-op"})


def run_as_of_date(
    params: Mapping[str, Any],
    triggering_asset_events: Mapping[Any, Sequence[Any]],
    run_date: datetime,
) -> date:
    """The county day a transform run builds the marts as of (业务日期).

    A manual run's ``as_of_date`` parameter wins; a run triggered by ``credit_ingest`` takes the
    latest county day its raw asset events carry (``extra["county_day"]``); any other run takes
    its own date in China Standard Time.
    """
    # Imported here: credit.assets imports Airflow, which must not load before
    # credit.airflow_env has set its configuration.
    from credit.airflow_env import county_day
    from credit.assets import COUNTY_DAY_EXTRA

    if params.get(AS_OF_PARAM):
        return date.fromisoformat(str(params[AS_OF_PARAM]))
    days = [
        date.fromisoformat(str(event.extra[COUNTY_DAY_EXTRA]))
        for asset in triggering_asset_events
        for event in triggering_asset_events[asset]
        if COUNTY_DAY_EXTRA in event.extra
    ]
    return max(days) if days else county_day(run_date)


@dataclass(frozen=True)
class NodeResult:
    """One node of one dbt invocation, as its ``run_results.json`` reports it."""

    unique_id: str
    resource_type: str
    status: str
    seconds: float
    rows_affected: int | None
    failures: int | None
    message: str | None
    completed_at: str | None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class TransformOutcome:
    """What one attempt's dbt invocation did."""

    invocation_id: str
    command: str
    results: tuple[NodeResult, ...]

    @property
    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(result.status for result in self.results).items()))

    @property
    def failed(self) -> list[NodeResult]:
        return [result for result in self.results if result.failed]

    def summary(self) -> dict[str, Any]:
        """The task's XCom: the command, counts by status and the failed nodes."""
        return {
            "invocation_id": self.invocation_id,
            "command": self.command,
            "nodes": len(self.results),
            "statuses": self.statuses,
            "failed": [result.unique_id for result in self.failed],
        }


def state_dir(run_id: str) -> Path:
    """Where a DAG run keeps the ``run_results.json`` a retry starts from."""
    return data_dir() / "transform" / "runs" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def last_success_dir() -> Path:
    """Where the manifest of the last night that succeeded in this warehouse is kept: under the
    warehouse's identity, so that a warehouse created anew, or another one reached from the same
    data folder, never counts a rule seed as loaded that it has not."""
    return data_dir() / "transform" / "last_success" / warehouse_identity()


def warehouse_identity(url: str | None = None) -> str:
    """The warehouse database as one name: server, database and the database's oid (a database
    dropped and created again has another)."""
    with psycopg.connect(url or role_url(TRANSFORMER)) as conn:
        oid = conn.execute(
            "select oid from pg_database where datname = current_database()"
        ).fetchone()[0]
        info = conn.info
        where = f"{info.host}:{info.port}/{info.dbname}/{oid}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def nightly_build(*, full_refresh: bool = False) -> list[str]:
    """The night's dbt command: :data:`NIGHTLY_BUILD`, leaving out the rule seeds unchanged
    since the last night that succeeded (all are loaded when there is none); with
    ``full_refresh``, every incremental model rebuilt from ``raw`` (dbt's ``--full-refresh``,
    which keeps the warnings' register, the issued inspection plans and the snapshot)."""
    refresh = ["--full-refresh"] if full_refresh else []
    state = last_success_dir()
    if not (state / "manifest.json").exists():
        return [*NIGHTLY_BUILD, *refresh]
    return [*build_excluding(UNCHANGED_SEEDS), "--state", str(state), *refresh]


def build_excluding(*selectors: str) -> list[str]:
    """:data:`NIGHTLY_BUILD` with ``selectors`` added to what it leaves out (``--exclude``)."""
    position = NIGHTLY_BUILD.index("--indirect-selection")
    return [*NIGHTLY_BUILD[:position], *selectors, *NIGHTLY_BUILD[position:]]


def dbt_target_dir() -> Path:
    """dbt's target path (``DBT_TARGET_PATH``, relative to the project like dbt reads it)."""
    return DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")


def build_marts(
    as_of: date, run_id: str, attempt: int, *, full_refresh: bool = False
) -> dict[str, Any]:
    """Build the warehouse as of ``as_of`` in one dbt invocation; return the XCom summary.

    Attempt 1 runs :func:`nightly_build`, a full refresh when asked or when the hash key was
    rotated since the last one (:func:`credit.hash_key.rebuild_pending`: models built with the
    old key must not be appended to); a later attempt of the same run retries the nodes the
    previous attempt left failed or skipped (``dbt retry``, with that attempt's flags), or builds
    again when that attempt left no results (killed before dbt wrote them) or was no full
    refresh while one is due. Raises :class:`DbtError` when a node fails, after its results
    are recorded.
    """
    url = ready_url(TRANSFORMER)
    # Held from the decision to the end of the build, so that no rotation slips in between.
    with key_in_use(url):
        rotated = rebuild_pending(url)
        full_refresh = full_refresh or rotated
        transform = _run_attempt(url, as_of, run_id, attempt, full_refresh=full_refresh)
        if rotated:
            mark_rebuilt(url, run_id)
    shutil.rmtree(state_dir(run_id), ignore_errors=True)
    last_success_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(dbt_target_dir() / "manifest.json", last_success_dir() / "manifest.json")
    return {"as_of_date": as_of.isoformat(), "full_refresh": full_refresh, **transform.summary()}


def _run_attempt(
    url: str, as_of: date, run_id: str, attempt: int, *, full_refresh: bool
) -> TransformOutcome:
    """One attempt's dbt invocation, recorded in ``audit.transform_builds`` (``running``, then
    ``succeeded`` or ``failed``), its node results recorded; on failure its ``run_results.json``
    is kept for the next attempt and :class:`DbtError` raised."""
    state = state_dir(run_id)
    previous = state / "run_results.json"
    retrying = (
        attempt > 1 and previous.exists() and (not full_refresh or _was_full_refresh(previous))
    )
    args = (
        ["retry", "--state", str(state)] if retrying else nightly_build(full_refresh=full_refresh)
    )
    build_id = record_build_start(url, run_id=run_id, attempt=attempt, as_of=as_of, command=args[0])
    try:
        transform = _invoke(url, args, as_of, state, run_id=run_id, attempt=attempt)
    except BaseException:
        record_build_end(url, build_id, "failed")
        raise
    record_build_end(url, build_id, "succeeded", invocation_id=transform.invocation_id)
    return transform


def _invoke(
    url: str, args: list[str], as_of: date, state: Path, *, run_id: str, attempt: int
) -> TransformOutcome:
    """Invoke dbt and record its node results; keep them for a retry when a node failed (and
    raise :class:`DbtError`)."""
    previous = state / "run_results.json"
    outcome = invoke_dbt(args, env={AS_OF_ENV: as_of.isoformat()})
    written = dbt_target_dir() / "run_results.json"
    if not written.exists():
        raise DbtError(failure_message(args, outcome))
    transform = read_run_results(written)
    record_node_results(url, transform, run_id=run_id, attempt=attempt, as_of=as_of)
    log_outcome(transform)
    if not outcome.success:
        state.mkdir(parents=True, exist_ok=True)
        shutil.copy(written, previous)
        raise DbtError(failure_message(args, outcome))
    return transform


def _was_full_refresh(run_results: Path) -> bool:
    """Whether the invocation a ``run_results.json`` reports ran with ``--full-refresh``."""
    document = json.loads(run_results.read_text(encoding="utf-8"))
    return bool(document.get("args", {}).get("full_refresh"))


def record_build_start(url: str, *, run_id: str, attempt: int, as_of: date, command: str) -> int:
    """A build attempt, ``running``, in ``audit.transform_builds``, committed before dbt
    touches a model, with what it builds from (:mod:`credit.lineage`: the batches'
    high-water mark, the code's commit, the rule seeds' checksums); returns its id."""
    commit = code_commit()
    with psycopg.connect(url) as conn:
        return conn.execute(
            "insert into audit.transform_builds (run_id, attempt, as_of_date, command,"
            " batch_high_water_mark, code_commit, code_commit_source, rule_seeds)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s) returning build_id",
            (
                run_id,
                attempt,
                as_of,
                command,
                batch_high_water_mark(conn),
                commit.commit,
                commit.source,
                Jsonb(rule_seed_checksums()),
            ),
        ).fetchone()[0]


def record_build_end(
    url: str, build_id: int, status: str, *, invocation_id: str | None = None
) -> None:
    """The attempt's end: its status and, when dbt ran it through, dbt's invocation id."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "update audit.transform_builds set status = %s, finished_at = now(),"
            " invocation_id = %s where build_id = %s",
            (status, invocation_id, build_id),
        )


@dataclass(frozen=True)
class TransformBuild:
    """One build attempt of the transform, as ``audit.transform_builds`` records it."""

    run_id: str
    attempt: int
    as_of_date: date
    status: str


def last_build(conn: psycopg.Connection) -> TransformBuild | None:
    """The transform's latest build attempt in this warehouse; ``None`` when it recorded none
    (marts built by dbt by hand, or before the record existed)."""
    row = conn.execute(
        "select run_id, attempt, as_of_date, status from audit.transform_builds"
        " order by build_id desc limit 1"
    ).fetchone()
    return TransformBuild(*row) if row else None


def read_run_results(path: Path) -> TransformOutcome:
    """The invocation and per-node results of a ``run_results.json``."""
    document = json.loads(path.read_text(encoding="utf-8"))
    args = document.get("args", {})
    results = []
    for entry in document["results"]:
        timing = [step for step in entry.get("timing") or [] if step.get("completed_at")]
        response = entry.get("adapter_response") or {}
        results.append(
            NodeResult(
                unique_id=entry["unique_id"],
                resource_type=entry["unique_id"].split(".", 1)[0],
                status=str(entry["status"]),
                seconds=float(entry.get("execution_time") or 0.0),
                rows_affected=response.get("rows_affected"),
                failures=entry.get("failures"),
                message=entry.get("message"),
                completed_at=timing[-1]["completed_at"] if timing else None,
            )
        )
    return TransformOutcome(
        invocation_id=document["metadata"]["invocation_id"],
        command=str(args.get("which") or args.get("invocation_command") or ""),
        results=tuple(results),
    )


def record_node_results(
    url: str, outcome: TransformOutcome, *, run_id: str, attempt: int, as_of: date
) -> None:
    """Store one invocation's node results in ``audit.dbt_node_results`` (idempotent)."""
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into audit.dbt_node_results (
                invocation_id, run_id, attempt, as_of_date, command, unique_id,
                resource_type, status, execution_seconds, rows_affected, failures, message,
                completed_at
            ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (invocation_id, unique_id) do nothing
            """,
            [
                (
                    outcome.invocation_id,
                    run_id,
                    attempt,
                    as_of,
                    outcome.command,
                    result.unique_id,
                    result.resource_type,
                    result.status,
                    round(result.seconds, 3),
                    result.rows_affected,
                    result.failures,
                    result.message,
                    result.completed_at,
                )
                for result in outcome.results
            ],
        )


def log_outcome(outcome: TransformOutcome) -> None:
    """The attempt in the task's log: counts, every node that did not pass, the slowest."""
    log.info(
        "dbt %s (%s): %s nodes, %s",
        outcome.command,
        outcome.invocation_id,
        len(outcome.results),
        ", ".join(f"{status} {count}" for status, count in outcome.statuses.items()),
    )
    for result in outcome.results:
        if result.status not in PASSED_STATUSES:
            log.warning("%s %s: %s", result.status, result.unique_id, result.message or "")
    slowest = sorted(outcome.results, key=lambda result: result.seconds, reverse=True)
    for result in slowest[:SLOWEST_LOGGED]:
        log.info("%6.2f s  %s", result.seconds, result.unique_id)
