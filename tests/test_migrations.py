"""Upgrades without loss: the warehouse's own schemas under versioned migrations.

A warehouse the previous release built (``fixtures/previous_release.sql.gz``, made by that
release's own code; its header says how) is restored into a fresh database and upgraded in
place: every row of every table is still there unchanged, it is at head, it has the schema a new
warehouse has, and a night lands on it.
"""

from __future__ import annotations

import gzip
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from credit import landing, migrations, warehouse
from credit.catalogue import Column, record_kind, record_kinds
from credit.landing import Batch, SourceRow, land_batch

PREVIOUS_RELEASE = Path(__file__).parent / "fixtures" / "previous_release.sql.gz"
OWN_SCHEMAS = ("raw", "audit", "quarantine")


def restore_previous_release(name: str) -> str:
    """A fresh database ``<test warehouse>_<name>`` holding the previous release's warehouse."""
    url = warehouse.database_url(name)
    warehouse.drop_database(url)
    warehouse.ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(gzip.decompress(PREVIOUS_RELEASE.read_bytes()).decode())
    return url


def tables(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every table of the warehouse's own schemas, with its columns."""
    rows = conn.execute(
        """
        select n.nspname || '.' || c.relname, array_agg(a.attname::text order by a.attnum)
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = any(%s) and c.relkind = 'r'
        group by 1
        """,
        (list(OWN_SCHEMAS),),
    )
    return dict(rows.fetchall())


def row_hashes(conn: psycopg.Connection, table: str, columns: list[str]) -> Counter[str]:
    """The MD5 of each row's text over ``columns``, counted (tables without a key included)."""
    query = sql.SQL("select md5(row({})::text) from {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(*table.split("."))
    )
    return Counter(row[0] for row in conn.execute(query))


def schema_of(conn: psycopg.Connection) -> dict[str, set[tuple]]:
    """What a warehouse's own schemas are made of, whatever order it was built in: columns,
    constraints, indexes, and the functions landing needs."""
    own = list(OWN_SCHEMAS)
    columns = conn.execute(
        """
        select table_schema, table_name, column_name, data_type, is_nullable, column_default,
            is_identity, identity_generation
        from information_schema.columns where table_schema = any(%s)
        """,
        (own,),
    )
    constraints = conn.execute(
        """
        select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        from pg_constraint as c join pg_namespace as n on n.oid = c.connamespace
        where n.nspname = any(%s)
        """,
        (own,),
    )
    indexes = conn.execute(
        "select schemaname, indexname, indexdef from pg_indexes where schemaname = any(%s)", (own,)
    )
    functions = conn.execute(
        """
        select p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'raw' or p.oid = 'audit.sha256_hex(text)'::regprocedure
        """
    )
    return {
        "columns": set(columns.fetchall()),
        "constraints": set(constraints.fetchall()),
        "indexes": set(indexes.fetchall()),
        "functions": set(functions.fetchall()),
    }


def permit_batch(permit_doc_no: str) -> Batch:
    kind = record_kind("permit")
    return Batch(
        dept_code="justice",
        kind=kind,
        shape="exchange_db",
        logical_date=date(2026, 1, 7),
        source_ref="test",
        rows=[SourceRow("test:1", {"permit_doc_no": permit_doc_no, "change_type": "新增"})],
        received_at=datetime(2026, 1, 8, tzinfo=UTC),
    )


def upgraded_new_warehouse(database: str) -> str:
    """A fresh database ``<test warehouse>_<database>``, upgraded to head from nothing."""
    url = warehouse.database_url(database)
    warehouse.drop_database(url)
    warehouse.ensure_database(url)
    upgrade = migrations.upgrade(url)
    assert (upgrade.from_revision, upgrade.earlier_release) == (None, False)
    assert sorted(upgrade.raw_changes) == sorted(f"raw.{name} created" for name in record_kinds())
    return url


@pytest.fixture(scope="module")
def new_warehouse(warehouse_url: str) -> str:
    """A new warehouse; tests may land rows in it, not change its schema."""
    return upgraded_new_warehouse("migrations_new")


def test_a_warehouse_of_the_previous_release_upgrades_in_place(new_warehouse: str) -> None:
    url = restore_previous_release("migrations_previous")
    with psycopg.connect(url, autocommit=True) as conn:
        before = tables(conn)
        hashes = {table: row_hashes(conn, table, columns) for table, columns in before.items()}
        assert migrations.current_revision(conn) is None
        assert not migrations.is_at_head(conn)
    assert all(rows for table, rows in hashes.items() if not table.startswith("raw."))
    assert hashes["raw.permit"].total() == 24

    upgrade = migrations.upgrade(url)
    assert (upgrade.from_revision, upgrade.earlier_release) == (None, True)
    assert upgrade.to_revision == migrations.head_revision()

    with psycopg.connect(url, autocommit=True) as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()
        assert migrations.is_at_head(conn)
        after = tables(conn)
        for table, columns in before.items():
            assert set(columns) <= set(after[table]), f"{table} lost a column"
            assert row_hashes(conn, table, columns) == hashes[table], f"{table} changed"
        upgraded = schema_of(conn)
        # A night lands on it: the batch numbered after the previous release's, the row hashed.
        last = conn.execute("select max(batch_id) from audit.batches").fetchone()[0]
        with conn.transaction():
            batch_id = land_batch(conn, permit_batch("澄司许〔2026〕1号"))
        assert batch_id == last + 1
        landed = conn.execute(
            "select raw.row_hash(p) from raw.permit as p where batch_id = %s", (batch_id,)
        ).fetchone()
        assert landed[0] is not None
    with psycopg.connect(new_warehouse) as conn:
        assert schema_of(conn) == upgraded


def test_a_validated_batch_that_does_not_add_up_is_refused(new_warehouse: str) -> None:
    """Revision 0002: the warehouse itself keeps promise 2 for a validated batch."""
    with psycopg.connect(new_warehouse, autocommit=True) as conn:
        with conn.transaction():
            batch_id = land_batch(conn, permit_batch("澄司许〔2026〕2号"))
        for accepted, quarantined in ((0, 0), (1, 1), (None, 1), (2, -1)):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    "update audit.batches set status = 'validated', rows_accepted = %s,"
                    " rows_quarantined = %s where batch_id = %s",
                    (accepted, quarantined, batch_id),
                )
        conn.execute(
            "update audit.batches set status = 'validated', rows_accepted = 0,"
            " rows_quarantined = 1 where batch_id = %s",
            (batch_id,),
        )


def test_upgrading_a_warehouse_at_head_changes_nothing(warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        assert migrations.is_at_head(conn)
        before = schema_of(conn)
    upgrade = migrations.upgrade(warehouse_url)
    assert not upgrade.changed
    assert upgrade.from_revision == upgrade.to_revision == migrations.head_revision()
    with psycopg.connect(warehouse_url) as conn:
        assert schema_of(conn) == before


def test_the_head_is_alembics_one_head() -> None:
    """:func:`credit.migrations.head_revision` reads the files' names; Alembic reads the
    files: one line of revisions, whose last is that head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert script.get_heads() == [migrations.head_revision()]
    numbers = [revision for revision, _ in migrations.history()]
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]


def test_a_column_the_catalogue_adds_lands_without_loss(warehouse_url: str, monkeypatch) -> None:
    """The catalogue adds a column to a kind: the warehouse is behind, the upgrade adds the
    column as nullable text, and the rows landed before keep their content hash."""
    url = upgraded_new_warehouse("migrations_catalogue")
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            batch_id = land_batch(conn, permit_batch("澄司许〔2026〕3号"))
        hash_before = conn.execute(
            "select raw.row_hash(p) from raw.permit as p where batch_id = %s", (batch_id,)
        ).fetchone()[0]
        permit = record_kind("permit")
        added = Column("permit_scope_note", "许可范围说明", "text", mandatory=False)
        catalogue = {**record_kinds(), "permit": replace(permit, columns=(*permit.columns, added))}
        monkeypatch.setattr(landing, "record_kinds", lambda: catalogue)
        assert landing.raw_tables_behind(conn) == {"permit": ("permit_scope_note",)}
        assert not migrations.is_at_head(conn)

        upgrade = migrations.upgrade(url)
        assert upgrade.raw_changes == ("raw.permit.permit_scope_note added",)
        assert upgrade.from_revision == upgrade.to_revision
        assert migrations.is_at_head(conn)
        assert conn.execute(
            "select raw.row_hash(p), p.permit_scope_note from raw.permit as p where batch_id = %s",
            (batch_id,),
        ).fetchone() == (hash_before, None)


def test_raw_tables_of_an_earlier_release_take_the_previous_releases_shape() -> None:
    """A raw table from a release before the previous one stored the hash (a generated
    ``row_hash`` column), checked each row's batch by a foreign key and indexed its rows and
    batches by B-trees: revision 0001 drops the four (one BRIN index instead), keeps its rows,
    and ``raw.row_hash`` gives what the stored hash held; the delivered files lose their
    foreign key too; the tables that release made only when first used are created; upgrading
    again changes nothing."""
    url = restore_previous_release("migrations_earlier")
    with psycopg.connect(url, autocommit=True) as conn:
        hashes = conn.execute(
            "select raw_row_id, raw.row_hash(p) from raw.permit as p order by 1"
        ).fetchall()
        conn.execute("drop index raw.permit_lineage_idx")
        conn.execute("drop function raw.row_hash(raw.permit)")
        conn.execute("alter table raw.permit add primary key (raw_row_id)")
        conn.execute("create index permit_batch_idx on raw.permit (batch_id)")
        conn.execute("alter table raw.permit add column row_hash text")
        conn.cursor().executemany(
            "update raw.permit set row_hash = %s where raw_row_id = %s",
            [(row_hash, raw_row_id) for raw_row_id, row_hash in hashes],
        )
        conn.execute("alter table raw.permit add foreign key (batch_id) references audit.batches")
        conn.execute(
            "alter table audit.delivered_files add foreign key (batch_id) references audit.batches"
        )
        # That release created the export log at the first export: this warehouse had none.
        conn.execute("drop table audit.deliveries, audit.exports")

    assert migrations.upgrade(url).earlier_release
    with psycopg.connect(url, autocommit=True) as conn:
        stored = conn.execute(
            "select count(*) from pg_attribute"
            " where attrelid = 'raw.permit'::regclass and attname = 'row_hash' and not attisdropped"
        ).fetchone()[0]
        assert stored == 0
        keys = conn.execute(
            "select count(*) from pg_constraint where conrelid in"
            " ('raw.permit'::regclass, 'audit.delivered_files'::regclass) and contype in ('f', 'p')"
        ).fetchone()[0]
        assert keys == 1  # the delivered files' primary key
        indexes = conn.execute(
            "select c.relname, am.amname from pg_index as i"
            " join pg_class as c on c.oid = i.indexrelid join pg_am as am on am.oid = c.relam"
            " where i.indrelid = 'raw.permit'::regclass"
        ).fetchall()
        assert indexes == [("permit_lineage_idx", "brin")]
        assert (
            conn.execute(
                "select raw_row_id, raw.row_hash(p) from raw.permit as p order by 1"
            ).fetchall()
            == hashes
        )
        assert conn.execute("select count(*) from audit.exports, audit.deliveries").fetchone() == (
            0,
        )
        relfile = conn.execute("select pg_relation_filenode('raw.permit')").fetchone()[0]
        assert not migrations.upgrade(url).changed
        assert conn.execute("select pg_relation_filenode('raw.permit')").fetchone()[0] == relfile


def test_tasks_upgrading_at_once_upgrade_once(warehouse_url: str) -> None:
    """A night's tasks start together on a warehouse behind: one upgrades, the others wait
    for it and find it at head."""
    url = warehouse.database_url("migrations_together")
    warehouse.drop_database(url)
    warehouse.ensure_database(url)
    with ThreadPoolExecutor(4) as pool:
        upgrades = list(pool.map(lambda _: migrations.upgrade(url), range(4)))
    assert sorted(upgrade.changed for upgrade in upgrades) == [False, False, False, True]
