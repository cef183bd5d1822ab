"""A department's system as it really is (接口约定): the registry's protocol settings against
simulated systems that name everything their own way.

审批局's exchange database has its own schema, tables, key, change timestamp and field names
(a 文书号 that means another column in another table), and a column of its own; 烟草局's API
has its own paths, offset paging in an envelope and parameter names; 海关's has page tokens and
no changed-before parameter.  Each lands, night after night, exactly the rows its system holds
under the catalogue's names, as a department whose system uses the catalogue's names does; a
row committed late is read back by the look-back; a configuration the platform cannot follow
fails as it is loaded, saying where.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.rows import dict_row

from county_sim import systems
from county_sim.settings import api_token
from credit.catalogue import record_kind
from credit.connectors import COUNTY_TZ, RejectedDelivery, day_end, exchange_db, http_api
from credit.ingest import api_client, exchange_url, ingest_source
from credit.sources import (
    SOURCES_FILE,
    ApiProtocol,
    ExchangeProtocol,
    Paging,
    SourcesError,
    parse_sources,
    sources,
)
from tests.county import County, insert_exchange_row, simulated_county
from tests.simulator.readback import read_source

FIRST_DAY = dt.date(2026, 1, 6)  # a Tuesday
NIGHTS = [FIRST_DAY + dt.timedelta(days=n) for n in range(3)]
LATE_NIGHT = NIGHTS[-1] + dt.timedelta(days=1)
OWN_NAMES = ("administrative_approval", "tobacco", "customs")
CATALOGUE_NAMES = ("public_security", "industry_it")  # the same checks, for comparison
KEYS = ("record_id", "updated_at")


@pytest.fixture(scope="module")
def county(tmp_path_factory, warehouse_url) -> Iterator[County]:
    """A test-scale county of four working days, its own warehouse and a running API."""
    with simulated_county(tmp_path_factory, "protocol", FIRST_DAY, LATE_NIGHT) as county:
        yield county


def _held(dept_code: str, until: dt.datetime) -> dict[str, list[tuple[str | None, ...]]]:
    """Per kind, the rows the department's system holds changed before ``until``, under the
    catalogue's names as the simulator names its system (not as the registry maps it)."""
    held: dict[str, list[tuple[str | None, ...]]] = {}
    with psycopg.connect(systems.exchange_url()) as conn:
        for row in read_source(conn, sources()[dept_code]):
            if dt.datetime.fromisoformat(row.values["updated_at"]) < until:
                columns = record_kind(row.kind).column_names
                held.setdefault(row.kind, []).append(tuple(row.values[c] for c in columns))
    return {kind: sorted(rows) for kind, rows in held.items()}


def _landed(url: str, dept_code: str) -> dict[str, list[tuple[str | None, ...]]]:
    """Per kind, the catalogue columns of every row the department's nights landed."""
    landed = {}
    with psycopg.connect(url) as conn:
        for kind in sources()[dept_code].kinds:
            columns = record_kind(kind).column_names
            rows = conn.execute(
                sql.SQL("select {} from {} where dept_code = %s").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier("raw", kind)
                ),
                (dept_code,),
            ).fetchall()
            if rows:
                landed[kind] = sorted(rows)
    return landed


def _extra_fields(url: str, dept_code: str) -> set[str | None]:
    with psycopg.connect(url) as conn:
        return {
            json.dumps(extra, sort_keys=True) if extra else None
            for kind in sources()[dept_code].kinds
            for (extra,) in conn.execute(
                sql.SQL("select extra_fields from {} where dept_code = %s").format(
                    sql.Identifier("raw", kind)
                ),
                (dept_code,),
            )
        }


def _watermarks(url: str, dept_code: str) -> dict[str, dt.datetime]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select record_kind, watermark from audit.watermarks where dept_code = %s",
                (dept_code,),
            ).fetchall()
        )


def _latest(rows: list[tuple[str | None, ...]], kind: str) -> dt.datetime:
    at = record_kind(kind).column_names.index("updated_at")
    return max(dt.datetime.fromisoformat(row[at]) for row in rows)


def _commit_late(dept_code: str, kind_name: str, updated_at: dt.datetime) -> str:
    """The system commits a copy of its latest row of a kind under a new key, changed at
    ``updated_at`` (before the watermark: a long transaction); returns the new key."""
    names = systems.system_names(dept_code)
    key, changed = (names.name(kind_name, c) for c in ("record_id", "updated_at"))
    if sources()[dept_code].shape == "exchange_db":
        with psycopg.connect(exchange_url(), autocommit=True, row_factory=dict_row) as conn:
            latest = conn.execute(
                sql.SQL("select * from {} order by {} desc limit 1").format(
                    names.table(kind_name), sql.Identifier(changed)
                )
            ).fetchone()
            late = {**latest, key: f"{latest[key]}-late", changed: updated_at}
            insert_exchange_row(conn, names.table(kind_name), late)
        return late[key]
    files = sorted((systems.api_dir() / dept_code / kind_name).glob("*.jsonl"))
    latest = json.loads(files[-1].read_text(encoding="utf-8").splitlines()[-1])
    updated_at = updated_at.astimezone(COUNTY_TZ)  # the API's files are per county day
    late = {**latest, key: f"{latest[key]}-late", changed: updated_at.isoformat()}
    day_file = systems.api_day_file(dept_code, kind_name, updated_at.date())
    with day_file.open("a", encoding="utf-8") as f:
        f.write(json.dumps(late, ensure_ascii=False) + "\n")
    return late[key]


@pytest.mark.parametrize("dept_code", OWN_NAMES + CATALOGUE_NAMES)
def test_a_system_with_its_own_names_lands_what_it_holds_night_after_night(
    county, dept_code
) -> None:
    """Each night lands exactly the rows the system holds up to the night's end, every value
    under its catalogue column, a column of the system's own in extra_fields; the watermark is
    the latest change timestamp landed; the look-back reads rows again and lands none twice;
    a row committed late lands the next night."""
    source = sources()[dept_code]
    extra = systems.system_names(dept_code).extra_fields
    for number, day in enumerate(NIGHTS):
        night = ingest_source(dept_code, day)
        held = _held(dept_code, day_end(day))
        assert held, f"{dept_code} holds nothing up to {day}: the test proves nothing"
        assert _landed(county.url, dept_code) == held, day
        marks = _watermarks(county.url, dept_code)
        assert marks == {kind: _latest(rows, kind) for kind, rows in held.items()}
        assert (night.rows_read_again > 0) == (number > 0)
    assert _extra_fields(county.url, dept_code) == {json.dumps(extra) if extra else None}

    kind, watermark = max(marks.items(), key=lambda mark: mark[1])
    late_key = _commit_late(dept_code, kind, watermark - source.late_rows_look_back / 2)
    night = ingest_source(dept_code, LATE_NIGHT)
    landed = _landed(county.url, dept_code)
    assert landed == _held(dept_code, day_end(LATE_NIGHT))
    key = record_kind(kind).column_names.index("record_id")
    assert late_key in {row[key] for row in landed[kind]}
    assert night.rows_read_again > 0
    assert _watermarks(county.url, dept_code)[kind] >= watermark


def test_the_own_named_systems_do_not_answer_under_the_catalogues_names(county) -> None:
    """The simulated systems really name things their own way: no schema, table, column or
    API path under the catalogue's names (else the tests above would prove nothing)."""
    with psycopg.connect(exchange_url()) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_schema = 'SPJ_QZK' order by 1, 2, 3"
        ).fetchall()
        catalogue_schema = conn.execute(
            "select count(*) from information_schema.schemata"
            " where schema_name = 'administrative_approval'"
        ).fetchone()[0]
    assert columns and catalogue_schema == 0
    assert {table for _, table, _ in columns} == set(
        sources()["administrative_approval"].exchange.tables.values()
    )
    names = {column for *_, column in columns}
    assert {"JLBH", "GXSJ", "WSH", "SJZT"} <= names
    assert not names & {"record_id", "updated_at", "subject_name", "permit_doc_no"}
    client = api_client()
    for dept_code in ("tobacco", "customs"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{client.base_url}/api/v1/{dept_code}/penalty",
                    headers={"Authorization": f"Bearer {api_token()}"},
                ),
                timeout=10,
            )
        assert refused.value.code == 404


def test_chinese_names_and_a_view_are_read_like_any_table(county) -> None:
    """A view in a schema both named in Chinese, its key, change timestamp and fields too: the
    names are quoted identifiers wherever they become SQL."""
    kind = record_kind("permit")
    with psycopg.connect(exchange_url(), autocommit=True) as conn:
        names = systems.system_names("administrative_approval")
        renamed = sql.SQL(", ").join(
            sql.SQL("{} as {}").format(
                sql.Identifier(names.name(kind.name, column.name)), sql.Identifier(column.label)
            )
            for column in kind.columns
        )
        conn.execute('create schema if not exists "审批局前置库"')
        conn.execute(
            sql.SQL("create or replace view {} as select {} from {}").format(
                sql.Identifier("审批局前置库", '行政许可"视图'), renamed, names.table(kind.name)
            )
        )
    entry = {
        "shape": "exchange_db",
        "organ_uscc": sources()["administrative_approval"].organ_uscc,
        "kinds": ["permit"],
        "exchange": {
            "schema": "审批局前置库",
            "tables": {"permit": '行政许可"视图'},
            "key_column": "记录编号",
            "changed_at_column": "更新时间",
        },
        "field_map": {c.label: c.name for c in kind.columns if c.name not in KEYS},
    }
    source = parse_sources(_registry(审批局=entry))["审批局"]
    until = day_end(NIGHTS[0])
    pulled = exchange_db.pull_table(
        exchange_url(), source.exchange, kind, None, until, source.field_map_of("permit")
    )
    assert sorted(row.values for row in pulled) == _held("administrative_approval", until)["permit"]


def test_a_protocol_the_system_does_not_follow_rejects_the_pull_saying_where(county) -> None:
    """A key column the table does not have, an answer without the rows where the registry
    says they are: the kind's pull is rejected with the reason (nothing of it lands, its
    watermark stays), it is not read as an empty night."""
    approval, tobacco = sources()["administrative_approval"], sources()["tobacco"]
    kind, until = record_kind("permit"), day_end(NIGHTS[0])
    wrong_key = {**approval.field_map_of("permit"), "ID": "record_id"}
    del wrong_key["JLBH"]
    with pytest.raises(RejectedDelivery, match=r"ID.*key and change-timestamp columns"):
        list(
            exchange_db.pull_table(exchange_url(), approval.exchange, kind, None, until, wrong_key)
        )
    elsewhere = ApiProtocol(
        paths=tobacco.api.paths, paging=tobacco.api.paging, rows_path=("data", "list")
    )
    with pytest.raises(RejectedDelivery, match=r"no data\.list"):
        list(
            http_api.pull_api(
                api_client(), elsewhere, kind, None, until, tobacco.field_map_of("permit")
            )
        )


@pytest.mark.parametrize(
    ("dept_code", "paging"),
    [
        ("industry_it", {}),
        ("industry_it", {"next_path": None}),  # pages numbered on until one is empty
        ("tobacco", {}),
        ("tobacco", {"total_path": None}),  # offsets until a page is empty
        ("customs", {}),
    ],
)
def test_every_paging_style_reads_each_row_once_whatever_the_page_size(
    county, dept_code, paging
) -> None:
    """Pages of two rows bring the rows one page of 500 brings, in as many requests as it
    takes (page numbers, offsets or page tokens)."""
    source, until = sources()[dept_code], day_end(LATE_NIGHT)
    held = _held(dept_code, until)
    kind = max(held, key=lambda k: len(held[k]))
    small = replace(source.api, paging=replace(source.api.paging, size=2, **paging))
    requests: list[dict[str, str | int]] = []

    class Counting(http_api.ApiClient):
        def get(self, path: str, params: dict[str, str | int]) -> bytes:
            requests.append(params)
            return super().get(path, params)

    client = api_client()

    def pulled(client: http_api.ApiClient, api: ApiProtocol) -> list[Any]:
        pull = http_api.pull_api(
            client, api, record_kind(kind), None, until, source.field_map_of(kind)
        )
        return [row.values for row in pull]

    whole = pulled(client, source.api)
    assert len(whole) > 4 and pulled(Counting(client.base_url, client.token), small) == whole
    assert len(requests) >= len(whole) / 2


def test_a_system_named_the_catalogues_way_needs_no_protocol_settings() -> None:
    """The defaults are the names the platform always used: schema <dept_code>, a table per
    kind, record_id and updated_at; GET /api/v1/<dept_code>/<kind>, page and page_size,
    updated_since and updated_before, the rows in items, the next page in next_page."""
    plain = {code: s for code, s in sources().items() if code not in OWN_NAMES}
    for code, source in plain.items():
        assert all(source.field_map_of(kind) == {} for kind in source.kinds), code
        if source.shape == "exchange_db":
            assert source.exchange == ExchangeProtocol(schema=code)
            assert source.exchange.table("penalty") == "penalty"
        if source.shape == "http_api":
            assert source.api == ApiProtocol(
                paths={kind: f"/api/v1/{code}/{kind}" for kind in source.kinds}
            )
            assert source.api.paging == Paging("page", "page", "page_size", 500, ("next_page",))
            assert (source.api.since_param, source.api.until_param) == (
                "updated_since",
                "updated_before",
            )
            assert source.api.rows_path == ("items",)
    assert {s.shape for s in plain.values()} == {"exchange_db", "drop_folder", "http_api"}


def _registry(**entries: dict[str, Any]) -> dict[str, Any]:
    """The shipped registry with some sources replaced or added."""
    with SOURCES_FILE.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    raw["sources"].update(copy.deepcopy(entries))
    return raw


def _changed(dept_code: str, **settings: Any) -> dict[str, Any]:
    entry = copy.deepcopy(_registry()["sources"][dept_code])
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key] = {**entry[key], **value}
        else:
            entry[key] = value
    return _registry(**{dept_code: entry})


BAD_CONFIGURATIONS = [
    (
        _changed("administrative_approval", exchange={"shema": "SPJ"}),
        "administrative_approval.exchange: unknown setting 'shema'",
    ),
    (_changed("finance", feild_map={}), "finance: unknown setting 'feild_map'"),
    (
        _changed("administrative_approval", exchange={"schema": "审批局" * 22}),
        "administrative_approval.exchange.schema: '审批局审批局.*' is longer than PostgreSQL's 63",
    ),
    (
        _changed("administrative_approval", exchange={"tables": {"permit": ""}}),
        "administrative_approval.exchange.tables.permit: expected a name, got ''",
    ),
    (
        _changed("administrative_approval", exchange={"key_column": "JLBH\n; drop table x"}),
        "administrative_approval.exchange.key_column: .* holds a control character",
    ),
    (
        _changed("administrative_approval", exchange={"tables": {"penalty": "V_XZCF"}}),
        "administrative_approval.exchange.tables: 'penalty' is not one of the source's kinds",
    ),
    (
        _changed(
            "administrative_approval", exchange={"key_column": "JLBH", "changed_at_column": "JLBH"}
        ),
        "administrative_approval.exchange: the key and the change timestamp are both 'JLBH'",
    ),
    (
        _changed("administrative_approval", field_map={"XDR_MC": "subject_nam"}),
        "administrative_approval.field_map.XDR_MC: 'subject_nam' is not a column",
    ),
    (
        _changed("administrative_approval", field_map={"ID": "record_id"}),
        "administrative_approval.field_map.ID: record_id is named by"
        " administrative_approval.exchange.key_column",
    ),
    (
        _changed("administrative_approval", kind_field_maps={"permit": {"XKWSH": "WSH"}}),
        "administrative_approval.kind_field_maps.permit.XKWSH: 'WSH' is not a column",
    ),
    (
        _changed(
            "administrative_approval", field_map={"XDR_MC": "subject_name", "MC": "subject_name"}
        ),
        "administrative_approval: permit.subject_name is mapped from both 'XDR_MC' and 'MC'",
    ),
    (
        _changed("tobacco", field_map={"ts": "updated_at"}),
        "tobacco.field_map.ts: updated_at is named by tobacco.api.changed_at_field",
    ),
    (
        _changed("tobacco", api={"paging": {"style": "seek"}}),
        "tobacco.api.paging.style: unknown paging style 'seek'",
    ),
    (
        _changed("tobacco", api={"paging": {"style": "offset", "page_param": "p"}}),
        r"tobacco.api.paging \(offset\): unknown setting 'page_param'",
    ),
    (
        _changed("tobacco", api={"paging": {"style": "page", "page_size": 0}}),
        "tobacco.api.paging.page_size: 0 is not a whole number of rows above 0",
    ),
    (
        _changed("customs", api={"paging": {"style": "cursor", "next_cursor_path": None}}),
        "customs.api.paging.next_cursor_path: a cursor API must say where the next is",
    ),
    (
        _changed("customs", api={"path": "/gateway/{department}/{kind}"}),
        "customs.api.path: .* has a placeholder other than {dept_code}, {kind}",
    ),
    (
        _changed("tobacco", api={"paths": {"permit": "yc/openapi/xzxk/list?all=1"}}),
        "tobacco.api.paths.permit: .* is not a path from the API's root",
    ),
    (_changed("tobacco", api={"rows_path": "data..rows"}), "tobacco.api.rows_path: .* empty key"),
    (
        _changed("public_security", api={"path": "/x/{kind}"}),
        "public_security.api: api settings are for http_api sources; this one is exchange_db",
    ),
    (_changed("customs", kinds=["permit", "customs"]), "customs.kinds: 'customs' is not a"),
]


@pytest.mark.parametrize(
    ("raw", "message"),
    BAD_CONFIGURATIONS,
    ids=[message.split(":")[0] for _, message in BAD_CONFIGURATIONS],
)
def test_a_configuration_the_platform_cannot_follow_fails_as_it_is_loaded(raw, message) -> None:
    with pytest.raises(SourcesError, match=message):
        parse_sources(raw)


def test_the_shipped_registry_is_what_the_loader_checks() -> None:
    """The file as shipped loads through the same checks the bad ones fail."""
    assert parse_sources(_registry()) == sources()
