"""GX Data Docs (数据文档) of the validation results, as static HTML under ``.data/gx/data_docs``.

Validation runs in ephemeral GX contexts, often in separate Airflow task processes, so the
results are kept in ``audit.validation_results``; building the docs loads them into a fresh
ephemeral context with a file-based site and renders once, typically at the end of a night.
"""

from __future__ import annotations

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


def data_docs_dir() -> Path:
    return data_dir() / "gx" / "data_docs"


def build_data_docs(
    conn_or_url: psycopg.Connection | str | None = None,
    batch_ids: Iterable[int] | None = None,
    site_dir: Path | None = None,
) -> Path:
    """Render the suites and stored results into the file site; returns its ``index.html``.

    Renders the results of ``batch_ids``, or else of the latest logical date validated, so a
    night's build costs that night's batches, not the history. The site then holds those pages
    only (GX's index drops pages it has no result for); every result stays in
    ``audit.validation_results`` to be rendered again. Results already rendered into the site as
    they are (the same batches, none validated since) are not rendered again. ``conn_or_url``
    defaults to the warehouse.
    """
    site_dir = site_dir or data_docs_dir()
    site_dir.mkdir(parents=True, exist_ok=True)
    with _connected(conn_or_url) as conn:
        return _build(conn, _results(conn, batch_ids), site_dir)


def _build(conn: psycopg.Connection, results: list[tuple], site_dir: Path) -> Path:
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
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.store import HtmlSiteStore
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        SiteSectionIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    from credit.validation.suites import load_suite

    backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)}
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": backend,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    suites = [context.suites.add(load_suite(kind)) for kind in record_kinds()]
    # The result pages are rendered here, with GX's own renderer and page view, rather than by
    # the site builder, which would serialise each result into its store and read it back
    # (40% of the time) and have Jinja stat every template file for every block (20%).
    pages = HtmlSiteStore(store_backend=backend)
    renderer = ValidationResultsPageRenderer()
    view = DefaultJinjaPageView()
    view.env.auto_reload = False
    schema = ExpectationSuiteValidationResultSchema()
    for batch_id, logical_date, validated_at, document in _documents(conn, results):
        result = schema.load(document)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(result.suite_name),
            run_id=RunIdentifier(run_name=f"{logical_date.isoformat()}", run_time=validated_at),
            batch_identifier=f"batch_{batch_id}",
        )
        page = view.render(renderer.render(result), data_context_id=None, show_how_to_buttons=True)
        pages.set(
            SiteSectionIdentifier(site_section_name="validations", resource_identifier=key), page
        )
        # The index reads of each result only its outcome and batch: it gets just those.
        context.validation_results_store.set(
            key,
            ExpectationSuiteValidationResult(
                success=result.success,
                results=[],
                suite_name=result.suite_name,
                statistics=result.statistics,
                meta=result.meta,
            ),
        )
    # Suite pages and the index; the index lists the pages of the results above.
    context.build_data_docs(
        site_names=[SITE_NAME],
        resource_identifiers=[ExpectationSuiteIdentifier(suite.name) for suite in suites],
    )
    rendered.write_text(stamp, encoding="utf-8")
    return index


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
