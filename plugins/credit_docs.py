"""Airflow plugin: the warehouse's documentation beside the UI.

Two entries in the UI's navigation, each page shown inside the UI, both behind its login:
**dbt docs** (数据仓库文档: every model, seed and column with its description, the lineage graph),
generated after each night's transform by the ``credit_docs`` DAG, and **Data Docs**
(数据校验文档: the Great Expectations suites and the latest night's validation runs), rendered
by ``credit_ingest``. The api-server serves both folders under ``/credit-docs/`` to
logged-in users (the UI's session cookie, or a REST token).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse

from credit.paths import dbt_docs_dir
from credit.validation import data_docs_dir

PREFIX = "/credit-docs"
SITES = {"dbt": dbt_docs_dir, "data-docs": data_docs_dir}

app = FastAPI(title="Credit warehouse documentation")


@app.get("/{site}/{path:path}", dependencies=[Depends(requires_authenticated())])
def site_file(site: str, path: str) -> FileResponse:
    """A file of one of the two sites; nothing outside their folders."""
    if site not in SITES:
        raise HTTPException(status_code=404, detail=f"no site {site!r}")
    root = SITES[site]().resolve()
    target = (root / (path or "index.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"{path!r} is not in the {site} site yet")
    return FileResponse(target)


class CreditDocsPlugin(AirflowPlugin):
    name = "credit_docs"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": PREFIX, "name": "Credit warehouse documentation"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "dbt docs 数据仓库文档",
            "href": f"{PREFIX}/dbt/index.html",
            "url_route": "dbt-docs",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Data Docs 数据校验文档",
            "href": f"{PREFIX}/data-docs/index.html",
            "url_route": "data-docs",
            "destination": "nav",
            "category": "browse",
        },
    ]
