"""The catalogue of record kinds (信用信息目录): the schema contract in ``record_kinds.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property

import yaml

from credit.paths import CONFIG_DIR

RECORD_KINDS_FILE = CONFIG_DIR / "record_kinds.yaml"
COLUMN_TYPES = ("text", "date", "timestamp", "decimal", "int", "enum")


@dataclass(frozen=True)
class Column:
    """One canonical column: English name, Chinese header, type and the rules it obeys."""

    name: str
    label: str
    type: str
    mandatory: bool
    values: tuple[str, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)
    not_future: bool = False
    identifier: str | None = None
    legacy: bool = False
    required_if: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordKind:
    """A kind of credit record, e.g. ``penalty`` (行政处罚)."""

    name: str
    label: str
    columns: tuple[Column, ...]
    business_key: tuple[str, ...]
    record_date: str

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        """Computed once: connectors and landing ask for it for every row."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


@cache
def record_kinds() -> dict[str, RecordKind]:
    """Every record kind, its column groups expanded in place."""
    with RECORD_KINDS_FILE.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    groups = {
        name: [_column(entry) for entry in entries]
        for name, entries in raw["column_groups"].items()
    }
    kinds: dict[str, RecordKind] = {}
    for name, entry in raw["kinds"].items():
        columns: list[Column] = []
        for item in entry["columns"]:
            columns.extend(groups[item] if isinstance(item, str) else [_column(item)])
        names = [column.name for column in columns]
        if len(set(names)) != len(names):
            raise ValueError(f"record kind {name} repeats a column")
        missing = set(entry["business_key"]) - set(names)
        if missing:
            raise ValueError(f"business key of {name} names unknown columns {missing}")
        record_date = entry["record_date"]
        if record_date not in names or not columns[names.index(record_date)].mandatory:
            raise ValueError(f"record date of {name} must be a mandatory column of the kind")
        kinds[name] = RecordKind(
            name, entry["label"], tuple(columns), tuple(entry["business_key"]), record_date
        )
    return kinds


def record_kind(name: str) -> RecordKind:
    return record_kinds()[name]


def _column(entry: dict) -> Column:
    if entry["type"] not in COLUMN_TYPES:
        raise ValueError(f"column {entry['name']} has unknown type {entry['type']!r}")
    values = tuple(str(v) for v in entry.get("values", ()))
    codes = {str(k): str(v) for k, v in entry.get("codes", {}).items()}
    # Staging maps every accepted value to its code: a value without one would stage as NULL.
    if codes and (entry["type"] != "enum" or set(codes) != set(values)):
        raise ValueError(f"codes of column {entry['name']} must name exactly its enum values")
    return Column(
        name=entry["name"],
        label=entry["label"],
        type=entry["type"],
        mandatory=bool(entry["mandatory"]),
        values=values,
        codes=codes,
        not_future=bool(entry.get("not_future", False)),
        identifier=entry.get("identifier"),
        legacy=bool(entry.get("legacy", False)),
        required_if={k: tuple(v) for k, v in entry.get("required_if", {}).items()},
    )
