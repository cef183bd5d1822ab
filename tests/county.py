"""A simulated county for tests that need real source systems and a private warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest

from credit import warehouse


@contextmanager
def simulated_county(
    tmp_path_factory: pytest.TempPathFactory, name: str, first_day: date, last_day: date
) -> Iterator[dict]:
    """A test-scale county from ``first_day`` to ``last_day`` with a private warehouse.

    Its own databases (``<test warehouse>_<name>`` and its exchange database), data folder and
    dbt target folder, and the county's HTTP API served on a free port, all undone on exit.
    Yields the warehouse URL and the ground truth folder.
    """
    from credit.ingest import API_CONN, prepare_landing
    from credit.simulator import engine
    from credit.simulator.api_server import serve_api
    from credit.simulator.settings import api_token

    url = f"{warehouse.warehouse_url()}_{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(warehouse.ENV_URL, url)
        patch.setenv("CREDIT_DATA_DIR", str(tmp_path_factory.mktemp(name)))
        patch.setenv("DBT_TARGET_PATH", str(tmp_path_factory.mktemp(f"{name}_dbt_target")))
        patch.setenv("DBT_LOG_PATH", str(tmp_path_factory.mktemp(f"{name}_dbt_logs")))
        engine.create_county(11, "test", first_day)
        engine.advance(last_day)
        prepare_landing()
        with serve_api(port=0) as api:
            token_url = api.url.replace("http://", f"http://user:{api_token()}@")
            patch.setenv(f"AIRFLOW_CONN_{API_CONN.upper()}", token_url)
            yield {"url": url, "truth": engine.truth_dir()}
