"""The warehouse's dbt docs (数据仓库文档): every model, seed and column with its description, and
the lineage graph, as a static site.

``credit_docs`` generates it after each night's transform (``dbt docs generate``: the project's
manifest and the catalog read from the warehouse) into ``<data>/docs/dbt/``, which the Airflow
plugin ``credit_docs`` serves beside the UI. dbt works in a target folder of its own there, so
its partial-parse state is kept from one night to the next and never shared with the build.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from credit.dbt import run_dbt
from credit.paths import data_dir, dbt_docs_dir

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_target_dir() -> Path:
    return data_dir() / "docs" / "dbt_target"


def generate_dbt_docs() -> Path:
    """Generate the docs and publish them into the site, each file replaced whole (a reader
    never sees half a file); returns the site's ``index.html``."""
    target = docs_target_dir()
    run_dbt(["docs", "generate", "--target-path", str(target)])
    site = dbt_docs_dir()
    site.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        partial = site / f".{name}.new"
        shutil.copyfile(target / name, partial)
        os.replace(partial, site / name)
    return site / "index.html"
