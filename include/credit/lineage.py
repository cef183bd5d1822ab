"""Lineage (数据血缘) of a build of the marts, as the exports' manifests carry it.

Each attempt of the nightly transform records, before dbt starts, what it builds from
(``audit.transform_builds``): the batches' high-water mark (the last batch validated by then:
the marts hold it and every batch before it), the code's commit and the sha256 of every rule
seed file (``dbt/seeds/rules``, what the night loads when a file changed); when dbt ends, its
invocation id. An export names the build its marts came from (:func:`marts_lineage`).

The code's commit (:func:`code_commit`): ``CREDIT_CODE_COMMIT`` when set (an installation
without git, such as the Docker image, is given it when built:
``docker compose build --build-arg CREDIT_CODE_COMMIT=$(git rev-parse HEAD)``), else
``git rev-parse HEAD`` of the project's checkout (with ``-dirty`` when files differ from it),
else unknown.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import psycopg

from credit.paths import DBT_PROJECT_DIR, PROJECT_ROOT

COMMIT_ENV = "CREDIT_CODE_COMMIT"
RULE_SEEDS_DIR = DBT_PROJECT_DIR / "seeds" / "rules"


@dataclass(frozen=True)
class CodeCommit:
    """The commit the code runs from, and how it was found (``env``, ``git``, ``unknown``)."""

    commit: str | None
    source: str


def code_commit() -> CodeCommit:
    """The code's commit: ``CREDIT_CODE_COMMIT``, else the git checkout's, else unknown."""
    if os.environ.get(COMMIT_ENV):
        return CodeCommit(os.environ[COMMIT_ENV], "env")
    try:
        head = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return CodeCommit(None, "unknown")
    return CodeCommit(head + ("-dirty" if dirty else ""), "git")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def rule_seed_checksums() -> dict[str, str]:
    """The sha256 of every file of ``dbt/seeds/rules`` (the CSV rules and their YAML), by name."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(RULE_SEEDS_DIR.iterdir())
        if path.is_file()
    }


def batch_high_water_mark(conn: psycopg.Connection) -> int | None:
    """The last batch validated so far (``audit.batches``); ``None`` before the first."""
    return conn.execute(
        "select max(batch_id) from audit.batches where status = 'validated'"
    ).fetchone()[0]


def marts_lineage(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The lineage of the marts as they stand: the transform's last run whose last attempt
    succeeded, ``None`` when no build was recorded (marts built by dbt by hand).

    A run retried (``dbt retry``) built the marts in several invocations: every attempt's is
    listed, and the high-water mark is the highest any of them could read."""
    attempts = conn.execute(
        """
        with last_run as (
            select run_id from audit.transform_builds
            where status = 'succeeded'
            order by build_id desc limit 1
        )
        select builds.run_id, builds.as_of_date, builds.invocation_id,
            builds.batch_high_water_mark, builds.code_commit, builds.code_commit_source,
            builds.rule_seeds, batches.logical_date
        from audit.transform_builds as builds
        inner join last_run using (run_id)
        left join audit.batches as batches on builds.batch_high_water_mark = batches.batch_id
        order by builds.build_id
        """
    ).fetchall()
    if not attempts:
        return None
    last = attempts[-1]
    marks = [(row[3], row[7]) for row in attempts if row[3] is not None]
    mark = max(marks, default=(None, None))
    return {
        "transform_run_id": last[0],
        "as_of_date": last[1].isoformat(),
        "dbt_invocation_id": last[2],
        "dbt_invocation_ids": [row[2] for row in attempts if row[2]],
        "batch_high_water_mark": {
            "batch_id": mark[0],
            "logical_date": mark[1].isoformat() if mark[1] else None,
        },
        "code_commit": last[4],
        "code_commit_source": last[5],
        "rule_seeds_sha256": last[6],
    }
