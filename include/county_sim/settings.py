"""Loading the simulator's configuration, ``simulator.yaml`` beside this module (the systems it
plays are the platform's source registry, :mod:`credit.sources`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SIMULATOR_FILE = Path(__file__).resolve().parent / "simulator.yaml"
TOKEN_ENV = "CREDIT_COUNTY_API_TOKEN"


@dataclass(frozen=True)
class Scale:
    """How big a county is: market subjects, key-group persons and an activity multiplier."""

    name: str
    subjects: int
    persons: int
    activity: float


@cache
def simulator_config() -> dict[str, Any]:
    with SIMULATOR_FILE.open(encoding="utf-8") as f:
        return dict(yaml.safe_load(f))


@cache
def effective_config(scale_name: str) -> dict[str, Any]:
    """``simulator.yaml`` with the scale's ``overrides`` deep-merged over it."""
    overrides = simulator_config()["scales"][scale_name].get("overrides", {})
    return _merged(simulator_config(), overrides)


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in overrides.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        result[key] = _merged(base[key], value) if nested else value
    return result


def scale(name: str) -> Scale:
    scales = simulator_config()["scales"]
    if name not in scales:
        raise KeyError(f"unknown scale {name!r}; configured: {', '.join(scales)}")
    entry = scales[name]
    return Scale(name, int(entry["subjects"]), int(entry["persons"]), float(entry["activity"]))


def api_token() -> str:
    """The bearer token of the simulated HTTP APIs: ``CREDIT_COUNTY_API_TOKEN`` or config."""
    return os.environ.get(TOKEN_ENV) or str(simulator_config()["api"]["token"])
