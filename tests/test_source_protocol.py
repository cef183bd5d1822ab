"""A department's system as it really is (接口约定): the registry's protocol settings, their
defaults and their checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from credit.sources import (
    SOURCES_FILE,
    ApiProtocol,
    ExchangeProtocol,
    Paging,
    SourcesError,
    parse_sources,
    sources,
)


def test_a_system_named_the_catalogues_way_needs_no_protocol_settings() -> None:
    """The defaults are the names the platform always used: schema <dept_code>, a table per
    kind, record_id and updated_at; GET /api/v1/<dept_code>/<kind>, page and page_size,
    updated_since and updated_before, the rows in items, the next page in next_page."""
    plain = sources()
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
