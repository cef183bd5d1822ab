"""The source registry (数据源登记): each department's system, from ``config/sources.yaml``.

For every department: the shape of its system, the Airflow connection that reaches it, the
record kinds it delivers (its own and the registry's ``common_kinds``, which every department
sends), how its system names what it holds (its protocol), and the volume a working day should
bring.  Adding a department's system is an entry here (and, for a new record kind, a kind in
``record_kinds.yaml`` whose expectation suite is generated from it).

The protocol (接口约定) is what a real system does not share with the catalogue: an exchange
database's schema, a table or view per kind, its key and change-timestamp columns; an API's
path per kind, its paging, its parameter names and where the rows are in its answer; and, for
every shape, a field map from the system's names to the catalogue's columns.  Each setting
defaults to the catalogue's own names (the dataclasses' defaults and :data:`PAGING_STYLES`), so
a system that names things the catalogue's way needs none.  The file is checked as it is
loaded: an unknown key, a kind or column the catalogue does not have, a name that cannot be a
PostgreSQL identifier or an API path fails with the entry and the setting it is in, before any
night runs.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

import yaml

from credit.catalogue import record_kinds
from credit.identifiers import check_uscc
from credit.paths import CONFIG_DIR

SOURCES_FILE = CONFIG_DIR / "sources.yaml"
SHAPES = ("exchange_db", "drop_folder", "http_api")
# How far before its watermark an incremental pull reads again, when sources.yaml does not say.
DEFAULT_LATE_ROWS_MINUTES = 60
# The catalogue's columns that name a row and its version: a system's key and change timestamp.
KEY = "record_id"
CHANGED_AT = "updated_at"
# PostgreSQL cuts a longer identifier to this many bytes: a longer name would address another.
MAX_IDENTIFIER_BYTES = 63

REGISTRY_KEYS = (
    "common_kinds",
    "late_rows_look_back_minutes",
    "connections",
    "connection_defaults",
    "sources",
)
SOURCE_KEYS = (
    "shape",
    "conn_id",
    "kinds",
    "file_format",
    "encoding",
    "organ_uscc",
    "expected_daily_rows",
    "field_map",
    "kind_field_maps",
    "late_rows_look_back_minutes",
    "exchange",
    "api",
)
# The protocol block each incremental shape may have, and its settings naming the columns that
# name a row and its version (a field map may not name them again).
PROTOCOL_BLOCKS = {"exchange_db": "exchange", "http_api": "api"}
KEY_SETTINGS = {
    "exchange_db": {KEY: "exchange.key_column", CHANGED_AT: "exchange.changed_at_column"},
    "http_api": {KEY: "api.key_field", CHANGED_AT: "api.changed_at_field"},
}


class SourcesError(ValueError):
    """``sources.yaml`` says something the platform cannot follow; the message names where."""


@dataclass(frozen=True)
class ExchangeProtocol:
    """Where an exchange database (前置库) keeps a department's rows: a schema and a table or
    view per record kind (by default the dept_code and the kind's name).  Its key and
    change-timestamp columns are the system's names of ``record_id`` and ``updated_at`` in the
    source's field map (:meth:`Source.field_map_of`)."""

    schema: str
    tables: Mapping[str, str] = field(default_factory=dict)

    def table(self, kind: str) -> str:
        return self.tables.get(kind, kind)


@dataclass(frozen=True)
class Paging:
    """How an API hands out rows a request at a time (分页): ``page`` (a page number and a
    size; the next page's number from the answer, or the next number until a page comes back
    empty), ``offset`` (rows to skip and a limit; until the total the answer gives is reached,
    or a page comes back empty) or ``cursor`` (a token from each answer names the next page;
    none ends)."""

    style: str = "page"
    position_param: str = "page"  # the page number's, the offset's or the cursor's parameter
    size_param: str = "page_size"
    size: int = 500
    next_path: tuple[str, ...] | None = ("next_page",)  # page: the next number; cursor: token
    total_path: tuple[str, ...] | None = None  # offset: the rows the query matches


@dataclass(frozen=True)
class ApiProtocol:
    """How a department's HTTP API is asked for one kind's changed rows: the path per kind,
    the paging, the names of its changed-after and changed-before parameters (an API without
    the latter: ``until_param`` None, rows changed after the night's day are dropped as they are
    read) and where the rows are in its JSON answer (``rows_path``, keys from the top)."""

    paths: Mapping[str, str]
    paging: Paging = field(default_factory=Paging)
    since_param: str = "updated_since"
    until_param: str | None = "updated_before"
    rows_path: tuple[str, ...] = ("items",)

    def path(self, kind: str) -> str:
        return self.paths[kind]


# Each paging style's settings in sources.yaml (besides ``page_size``): the Paging field each
# sets and its default.
PAGING_STYLES: dict[str, dict[str, tuple[str, str | None]]] = {
    "page": {
        "page_param": ("position_param", "page"),
        "size_param": ("size_param", "page_size"),
        "next_page_path": ("next_path", "next_page"),
    },
    "offset": {
        "offset_param": ("position_param", "offset"),
        "limit_param": ("size_param", "limit"),
        "total_path": ("total_path", None),
    },
    "cursor": {
        "cursor_param": ("position_param", "cursor"),
        "size_param": ("size_param", "page_size"),
        "next_cursor_path": ("next_path", "next_cursor"),
    },
}
DEFAULT_PAGE_SIZE = 500
DEFAULT_API_PATH = "/api/v1/{dept_code}/{kind}"
# Each protocol block's settings with their defaults (None: see the block's dataclass).
EXCHANGE_DEFAULTS: dict[str, Any] = {
    "schema": None,  # the dept_code
    "tables": {},  # a kind not listed: its own name
    "key_column": KEY,
    "changed_at_column": CHANGED_AT,
}
API_DEFAULTS: dict[str, Any] = {
    "path": DEFAULT_API_PATH,
    "paths": {},  # a kind not listed: ``path``; both with {dept_code} and {kind} filled in
    "paging": {"style": "page"},
    "since_param": "updated_since",
    "until_param": "updated_before",
    "rows_path": "items",
    "key_field": KEY,
    "changed_at_field": CHANGED_AT,
}


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
    # Source field name (column, JSON key or file header) → catalogue column, where they
    # differ: for every kind, and per kind (``kind_field_maps``, over the former).  Databases
    # and APIs: the system's key and change timestamp included.
    field_map: dict[str, str] = field(default_factory=dict)
    kind_field_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # Incremental shapes: rows committed late with an updated_at this far before the watermark
    # are still read (read again, the ones already landed are skipped).
    late_rows_look_back: timedelta = timedelta(minutes=DEFAULT_LATE_ROWS_MINUTES)
    exchange: ExchangeProtocol | None = None
    api: ApiProtocol | None = None

    def field_map_of(self, kind: str) -> dict[str, str]:
        """``{source name: catalogue column}`` for one kind's columns, where they differ."""
        return _kind_map(self.field_map, self.kind_field_maps, kind)


def _kind_map(
    field_map: Mapping[str, str], kind_field_maps: Mapping[str, Mapping[str, str]], kind: str
) -> dict[str, str]:
    columns = set(record_kinds()[kind].column_names)
    mapped = {name: column for name, column in field_map.items() if column in columns}
    return mapped | dict(kind_field_maps.get(kind, {}))


@cache
def _registry_file() -> dict:
    with SOURCES_FILE.open(encoding="utf-8") as f:
        return dict(yaml.safe_load(f))


@cache
def sources() -> dict[str, Source]:
    """The registry keyed by dept_code, in file order."""
    try:
        return parse_sources(_registry_file())
    except SourcesError as error:
        raise SourcesError(f"{SOURCES_FILE.name}: {error}") from error


@cache
def connection_defaults() -> dict[str, str]:
    """Airflow-style connection URIs used while ``AIRFLOW_CONN_<ID>`` is unset."""
    return dict(_registry_file().get("connection_defaults") or {})


def parse_sources(raw: Mapping[str, Any]) -> dict[str, Source]:
    """The registry a ``sources.yaml`` document describes, checked (:class:`SourcesError`)."""
    _known_keys(raw, REGISTRY_KEYS, "sources.yaml")
    connections = raw["connections"]
    common = tuple(raw.get("common_kinds") or ())
    _known_kinds(common, "common_kinds")
    look_back = raw.get("late_rows_look_back_minutes", DEFAULT_LATE_ROWS_MINUTES)
    return {
        code: _source(code, entry, connections, common, look_back)
        for code, entry in raw["sources"].items()
    }


def _source(
    code: str,
    entry: Mapping[str, Any],
    connections: Mapping[str, str],
    common: tuple[str, ...],
    look_back: int,
) -> Source:
    _department_code(code)
    _known_keys(entry, SOURCE_KEYS, code)
    shape = entry["shape"]
    if shape not in SHAPES:
        raise SourcesError(f"{code}: unknown shape {shape!r}; expected one of {SHAPES}")
    for owner, block in PROTOCOL_BLOCKS.items():
        if block in entry and owner != shape:
            raise SourcesError(
                f"{code}.{block}: {block} settings are for {owner} sources; this one is {shape}"
            )
    organ = check_uscc(entry["organ_uscc"])
    if not organ.is_valid or organ.value != entry["organ_uscc"]:
        raise SourcesError(f"{code}: organ_uscc {entry['organ_uscc']!r} is not a valid USCC")
    own = tuple(entry["kinds"])
    _known_kinds(own, f"{code}.kinds")
    kinds = own + tuple(k for k in common if k not in own)
    expected = entry.get("expected_daily_rows")
    exchange = api = None
    names: dict[str, str] = {}  # the system's key and change timestamp, databases and APIs
    if shape == "exchange_db":
        exchange, names = _exchange(code, entry.get("exchange"), kinds)
    elif shape == "http_api":
        api, names = _api(code, entry.get("api"), kinds)
    field_map, kind_field_maps = _field_maps(code, entry, kinds, names, KEY_SETTINGS.get(shape))
    return Source(
        dept_code=code,
        shape=shape,
        kinds=kinds,
        file_format=entry.get("file_format"),
        encoding=entry.get("encoding"),
        organ_uscc=entry["organ_uscc"],
        conn_id=entry.get("conn_id", connections[shape]),
        expected_daily_rows=tuple(expected) if expected else None,
        field_map=field_map,
        kind_field_maps=kind_field_maps,
        late_rows_look_back=timedelta(minutes=entry.get("late_rows_look_back_minutes", look_back)),
        exchange=exchange,
        api=api,
    )


def _exchange(
    code: str, block: Any, kinds: tuple[str, ...]
) -> tuple[ExchangeProtocol, dict[str, str]]:
    """The exchange-database protocol and the names of its key and change-timestamp columns."""
    where = f"{code}.exchange"
    settings = _with_defaults(block, EXCHANGE_DEFAULTS, where)
    schema = _identifier(settings["schema"] or code, f"{where}.schema")
    tables = _per_kind(settings["tables"], kinds, f"{where}.tables")
    for kind, table in tables.items():
        _identifier(table, f"{where}.tables.{kind}")
    key = _identifier(settings["key_column"], f"{where}.key_column")
    changed = _identifier(settings["changed_at_column"], f"{where}.changed_at_column")
    return ExchangeProtocol(schema, tables), _key_names(key, changed, where)


def _api(code: str, block: Any, kinds: tuple[str, ...]) -> tuple[ApiProtocol, dict[str, str]]:
    """The API protocol and the names of its key and change-timestamp fields."""
    where = f"{code}.api"
    settings = _with_defaults(block, API_DEFAULTS, where)
    own = _per_kind(settings["paths"], kinds, f"{where}.paths")
    paths = {
        kind: _path(
            own.get(kind, settings["path"]),
            f"{where}.paths.{kind}" if kind in own else f"{where}.path",
        ).format(dept_code=code, kind=kind)
        for kind in kinds
    }
    until = settings["until_param"]
    protocol = ApiProtocol(
        paths=paths,
        paging=_paging(settings["paging"], f"{where}.paging"),
        since_param=_name(settings["since_param"], f"{where}.since_param"),
        until_param=None if until is None else _name(until, f"{where}.until_param"),
        rows_path=_json_path(settings["rows_path"], f"{where}.rows_path"),
    )
    key = _name(settings["key_field"], f"{where}.key_field")
    changed = _name(settings["changed_at_field"], f"{where}.changed_at_field")
    return protocol, _key_names(key, changed, where)


def _paging(block: Any, where: str) -> Paging:
    if not isinstance(block, Mapping) or block.get("style") not in PAGING_STYLES:
        style = block.get("style") if isinstance(block, Mapping) else block
        raise SourcesError(
            f"{where}.style: unknown paging style {style!r}; expected one of {tuple(PAGING_STYLES)}"
        )
    style = block["style"]
    own = PAGING_STYLES[style]
    defaults = {"style": style, "page_size": DEFAULT_PAGE_SIZE}
    settings = _with_defaults(
        block, defaults | {key: default for key, (_, default) in own.items()}, f"{where} ({style})"
    )
    size = settings["page_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise SourcesError(f"{where}.page_size: {size!r} is not a whole number of rows above 0")
    fields: dict[str, Any] = {"next_path": None, "total_path": None}
    for key, (name, _) in own.items():
        value = settings[key]
        if not name.endswith("_path"):
            fields[name] = _name(value, f"{where}.{key}")
        elif value is not None:
            fields[name] = _json_path(value, f"{where}.{key}")
    if style == "cursor" and fields["next_path"] is None:
        raise SourcesError(f"{where}.next_cursor_path: a cursor API must say where the next is")
    return Paging(style=style, size=size, **fields)


def _field_maps(
    code: str,
    entry: Mapping[str, Any],
    kinds: tuple[str, ...],
    names: dict[str, str],
    key_settings: Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The source's field map (its key and change timestamp first) and its maps per kind,
    checked: every column one of the catalogue's, no column named twice for one kind, the key
    and change timestamp only by their protocol settings (``key_settings``)."""
    columns = {kind: set(record_kinds()[kind].column_names) for kind in kinds}
    every = set().union(*columns.values())
    field_map = dict(names)
    for name, column in _mapping(entry.get("field_map"), f"{code}.field_map").items():
        _mapped(code, f"{code}.field_map.{name}", column, every, key_settings)
        field_map[name] = column
    kind_field_maps = {}
    per_kind = _per_kind(entry.get("kind_field_maps") or {}, kinds, f"{code}.kind_field_maps")
    for kind, block in per_kind.items():
        where = f"{code}.kind_field_maps.{kind}"
        kind_field_maps[kind] = _mapping(block, where)
        for name, column in kind_field_maps[kind].items():
            _mapped(code, f"{where}.{name}", column, columns[kind], key_settings)
    for kind in kinds:
        by_column: dict[str, str] = {}
        for name, column in _kind_map(field_map, kind_field_maps, kind).items():
            if column in by_column:
                raise SourcesError(
                    f"{code}: {kind}.{column} is mapped from both {by_column[column]!r} and"
                    f" {name!r}; a column has one name in a system"
                )
            by_column[column] = name
    return field_map, kind_field_maps


def _mapped(
    code: str, where: str, column: Any, allowed: set[str], key_settings: Mapping[str, str] | None
) -> None:
    if key_settings and column in key_settings:
        raise SourcesError(f"{where}: {column} is named by {code}.{key_settings[column]}")
    if column not in allowed:
        raise SourcesError(f"{where}: {column!r} is not a column of the kinds {code} delivers")


def _key_names(key: str, changed: str, where: str) -> dict[str, str]:
    if key == changed:
        raise SourcesError(f"{where}: the key and the change timestamp are both {key!r}")
    return {name: column for name, column in ((key, KEY), (changed, CHANGED_AT)) if name != column}


def _with_defaults(block: Any, defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A protocol block's settings over their defaults; an unknown setting is an error."""
    block = _mapping(block, where)
    _known_keys(block, tuple(defaults), where)
    return {**defaults, **block}


def _known_keys(block: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [key for key in block if key not in known]
    if unknown:
        raise SourcesError(
            f"{where}: unknown setting {unknown[0]!r}; expected one of {', '.join(known)}"
        )


def _known_kinds(kinds: tuple[str, ...], where: str) -> None:
    unknown = [kind for kind in kinds if kind not in record_kinds()]
    if unknown:
        raise SourcesError(f"{where}: {unknown[0]!r} is not a record kind of record_kinds.yaml")


def _mapping(block: Any, where: str) -> dict[str, Any]:
    if block is None:
        return {}
    if not isinstance(block, Mapping) or not all(isinstance(key, str) for key in block):
        raise SourcesError(f"{where}: expected a mapping of names, got {block!r}")
    return dict(block)


def _per_kind(block: Any, kinds: tuple[str, ...], where: str) -> dict[str, Any]:
    block = _mapping(block, where)
    for kind in block:
        if kind not in kinds:
            raise SourcesError(f"{where}: {kind!r} is not one of the source's kinds")
    return block


def _identifier(value: Any, where: str) -> str:
    """A schema, table or column name: any text PostgreSQL can hold as a quoted identifier
    (they are always quoted, ``psycopg.sql.Identifier``), no longer than it keeps."""
    name = _name(value, where)
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise SourcesError(
            f"{where}: {name!r} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"
        )
    return name


def _name(value: Any, where: str) -> str:
    """A name a system gives something: text, not empty, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: expected a name, got {value!r}")
    if any(ord(char) < 32 or ord(char) == 127 for char in value) or value != value.strip():
        raise SourcesError(f"{where}: {value!r} holds a control character or outer spaces")
    return value


def _department_code(code: Any) -> str:
    """A department's code names its drop folder, its exchange schema by default and its rows'
    ``dept_code``: a name that is one folder name (no separator, not ``.`` or ``..``)."""
    name = _name(code, f"sources.{code}")
    if any(char in name for char in "/\\") or name in (".", ".."):
        raise SourcesError(f"sources.{code}: {code!r} is not one folder name")
    return name


def _json_path(value: Any, where: str) -> tuple[str, ...]:
    """Keys from the top of a JSON answer to a value, dotted: ``data.rows``."""
    keys = tuple(_name(value, where).split("."))
    if not all(keys):
        raise SourcesError(f"{where}: {value!r} has an empty key")
    return keys


def _path(value: Any, where: str) -> str:
    """An API path: from the root, no query or fragment, no ``..``, and of ``{...}`` only the
    placeholders ``{dept_code}`` and ``{kind}``."""
    path = _name(value, where)
    if not path.startswith("/") or any(char in path for char in "?#\\ ") or "/../" in f"{path}/":
        raise SourcesError(f"{where}: {path!r} is not a path from the API's root (/...)")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(path) if name is not None}
    except ValueError as error:
        raise SourcesError(f"{where}: {path!r}: {error}") from error
    if not fields <= {"dept_code", "kind"}:
        raise SourcesError(
            f"{where}: {path!r} has a placeholder other than {{dept_code}}, {{kind}}"
        )
    return path
