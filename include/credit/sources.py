"""The source registry (数据源登记): each department's system, from ``config/sources.yaml``.

For every department: the shape of its system, the Airflow connection that reaches it, the
record kinds it delivers (its own and the registry's ``common_kinds``, which every department
sends), how its field names map to the catalogue's columns, and the volume a
working day should bring.  Adding a department's system is an entry here (and, for a new
record kind, a kind in ``record_kinds.yaml`` whose expectation suite is generated from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

import yaml

from credit.identifiers import check_uscc
from credit.paths import CONFIG_DIR

SOURCES_FILE = CONFIG_DIR / "sources.yaml"
SHAPES = ("exchange_db", "drop_folder", "http_api")
# How far before its watermark an incremental pull reads again, when sources.yaml does not say.
DEFAULT_LATE_ROWS_MINUTES = 60


@dataclass(frozen=True)
class Source:
    """One department's system (行业系统) as the registry describes it."""

    dept_code: str
    shape: str
    kinds: tuple[str, ...]
    file_format: str | None
    encoding: str | None
    organ_uscc: str
    conn_id: str
    expected_daily_rows: tuple[int, int] | None = None
    # Source field name (column, JSON key or file header) → catalogue column, where they differ.
    field_map: dict[str, str] = field(default_factory=dict)
    # Incremental shapes: rows committed late with an updated_at this far before the watermark
    # are still read (read again, the ones already landed are skipped).
    late_rows_look_back: timedelta = timedelta(minutes=DEFAULT_LATE_ROWS_MINUTES)


@cache
def _registry_file() -> dict:
    with SOURCES_FILE.open(encoding="utf-8") as f:
        return dict(yaml.safe_load(f))


@cache
def sources() -> dict[str, Source]:
    """The registry keyed by dept_code, in file order."""
    raw = _registry_file()
    connections = raw["connections"]
    common = tuple(raw.get("common_kinds") or ())
    look_back = raw.get("late_rows_look_back_minutes", DEFAULT_LATE_ROWS_MINUTES)
    registry = {}
    for code, entry in raw["sources"].items():
        if entry["shape"] not in SHAPES:
            raise ValueError(f"{code}: unknown shape {entry['shape']!r}; expected one of {SHAPES}")
        expected = entry.get("expected_daily_rows")
        organ = check_uscc(entry["organ_uscc"])
        if not organ.is_valid or organ.value != entry["organ_uscc"]:
            raise ValueError(f"{code}: organ_uscc {entry['organ_uscc']!r} is not a valid USCC")
        registry[code] = Source(
            dept_code=code,
            shape=entry["shape"],
            kinds=tuple(entry["kinds"]) + tuple(k for k in common if k not in entry["kinds"]),
            file_format=entry.get("file_format"),
            encoding=entry.get("encoding"),
            organ_uscc=entry["organ_uscc"],
            conn_id=entry.get("conn_id", connections[entry["shape"]]),
            expected_daily_rows=tuple(expected) if expected else None,
            field_map=dict(entry.get("field_map") or {}),
            late_rows_look_back=timedelta(
                minutes=entry.get("late_rows_look_back_minutes", look_back)
            ),
        )
    return registry


@cache
def connection_defaults() -> dict[str, str]:
    """Airflow-style connection URIs used while ``AIRFLOW_CONN_<ID>`` is unset."""
    return dict(_registry_file().get("connection_defaults") or {})
