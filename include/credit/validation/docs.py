"""GX Data Docs (数据文档) of the validation runs, as static HTML under ``.data/gx/data_docs``.

Validation runs in ephemeral GX contexts, often in separate Airflow task processes, so each GX
run (the batches of a record kind validated together) is kept in ``audit.validation_runs``;
building the docs renders the stored runs into a file site, typically at the end of a night.
One page per run, not per batch: a backlog night of Jiangyin's size lands tens of thousands of
drop-folder files, each a batch, in a few hundred runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from credit.catalogue import record_kinds
from credit.paths import data_dir
from credit.roles import LOADER
from credit.warehouse import role_url

SITE_NAME = "credit_validation"
# Which runs (run and validation time) the site last rendered.
RENDERED_MARKER = ".rendered-results"
# Stored runs read from the warehouse at a time while rendering.
DOCUMENTS_PER_READ = 50


def data_docs_dir() -> Path:
    return data_dir() / "gx" / "data_docs"


def build_data_docs(
    conn_or_url: psycopg.Connection | str | None = None,
    batch_ids: Iterable[int] | None = None,
    site_dir: Path | None = None,
) -> Path:
    """Render the suites and stored runs into the file site; returns its ``index.html``.

    Renders the runs that last validated ``batch_ids``, or else the runs of the latest logical
    date validated, so a night's build costs that night's runs, not the history. The site then
    holds those pages only (GX's index drops pages it has no result for); every run stays in
    ``audit.validation_runs`` to be rendered again. Runs already rendered into the site (the same
    runs, none since) are not rendered again. ``conn_or_url`` defaults to the warehouse.
    """
    site_dir = site_dir or data_docs_dir()
    site_dir.mkdir(parents=True, exist_ok=True)
    with _connected(conn_or_url) as conn:
        return _build(conn, _runs(conn, batch_ids), site_dir)


def _build(conn: psycopg.Connection, runs: list[tuple], site_dir: Path) -> Path:
    """Render ``runs`` (run, logical date, validated at) unless the site holds them."""
    rendered = site_dir / RENDERED_MARKER
    stamp = " ".join(f"{run_id}@{validated_at.isoformat()}" for run_id, _, validated_at in runs)
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
    # The run pages are rendered here, with GX's own renderer and page view, rather than by the
    # site builder, which would serialise each result into its store and read it back (40% of
    # the time) and have Jinja stat every template file for every block (20%).
    pages = HtmlSiteStore(store_backend=backend)
    renderer = ValidationResultsPageRenderer()
    view = DefaultJinjaPageView()
    view.env.auto_reload = False
    schema = ExpectationSuiteValidationResultSchema()
    for run_id, logical_date, validated_at, document in _documents(conn, runs):
        result = schema.load(document)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(result.suite_name),
            run_id=RunIdentifier(run_name=f"{logical_date.isoformat()}", run_time=validated_at),
            batch_identifier=f"run_{run_id}",
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
    # Suite pages and the index; the index lists the pages written above.
    context.build_data_docs(
        site_names=[SITE_NAME],
        resource_identifiers=[ExpectationSuiteIdentifier(suite.name) for suite in suites],
    )
    rendered.write_text(stamp, encoding="utf-8")
    return index


def _runs(conn: psycopg.Connection, batch_ids: Iterable[int] | None) -> list[tuple]:
    """(run, logical date, validated at) of the runs to render, in run order."""
    if batch_ids is None:
        query = """
            select run_id, logical_date, validated_at from audit.validation_runs
            where logical_date = (select max(logical_date) from audit.validation_runs)
            order by run_id
        """
        return conn.execute(query).fetchall()
    query = """
        select run_id, logical_date, validated_at from audit.validation_runs
        where run_id in (
            select (select max(r.run_id) from audit.validation_runs r
                    where r.batch_ids @> array[b])
            from unnest(%s::bigint[]) as b)
        order by run_id
    """
    return conn.execute(query, (list(batch_ids),)).fetchall()


def _documents(conn: psycopg.Connection, runs: list[tuple]) -> Iterator[tuple]:
    """The runs with their GX documents, read a slice at a time, so a backlog night's runs are
    never held in memory together."""
    for start in range(0, len(runs), DOCUMENTS_PER_READ):
        chunk = runs[start : start + DOCUMENTS_PER_READ]
        documents = dict(
            conn.execute(
                "select run_id, result from audit.validation_runs where run_id = any(%s)",
                ([run_id for run_id, _, _ in chunk],),
            ).fetchall()
        )
        for run_id, logical_date, validated_at in chunk:
            yield run_id, logical_date, validated_at, documents[run_id]


@contextmanager
def _connected(conn_or_url: psycopg.Connection | str | None) -> Iterator[psycopg.Connection]:
    if isinstance(conn_or_url, psycopg.Connection):
        yield conn_or_url
    else:
        with psycopg.connect(conn_or_url or role_url(LOADER), autocommit=True) as conn:
            yield conn
