"""The catalogue of record kinds (信用信息目录): the schema contract in ``record_kinds.yaml``.

Its kind and column names become SQL: ``raw.<kind>`` tables and their columns, the expectation
suites' queries, dbt's staging models.  They are checked as the file is loaded
(:class:`CatalogueError`, naming the file and the key): lower-case ASCII names PostgreSQL takes
as they are, so a name can never be read as anything but itself, quoted or not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import yaml

from credit.paths import CONFIG_DIR

RECORD_KINDS_FILE = CONFIG_DIR / "record_kinds.yaml"
COLUMN_TYPES = ("text", "date", "timestamp", "decimal", "int", "enum")
# The longest free text a column holds when the catalogue gives neither the column's own
# ``max_length`` nor a ``default_max_length``, in characters (最大长度).
DEFAULT_MAX_LENGTH = 2000
# A kind's or column's name: a lower-case letter, then lower-case letters, digits and ``_``,
# at most the 63 bytes PostgreSQL keeps of a name.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
# PostgreSQL's key words that cannot stand as a plain column name everywhere (reserved,
# type or function names, column-name key words: ``pg_get_keywords()`` categories R, T and C
# of PostgreSQL 15 and of 16, the embedded server's; a test checks the server's are all here).
_SQL_KEYWORDS_TEXT = """
all analyse analyze and any array as asc asymmetric both case cast check collate column
constraint create current_catalog current_date current_role current_time current_timestamp
current_user default deferrable desc distinct do else end except false fetch for foreign
from grant group having in initially intersect into lateral leading limit localtime
localtimestamp not null offset on only or order placing primary references returning select
session_user some symmetric table then to trailing true union unique user using variadic
when where window with
authorization binary collation concurrently cross current_schema freeze full ilike inner is
isnull join left like natural notnull outer overlaps right similar tablesample verbose
between bigint bit boolean char character coalesce dec decimal exists extract float greatest
grouping inout int integer interval least national nchar none normalize nullif numeric out
overlay position precision real row setof smallint substring time timestamp treat trim
values varchar xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces
xmlparse xmlpi xmlroot xmlserialize xmltable
json_array json_arrayagg json_object json_objectagg system_user"""
SQL_KEYWORDS = frozenset(_SQL_KEYWORDS_TEXT.split())


class CatalogueError(ValueError):
    """``record_kinds.yaml`` says something the platform cannot follow; the message names
    the file and the key."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{RECORD_KINDS_FILE.name}: {where}: {problem}")


def check_name(value: Any, where: str) -> str:
    """A kind's or column's name, which becomes SQL: see :data:`NAME_PATTERN`, no SQL key word."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise CatalogueError(
            where,
            f"{value!r} is not a name of lower-case letters, digits and _ (a letter first,"
            " at most 63)",
        )
    if value in SQL_KEYWORDS:
        raise CatalogueError(where, f"{value!r} is an SQL key word")
    return value


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
    # A natural person's name (自然人姓名) when another column holds one of these values: staging
    # keeps only its masked form (the surname), the clear name stays in ``raw``.
    personal_if: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Free text (type text, no identifier): the most characters a value may have; a longer one
    # is quarantined (rule ``max_length``).  None for the other columns, whose own rules bound
    # them (an identifier's check, an enum's values, a date's format).
    max_length: int | None = None


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
        return parse_record_kinds(yaml.safe_load(f))


def parse_record_kinds(raw: dict[str, Any]) -> dict[str, RecordKind]:
    """The record kinds a ``record_kinds.yaml`` document describes, checked
    (:class:`CatalogueError`)."""
    default_max = raw.get("default_max_length", DEFAULT_MAX_LENGTH)
    _check_length(default_max, "default_max_length")
    groups = {
        name: [
            _column(entry, f"column_groups.{name}[{index}]", default_max)
            for index, entry in enumerate(entries)
        ]
        for name, entries in raw["column_groups"].items()
    }
    kinds: dict[str, RecordKind] = {}
    for name, entry in raw["kinds"].items():
        check_name(name, f"kinds.{name}")
        columns: list[Column] = []
        for index, item in enumerate(entry["columns"]):
            where = f"kinds.{name}.columns[{index}]"
            if isinstance(item, str) and item not in groups:
                raise CatalogueError(where, f"{item!r} is not a group of column_groups")
            columns.extend(
                groups[item] if isinstance(item, str) else [_column(item, where, default_max)]
            )
        names = [column.name for column in columns]
        if len(set(names)) != len(names):
            raise CatalogueError(f"kinds.{name}", "a column is there twice")
        missing = set(entry["business_key"]) - set(names)
        if missing:
            raise CatalogueError(
                f"kinds.{name}.business_key", f"names unknown columns {sorted(missing)}"
            )
        record_date = entry["record_date"]
        if record_date not in names or not columns[names.index(record_date)].mandatory:
            raise CatalogueError(
                f"kinds.{name}.record_date", "must be a mandatory column of the kind"
            )
        kinds[name] = RecordKind(
            name, entry["label"], tuple(columns), tuple(entry["business_key"]), record_date
        )
    return kinds


def record_kind(name: str) -> RecordKind:
    return record_kinds()[name]


def _check_length(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CatalogueError(where, f"{value!r} is not a whole number of characters above 0")
    return value


def _column(entry: dict, where: str, default_max: int) -> Column:
    name = check_name(entry.get("name"), f"{where}.name")
    where = f"{where} ({name})"
    if entry["type"] not in COLUMN_TYPES:
        raise CatalogueError(f"{where}.type", f"unknown type {entry['type']!r}")
    values = tuple(str(v) for v in entry.get("values", ()))
    codes = {str(k): str(v) for k, v in entry.get("codes", {}).items()}
    # Staging maps every accepted value to its code: a value without one would stage as NULL.
    if codes and (entry["type"] != "enum" or set(codes) != set(values)):
        raise CatalogueError(f"{where}.codes", "must name exactly the column's enum values")
    required_if = {k: tuple(v) for k, v in entry.get("required_if", {}).items()}
    for other in required_if:
        check_name(other, f"{where}.required_if")
    personal_if = {k: tuple(v) for k, v in entry.get("personal_if", {}).items()}
    for other in personal_if:
        check_name(other, f"{where}.personal_if")
    free_text = entry["type"] == "text" and not entry.get("identifier")
    if "max_length" in entry and not free_text:
        raise CatalogueError(f"{where}.max_length", "only free text (type text) has a length")
    return Column(
        name=name,
        label=entry["label"],
        type=entry["type"],
        mandatory=bool(entry["mandatory"]),
        values=values,
        codes=codes,
        not_future=bool(entry.get("not_future", False)),
        identifier=entry.get("identifier"),
        legacy=bool(entry.get("legacy", False)),
        required_if=required_if,
        personal_if=personal_if,
        max_length=(
            _check_length(entry.get("max_length", default_max), f"{where}.max_length")
            if free_text
            else None
        ),
    )
