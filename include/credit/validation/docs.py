"""GX Data Docs (数据文档) of the validation results, as static HTML under ``.data/gx/data_docs``.

Validation runs in ephemeral GX contexts, often in separate Airflow task processes, so the
results are kept in ``audit.validation_results``; building the docs loads them into a fresh
ephemeral context with a file-based site and renders once, typically at the end of a night.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from credit.catalogue import record_kinds
from credit.paths import data_dir
from credit.warehouse import warehouse_url

SITE_NAME = "credit_validation"
# Which results (batch and validation time) the site last rendered.
RENDERED_MARKER = ".rendered-results"
# Stored results read from the warehouse at a time while rendering.
DOCUMENTS_PER_READ = 100
# Pages a worker process renders per task; a night with fewer is rendered in this process.
PAGES_PER_WORKER_TASK = 200


def data_docs_dir() -> Path:
    return data_dir() / "gx" / "data_docs"


def build_data_docs(
    conn_or_url: psycopg.Connection | str | None = None,
    batch_ids: Iterable[int] | None = None,
    site_dir: Path | None = None,
    workers: int | None = None,
) -> Path:
    """Render the suites and stored results into the file site; returns its ``index.html``.

    Renders the results of ``batch_ids``, or else of the latest logical date validated, so a
    night's build costs that night's batches, not the history. The site then holds those pages
    only (GX's index drops pages it has no result for); every result stays in
    ``audit.validation_results`` to be rendered again. Results already rendered into the site as
    they are (the same batches, none validated since) are not rendered again. ``conn_or_url``
    defaults to the warehouse. More than ``PAGES_PER_WORKER_TASK`` pages are rendered by
    ``workers`` processes (default: one per CPU) reading the results over connections of their
    own, unless ``conn_or_url`` is a connection inside a transaction.
    """
    site_dir = site_dir or data_docs_dir()
    site_dir.mkdir(parents=True, exist_ok=True)
    with _connected(conn_or_url) as conn:
        return _build(conn, _results(conn, batch_ids), site_dir, workers or os.cpu_count() or 1)


def _build(conn: psycopg.Connection, results: list[tuple], site_dir: Path, workers: int) -> Path:
    """Render ``results`` (batch, logical date, validated at) unless the site holds them."""
    rendered = site_dir / RENDERED_MARKER
    stamp = " ".join(
        f"{batch_id}@{validated_at.isoformat()}" for batch_id, _, validated_at in results
    )
    index = site_dir / "index.html"
    if index.exists() and rendered.exists() and rendered.read_text(encoding="utf-8") == stamp:
        return index  # without importing GX, seconds of a night with nothing new
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from credit.validation.suites import load_suite

    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": _site_backend(site_dir),
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    suites = [context.suites.add(load_suite(kind)) for kind in record_kinds()]
    committed = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if workers > 1 and len(results) > PAGES_PER_WORKER_TASK and committed:
        summaries = _render_in_workers(_url(conn), results, site_dir, workers)
    else:
        summaries = _PageWriter(site_dir).write_all(_documents(conn, results))
    for batch_id, logical_date, validated_at, summary in summaries:
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(summary["suite_name"]),
            run_id=RunIdentifier(run_name=f"{logical_date.isoformat()}", run_time=validated_at),
            batch_identifier=f"batch_{batch_id}",
        )
        # The index reads of each result only its outcome and batch: it gets just those.
        context.validation_results_store.set(
            key, ExpectationSuiteValidationResult(results=[], **summary)
        )
    # Suite pages and the index; the index lists the pages written above.
    context.build_data_docs(
        site_names=[SITE_NAME],
        resource_identifiers=[ExpectationSuiteIdentifier(suite.name) for suite in suites],
    )
    rendered.write_text(stamp, encoding="utf-8")
    return index


def _site_backend(site_dir: Path) -> dict[str, str]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)}


class _PageWriter:
    """Writes result pages into the site with GX's own renderer and page view.

    Not through GX's site builder, which would serialise each result into its store and read it
    back (40% of the time) and have Jinja stat every template file for every block (20%).
    """

    def __init__(self, site_dir: Path) -> None:
        from great_expectations.core.expectation_validation_result import (
            ExpectationSuiteValidationResultSchema,
        )
        from great_expectations.data_context.store import HtmlSiteStore
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        self.pages = HtmlSiteStore(store_backend=_site_backend(site_dir))
        self.renderer = ValidationResultsPageRenderer()
        self.view = DefaultJinjaPageView()
        self.view.env.auto_reload = False
        self.schema = ExpectationSuiteValidationResultSchema()

    def write_all(self, documents: Iterable[tuple]) -> list[tuple]:
        """(batch, logical date, validated at, summary) of each page written: the summary is
        what the index needs of the result (suite, success, statistics, meta)."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            SiteSectionIdentifier,
            ValidationResultIdentifier,
        )

        written = []
        for batch_id, logical_date, validated_at, document in documents:
            result = self.schema.load(document)
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(result.suite_name),
                run_id=RunIdentifier(run_name=f"{logical_date.isoformat()}", run_time=validated_at),
                batch_identifier=f"batch_{batch_id}",
            )
            page = self.view.render(
                self.renderer.render(result), data_context_id=None, show_how_to_buttons=True
            )
            self.pages.set(
                SiteSectionIdentifier(site_section_name="validations", resource_identifier=key),
                page,
            )
            summary = {
                "suite_name": result.suite_name,
                "success": result.success,
                "statistics": result.statistics,
                "meta": result.meta,
            }
            written.append((batch_id, logical_date, validated_at, summary))
        return written


def _render_in_workers(url: str, results: list[tuple], site_dir: Path, workers: int) -> list[tuple]:
    """The pages shared between this process and ``workers - 1`` others, each a process of its
    own (``python -m credit.validation.docs``: a fresh interpreter, not a fork of this one, which
    may hold threads and sockets, e.g. an Airflow task's) that reads its share's documents
    itself and answers with their summaries."""
    share = -(-len(results) // workers)
    parts = [results[start : start + share] for start in range(0, len(results), share)]
    others = []
    for part in parts[1:]:
        worker = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        request = {"url": url, "site_dir": str(site_dir), "batch_ids": [row[0] for row in part]}
        worker.stdin.write(json.dumps(request))
        worker.stdin.close()
        others.append((worker, part))
    written = _render_slice(url, parts[0], site_dir)
    for worker, part in others:
        answer = worker.stdout.read()
        if worker.wait() != 0:
            raise RuntimeError(f"a Data Docs worker failed (exit {worker.returncode})")
        summaries = {int(batch_id): summary for batch_id, summary in json.loads(answer)}
        written.extend((*row, summaries[row[0]]) for row in part)
    return written


def _render_slice(url: str, results: list[tuple], site_dir: Path) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return _PageWriter(site_dir).write_all(_documents(conn, results))


def _worker() -> None:
    """A worker of :func:`_render_in_workers`: a request on stdin, summaries on stdout."""
    request = json.loads(sys.stdin.read())
    with psycopg.connect(request["url"], autocommit=True) as conn:
        results = _results(conn, request["batch_ids"])
    written = _render_slice(request["url"], results, Path(request["site_dir"]))
    json.dump([(batch_id, summary) for batch_id, _, _, summary in written], sys.stdout)


def _url(conn: psycopg.Connection) -> str:
    """A connection string to ``conn``'s database, its password included."""
    return psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password or None)


def _results(conn: psycopg.Connection, batch_ids: Iterable[int] | None) -> list[tuple]:
    """(batch, logical date, validated at) of the results to render, in batch order."""
    query = """
        select v.batch_id, b.logical_date, v.validated_at
        from audit.validation_results v join audit.batches b using (batch_id)
        where case when %(latest)s
                   then b.logical_date = (select max(b2.logical_date)
                                          from audit.validation_results v2
                                          join audit.batches b2 using (batch_id))
                   else v.batch_id = any(%(ids)s) end
        order by v.batch_id
    """
    parameters = {"latest": batch_ids is None, "ids": list(batch_ids or [])}
    return conn.execute(query, parameters).fetchall()


def _documents(conn: psycopg.Connection, results: list[tuple]) -> Iterator[tuple]:
    """The results with their GX documents, read a slice at a time: a backlog night's thousands
    of documents are never held in memory together."""
    for start in range(0, len(results), DOCUMENTS_PER_READ):
        chunk = results[start : start + DOCUMENTS_PER_READ]
        documents = dict(
            conn.execute(
                "select batch_id, result from audit.validation_results where batch_id = any(%s)",
                ([batch_id for batch_id, _, _ in chunk],),
            ).fetchall()
        )
        for batch_id, logical_date, validated_at in chunk:
            yield batch_id, logical_date, validated_at, documents[batch_id]


@contextmanager
def _connected(conn_or_url: psycopg.Connection | str | None) -> Iterator[psycopg.Connection]:
    if isinstance(conn_or_url, psycopg.Connection):
        yield conn_or_url
    else:
        with psycopg.connect(conn_or_url or warehouse_url(), autocommit=True) as conn:
            yield conn


if __name__ == "__main__":
    _worker()
