"""A small simulated county shared by the simulator tests (the 'test' scale)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from county_sim import engine

SEED = 7
START = dt.date(2026, 1, 5)
END = dt.date(2026, 4, 15)


@pytest.fixture(scope="package")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.CountyState]:
    """Test county from START to END in one advance; its own data dir and databases."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CREDIT_DATA_DIR", str(tmp_path_factory.mktemp("county")))
        engine.create_county(SEED, "test", START)
        yield engine.advance(END)
