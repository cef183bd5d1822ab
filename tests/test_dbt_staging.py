"""dbt staging, subjects and credit records, built over a simulated county's ingested nights.

The county is ingested in two nights (so the second build runs the incremental staging, fact
and evaluation on a delta, and must equal a build from scratch); every dbt test must pass, no
clear resident ID may leave the raw schema, and the counts must match the accepted rows of the
landing tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from county_sim import truth
from credit import dbt_codegen, identifiers
from credit.catalogue import record_kinds
from credit.dbt import DbtError, run_dbt
from credit.ingest import ingest_source, reconcile_night, validate_pending
from credit.sources import sources
from tests.county import County, simulated_county, source_ref

FIRST_DAY = dt.date(2026, 1, 5)  # a Monday
FIRST_NIGHT = dt.date(2026, 1, 9)
SECOND_NIGHT = dt.date(2026, 1, 14)
# The second night collects only from these systems (all three shapes), to keep the test short;
# in this county (seed 11) they send new versions of records first sent before FIRST_NIGHT.
SECOND_NIGHT_SOURCES = ("market_regulation", "ecology_environment", "justice", "tobacco")
# The registrars' systems are down on the first night: their register (every existing subject,
# sent on the county's first day) arrives on the second, market regulation's alone, so records
# named by a legacy identifier wait a night for the registration that links them.
REGISTRARS = ("market_regulation", "civil_affairs", "staffing_office")
BUILT_SCHEMAS = ("staging", "intermediate", "marts", "snapshots")


def test_committed_staging_equals_generated() -> None:
    generated = dbt_codegen.generate_all()
    for path, text in generated.items():
        assert path.exists(), f"run: python -m credit.dbt_codegen ({path} missing)"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} differs from the catalogue; regenerate: python -m credit.dbt_codegen"
        )
    committed = set(dbt_codegen.STAGING_DIR.iterdir()) | set(
        dbt_codegen.CATALOGUE_MACRO.parent.iterdir()
    )
    assert committed == set(generated), "stale generated files"


def test_keyword_names_are_the_ones_sqlfluff_is_told_of() -> None:
    from sqlfluff.core import FluffConfig
    from sqlfluff.core.dialects import dialect_selector

    dialect = dialect_selector("postgres")
    keywords = {
        word.lower()
        for word in dialect.sets("unreserved_keywords") | dialect.sets("reserved_keywords")
    }
    names = {name for kind in record_kinds().values() for name in dbt_codegen.staging_columns(kind)}
    config = FluffConfig.from_root()
    ignored = config.get("ignore_words", ["rules", "references.keywords"])
    assert names & keywords == set(ignored.split(","))


@pytest.fixture(scope="module")
def built(tmp_path_factory, warehouse_url) -> Iterator[County]:
    """A county ingested over two nights, dbt built after each. The second night's subjects are
    read as a catch-up's are (``subjects_read_by_index`` 0: the staging tables joined whole); the
    nights of the other tests read theirs by index."""
    with simulated_county(tmp_path_factory, "dbt", FIRST_DAY, SECOND_NIGHT) as county:
        _ingest_night(FIRST_NIGHT, [code for code in sources() if code not in REGISTRARS])
        run_dbt(["seed"])
        run_dbt(["run"])
        _ingest_night(SECOND_NIGHT, SECOND_NIGHT_SOURCES)
        run_dbt(
            [
                "build",
                "--exclude-resource-type",
                "unit_test",  # those: test_dbt_warnings
                "--vars",
                json.dumps({"subjects_read_by_index": 0}),
            ]
        )
        yield county


def _ingest_night(day: dt.date, dept_codes: Sequence[str]) -> None:
    """One night that collects everything the systems hold up to ``day``."""
    for dept_code in dept_codes:
        ingest_source(dept_code, day)
    validate_pending()
    reconcile_night(day)


def _accepted(conn: psycopg.Connection, kind: str) -> set[int]:
    return {
        row[0]
        for row in conn.execute(
            sql.SQL(
                "select r.raw_row_id from raw.{} r"
                " join audit.batches b on b.batch_id = r.batch_id and b.status = 'validated'"
                " where not exists (select from quarantine.rejected_rows q"
                "  where q.record_kind = %s and q.raw_row_id = r.raw_row_id)"
            ).format(sql.Identifier(kind)),
            (kind,),
        )
    }


def test_staging_holds_exactly_the_accepted_rows(built) -> None:
    with psycopg.connect(built.url) as conn:
        quarantined = conn.execute("select count(*) from quarantine.rejected_rows").fetchone()[0]
        assert quarantined > 0, "the county should have delivered defects"
        for name, kind in record_kinds().items():
            model = sql.Identifier(dbt_codegen.staging_model(name))
            staged = {
                row[0]
                for row in conn.execute(sql.SQL("select raw_row_id from staging.{}").format(model))
            }
            assert staged == _accepted(conn, name), name
            latest = conn.execute(
                sql.SQL(
                    "select count(*) filter (where is_latest), count(distinct record_key)"
                    " from staging.{}"
                ).format(model)
            ).fetchone()
            assert latest[0] == latest[1], name
            columns = [
                row[0]
                for row in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'staging' and table_name = %s order by ordinal_position",
                    (dbt_codegen.staging_model(name),),
                )
            ]
            assert columns == dbt_codegen.staging_columns(kind), f"{name}: documented columns"


def test_credit_records_count_every_accepted_version_once(built) -> None:
    with psycopg.connect(built.url) as conn:
        accepted = {(name, i) for name in record_kinds() for i in _accepted(conn, name)}
        facts = conn.execute(
            "select record_kind, raw_row_id from marts.fct_credit_records"
        ).fetchall()
        assert len(facts) == len(set(facts))
        assert set(facts) == accepted
        # The second night touched records of the first: their flags were re-written.
        stale = conn.execute(
            """
            select count(*) from marts.fct_credit_records f
            join lateral (
                select max(raw_row_id) filter (where rank = 1) as latest_row
                from (
                    select raw_row_id, row_number() over (
                        order by updated_at desc, raw_row_id desc) as rank
                    from marts.fct_credit_records g
                    where g.record_kind = f.record_kind and g.record_key = f.record_key
                ) ranked
            ) l on true
            where f.is_latest_version <> (f.raw_row_id = l.latest_row)
            """
        ).fetchone()[0]
        assert stale == 0
        across_nights = conn.execute(
            "select count(*) from (select 1 from marts.fct_credit_records"
            " group by record_kind, record_key having count(distinct logical_date) = 2) r"
        ).fetchone()[0]
        assert across_nights > 0, "no record got a new version on the second night"


def test_credit_records_are_indexed_for_lookups_and_the_nightly_delta(built) -> None:
    """A dossier's records by subject, the incremental key (unique) and the night's batches."""
    with psycopg.connect(built.url) as conn:
        indexes = {
            (tuple(columns), unique)
            for columns, unique in conn.execute(
                """
                select array_agg(a.attname::text order by k.position), i.indisunique
                from pg_index i
                cross join lateral unnest(i.indkey) with ordinality as k(attnum, position)
                join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                where i.indrelid = 'marts.fct_credit_records'::regclass
                group by i.indexrelid, i.indisunique
                """
            )
        }
    assert {
        (("subject_key",), False),
        (("record_kind", "raw_row_id"), True),
        (("batch_id",), False),
    } <= indexes


def test_the_marts_and_seeds_carry_their_descriptions_as_comments(built) -> None:
    """persist_docs: ``\\d+`` in psql shows the YAML descriptions of the analysts' tables."""
    with psycopg.connect(built.url) as conn:
        table, column = conn.execute(
            "select obj_description('marts.dim_subjects'::regclass),"
            " col_description('marts.dim_subjects'::regclass, 1)"
        ).fetchone()
        uncommented_marts = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'marts' and c.relkind = 'r'"
            " and obj_description(c.oid, 'pg_class') is null"
        ).fetchone()[0]
        seed = conn.execute("select obj_description('rules.grade_thresholds'::regclass)").fetchone()
    assert table.startswith("信用主体 Credit subjects")
    assert column.startswith("主体键 Subject key")
    assert uncommented_marts == 0
    assert seed[0]


def test_one_subject_row_per_subject_key(built) -> None:
    with psycopg.connect(built.url) as conn:
        rows, keys = conn.execute(
            "select count(*), count(distinct subject_key) from marts.dim_subjects"
        ).fetchone()
        staged = conn.execute(
            "select count(distinct subject_key) from marts.fct_credit_records"
            " where subject_key is not null"
        ).fetchone()[0]
        kinds = dict(
            conn.execute("select subject_kind, count(*) from marts.dim_subjects group by 1")
        )
        history = conn.execute(
            "select count(*), count(distinct subject_key) from snapshots.subjects_snapshot"
        ).fetchone()
    assert rows == keys == staged
    assert set(kinds) == {"organisation", "individual_business", "natural_person"}
    assert history[1] == rows


def test_no_clear_resident_id_outside_raw(built) -> None:
    with psycopg.connect(built.url) as conn:
        columns = conn.execute(
            """
            select table_schema, table_name, column_name from information_schema.columns
            where table_schema = any(%s) and data_type in ('text', 'character varying')
            """,
            (list(BUILT_SCHEMAS),),
        ).fetchall()
        assert len({(s, t) for s, t, _ in columns}) > 2 * len(record_kinds())
        clear_ids = _raw_resident_ids(conn)
        assert clear_ids
        by_table: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in columns:
            by_table.setdefault((schema, table), []).append(column)
        found = []
        # One scan of each table (a view computes itself once) for all its text columns.
        for (schema, table), names in by_table.items():
            values = conn.execute(
                sql.SQL(
                    "select distinct found.name, found.value from {table} as t"
                    " cross join lateral (values {columns}) as found (name, value)"
                    " where length(found.value) = 18"
                ).format(
                    table=sql.Identifier(schema, table),
                    columns=sql.SQL(", ").join(
                        sql.SQL("({}, t.{}::text)").format(sql.Literal(name), sql.Identifier(name))
                        for name in names
                    ),
                )
            )
            found += [
                (schema, table, column, value)
                for column, value in values
                if value in clear_ids or _looks_like_resident_id(value)
            ]
    assert found == []


def _looks_like_resident_id(value: str) -> bool:
    # Some USCCs are all digits and pass the resident-ID checks too (1 in ~11 of those with a
    # date-like middle): a value valid as both is a USCC here, clear IDs are caught by value.
    return (
        identifiers.check_resident_id(value).is_valid and not identifiers.check_uscc(value).is_valid
    )


def _raw_resident_ids(conn: psycopg.Connection) -> set[str]:
    """Every resident ID the raw layer holds, in normal form."""
    found: set[str] = set()
    for kind in record_kinds().values():
        for column in kind.columns:
            if column.identifier == "resident_id":
                rows = conn.execute(
                    sql.SQL("select distinct {} from raw.{} where {} is not null").format(
                        sql.Identifier(column.name),
                        sql.Identifier(kind.name),
                        sql.Identifier(column.name),
                    )
                )
                found |= {identifiers.normalise(value) for (value,) in rows}
    return found


def test_sql_hash_and_mask_equal_python(built) -> None:
    samples = ["32028119800101123X", "320281198001011237", " ３２０２８１１９８００１０１１２３x "]
    with psycopg.connect(built.url) as conn:
        samples += [
            row[0]
            for row in conn.execute(
                "select id_number from raw.penalty where id_number is not null limit 20"
            )
        ]
        for value in samples:
            hashed, masked = conn.execute(
                "select audit.hash_identifier(%s), audit.mask_identifier(%s)", (value, value)
            ).fetchone()
            assert hashed == identifiers.hash_identifier(value), value
            assert masked == identifiers.mask_resident_id(value), value


def test_docs_generate_describes_the_marts(built) -> None:
    run_dbt(["docs", "generate"])
    catalog = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "catalog.json").read_text())
    documented = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert {
        "dim_subjects",
        "fct_credit_records",
        "fct_dishonesty_records",
        "dossiers",
    } <= documented


def test_a_record_named_by_a_legacy_identifier_lands_on_the_subject_its_registration_links(
    built,
) -> None:
    """Rows naming an old subject by its registration number or organisation code are accepted
    and keyed by the subject's USCC once a registration links the identifier, also when the
    registration came a night after the row (the incremental fact re-writes the row)."""
    sent = {
        (line["record_kind"], source_ref(line["source_row"])): line
        for line in truth.read(built.truth, "legacy_identifiers")
    }
    defective = {
        (line["record_kind"], source_ref(line["source_row"]))
        for line in truth.read(built.truth, "defects")
    }
    with psycopg.connect(built.url) as conn:
        links = dict(
            conn.execute("select legacy_identifier, uscc from staging.stg_legacy_identifier_links")
        )
        facts = {
            (kind, ref): (subject_key, legacy, night)
            for kind, ref, subject_key, legacy, night in conn.execute(
                "select record_kind, source_ref, subject_key, legacy_identifier, logical_date"
                " from marts.fct_credit_records"
            )
        }
        landed = {
            (kind, ref)
            for kind in record_kinds()
            for (ref,) in conn.execute(
                sql.SQL("select source_ref from raw.{}").format(sql.Identifier(kind))
            )
        }
        linked_on = dict(
            conn.execute(
                """select l.legacy_identifier, min(r.logical_date)
                   from staging.stg_legacy_identifier_links l
                   join staging.stg_raw__registrations r
                     on l.legacy_identifier in (r.registration_number, substr(r.uscc, 9, 9))
                   group by 1"""
            )
        )
        unlinked_subjects = dict(
            conn.execute(
                "select subject_key, uscc from marts.dim_subjects"
                " where legacy_identifier is not null"
            )
        )
    clean = [key for key in sent if key in landed and key not in defective]
    assert clean, "the county sent no clean row with a legacy identifier"
    assert all(key in facts for key in clean), "a clean row with a legacy identifier was lost"
    late = 0
    for key, (subject_key, legacy, night) in facts.items():
        if legacy is None:
            continue
        line = sent[key]
        assert legacy == line["legacy_identifier"]
        if legacy in links:
            assert links[legacy] == line["uscc"], key
            assert subject_key == line["uscc"], key
            late += night < linked_on[legacy]
        else:
            assert subject_key == legacy, key
            assert unlinked_subjects[legacy] is None
    assert any(legacy in links for _, legacy, _ in facts.values())
    assert late > 0, "no row was linked by a registration of a later night"


def _second_version(conn: psycopg.Connection, *, written_last: bool) -> tuple[str, int]:
    """A staging model and a version of a record, not its latest, that the model's last build
    wrote (``written_last``) or an earlier one did."""
    for kind in record_kinds():
        model = dbt_codegen.staging_model(kind)
        found = conn.execute(
            sql.SQL(
                "select raw_row_id from staging.{0} where not is_latest"
                " and (staged_at = (select max(staged_at) from staging.{0})) = %s limit 1"
            ).format(sql.Identifier(model)),
            (written_last,),
        ).fetchone()
        if found:
            return model, found[0]
    raise AssertionError(f"no older version {'' if written_last else 'not '}written last")


@pytest.mark.parametrize("written_last", [True, False])
def test_the_grain_test_reads_the_records_the_last_build_wrote(built, written_last) -> None:
    """A second latest version fails versions_grain when the model's last build wrote the record;
    a record an earlier build wrote was tested by that build and is not read again."""
    with psycopg.connect(built.url, autocommit=True) as conn:
        model, raw_row_id = _second_version(conn, written_last=written_last)
        latest = sql.SQL("update staging.{} set is_latest = %s where raw_row_id = %s").format(
            sql.Identifier(model)
        )
        conn.execute(latest, (True, raw_row_id))
        try:
            if written_last:
                with pytest.raises(DbtError, match="versions_grain"):
                    run_dbt(["test", "--select", model])
            else:
                run_dbt(["test", "--select", model])
        finally:
            conn.execute(latest, (False, raw_row_id))


def _contents(conn: psycopg.Connection, schema: str, table: str, key: str) -> str:
    """Every row and column but when the row was written (staging's ``staged_at``)."""
    return conn.execute(
        sql.SQL(
            "select md5(coalesce(string_agg((to_jsonb(t) - 'staged_at')::text, '|'"
            " order by {}), '')) from {} t"
        ).format(sql.Identifier(key), sql.Identifier(schema, table))
    ).fetchone()[0]


def test_incremental_staging_and_records_equal_a_full_refresh(built) -> None:
    """The second night built staging, the subjects, the credit records, the evaluation and the
    publicity periods incrementally (new facts for some subjects, legacy identifiers linked);
    built again from scratch, every row and column is the same but when it was written. (Last
    in the module: it rebuilds the tables.)"""
    relations = [
        ("staging", dbt_codegen.staging_model(name), "raw_row_id") for name in record_kinds()
    ]
    relations += [
        ("marts", "dim_subjects", "subject_key"),
        ("marts", "fct_credit_records", "credit_record_id"),
        ("marts", "fct_score_contributions", "contribution_key"),
        ("marts", "fct_subject_grades", "subject_grade_key"),
        ("marts", "fct_publicity_periods", "publicity_record_id"),
    ]
    with psycopg.connect(built.url) as conn:
        incremental = {r[1]: _contents(conn, *r) for r in relations}
    run_dbt(["run", "--full-refresh"])
    with psycopg.connect(built.url) as conn:
        rebuilt = {r[1]: _contents(conn, *r) for r in relations}
    assert incremental == rebuilt
