"""Landing: the content hash PostgreSQL computes, NUL text, the night's statistics."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from credit import ingest, migrations, warehouse
from credit.catalogue import record_kind
from credit.connectors import drop_folder, http_api
from credit.landing import Batch, SourceRow, land_batch, storable
from credit.sources import ApiProtocol

KIND = record_kind("permit")


@pytest.fixture(scope="module")
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """A database of its own: one test counts the analyses of its raw table."""
    url = warehouse.database_url("landing")
    warehouse.ensure_database(url)
    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        yield connection
    warehouse.drop_database(url)


def expected_hash(values: dict[str, str | None]) -> str:
    """The documented definition, in Python: SHA-256 of ``'name'='value',`` for each column
    that is not NULL, by column name, values quoted as ``quote_literal`` quotes them."""

    def quoted(text: str) -> str:
        body = "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"
        return "E" + body if "\\" in text else body

    text = "".join(
        f"{quoted(name)}={quoted(values[name])}," for name in sorted(values) if values[name]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def land(conn: psycopg.Connection, rows: list[dict[str, str | None] | SourceRow]) -> list[tuple]:
    with conn.transaction():
        batch_id = land_batch(
            conn,
            Batch(
                dept_code="justice",
                kind=KIND,
                shape="exchange_db",
                logical_date=date(2026, 3, 2),
                source_ref="test",
                rows=[
                    values if isinstance(values, SourceRow) else SourceRow(f"test:{i}", values)
                    for i, values in enumerate(rows)
                ],
                received_at=datetime(2026, 3, 3, 1, tzinfo=UTC),
            ),
        )
    return conn.execute(
        "select raw.row_hash(p), parse_problem, permit_doc_no, received_at, remarks, extra_fields"
        " from raw.permit as p where batch_id = %s order by raw_row_id",
        (batch_id,),
    ).fetchall()


def row(**values: str | None) -> dict[str, str | None]:
    base: dict[str, str | None] = dict.fromkeys(KIND.column_names)
    base.update(subject_name="江阴市某某机械有限公司", permit_doc_no="澄许〔2026〕1号")
    base.update(values)
    return base


def test_row_hash_is_computed_by_postgresql_as_documented(conn: psycopg.Connection) -> None:
    rows = [
        row(),
        row(),  # the same content: the same hash
        row(permit_doc_no="澄许〔2026〕2号"),
        row(remarks="O'Brien \\ 备注"),  # quotes and a backslash
        row(remarks=""),  # empty is not NULL
    ]
    landed = land(conn, rows)
    hashes = [h for h, *_ in landed]
    assert hashes[0] == hashes[1] and len(set(hashes)) == 4
    assert hashes[:4] == [expected_hash(values) for values in rows[:4]]
    assert landed[0][3] == datetime(2026, 3, 3, 1, tzinfo=UTC)


@contextmanager
def serving(body: bytes) -> Iterator[str]:
    """An HTTP server answering every GET with ``body`` (a page of JSON), on a free port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_nul_is_replaced_where_it_is_read_and_the_row_marked(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    """PostgreSQL text cannot hold NUL: a drop file or an API page that holds one has each
    replaced by U+FFFD where it is read, the row marked when a column held it; the six
    characters backslash-u0000 are text, landed as sent (in extra fields' JSON too)."""
    folder = tmp_path / "justice"
    folder.mkdir()
    labels = [column.label for column in KIND.columns]
    index = KIND.column_names.index
    line = ["江阴市某某机械有限公司"] * len(labels)
    cut, escaped = list(line), list(line)
    cut[index("permit_doc_no")] = "澄许\x001号"
    escaped[index("remarks")] = "a\\u0000b"
    csv_file = folder / "permit_20260302.csv"
    csv_file.write_text("\n".join(",".join(cells) for cells in (labels, cut, escaped)) + "\n")
    csv_rows = drop_folder.parse(drop_folder.identify(csv_file)).rows

    item = {
        "record_id": "r1",
        "updated_at": "2026-03-02T09:00:00+08:00",
        "permit_doc_no": "澄许\x002号",
        "remarks": "a\\u0000b",
        "note": "附\x00注",
        "memo": "a\\u0000b",
    }
    body = json.dumps({"items": [item, {**item, "record_id": "r2", "permit_doc_no": "3号"}]})
    with serving(body.encode()) as url:
        pull = http_api.pull_api(
            http_api.ApiClient(url, "token"),
            ApiProtocol(paths={KIND.name: f"/api/v1/justice/{KIND.name}"}),
            KIND,
            None,
            datetime(2026, 3, 3, tzinfo=UTC),
        )
        api_rows = list(pull)

    landed = land(conn, [*csv_rows, *api_rows])
    problem, doc_no, remarks, extra = zip(*(r[1:3] + r[4:6] for r in landed), strict=True)
    assert doc_no == ("澄许\ufffd1号", "江阴市某某机械有限公司", "澄许\ufffd2号", "3号")
    assert problem == (
        "NUL character in the source text",
        None,
        "NUL character in the source text",
        None,
    )
    assert remarks[1:] == ("a\\u0000b",) * 3
    assert extra[2]["note"] == extra[3]["note"] == "附\ufffd注"
    assert extra[2]["memo"] == "a\\u0000b"


def test_a_row_without_nul_is_left_as_it_is() -> None:
    source = SourceRow("test:1", row(remarks="a\\u0000b"), {"note": "x"})
    assert storable(source) is source


def test_the_night_analyses_a_table_it_changed_by_a_tenth(conn: psycopg.Connection) -> None:
    """The night's end analyses a raw table when the rows landed since its last analysis reach a
    tenth of it (autovacuum's rule), and leaves a big table's statistics alone for a few rows."""
    url = conn.info.dsn

    def land_and_analyse(rows: int) -> int:
        """Rows landed, the landing's statistics flushed, the night's end run: times analysed."""
        land(conn, [row(permit_doc_no=f"澄许〔2026〕{i}号") for i in range(rows)])
        conn.execute("select pg_stat_force_next_flush()")
        ingest.analyze_night(url, date(2026, 3, 2))
        return conn.execute(
            "select analyze_count from pg_stat_user_tables where relid = 'raw.permit'::regclass"
        ).fetchone()[0]

    analysed = land_and_analyse(200)
    size = conn.execute("select reltuples from pg_class where oid = 'raw.permit'::regclass")
    tenth = int(size.fetchone()[0] / 10)
    assert land_and_analyse(tenth - 5) == analysed
    assert land_and_analyse(10) == analysed + 1
