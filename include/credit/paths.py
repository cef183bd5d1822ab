"""Filesystem locations of the project: its root, its data folder and its configuration."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
CONFIG_DIR = PACKAGE_DIR / "config"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


def data_dir() -> Path:
    """Where run-time state lives (embedded PostgreSQL, Airflow home, outbox): ``.data``.

    ``CREDIT_DATA_DIR`` moves it, e.g. to a volume on a server.
    """
    return Path(os.environ.get("CREDIT_DATA_DIR", PROJECT_ROOT / ".data")).resolve()


def airflow_home() -> Path:
    return data_dir() / "airflow"


def dbt_docs_dir() -> Path:
    """The dbt docs site of the warehouse (``credit_docs`` writes it, the Airflow UI serves it)."""
    return data_dir() / "docs" / "dbt"
