"""Who may read and write what: each role over a real connection to the built county.

Persons' logins are made as a user makes them (`credit warehouse add-login`), one per role that
people join; the platform's own roles connect as the nightly tasks do
(:func:`credit.warehouse.role_url`). Every refusal is PostgreSQL's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql
from typer.testing import CliRunner

from credit import roles, warehouse
from credit.cli import app
from credit.logins import Login, collect_logins, parse

# Logins are the server's, shared by its databases: named after this session, dropped after.
PREFIX = f"t{os.getpid()}_"
MARKET = "market_regulation"
TAX = "taxation"


@pytest.fixture(scope="module")
def logins(quarter_county_built) -> Iterator[dict[str, str]]:
    """One person's login per role people join: the office, an analyst, two departments."""
    wanted = {
        "office": roles.OFFICE,
        "analyst": roles.ANALYST,
        "market": roles.department_role(MARKET),
        "tax": roles.department_role(TAX),
    }
    made: dict[str, str] = {}
    with quarter_county_built.active():
        try:
            for who, role in wanted.items():
                person = f"{PREFIX}{who}"
                result = CliRunner().invoke(
                    app,
                    ["warehouse", "add-login", person, role],
                    env={roles.LOGIN_PASSWORD_ENV: "a password"},
                )
                assert result.exit_code == 0, result.output
                made[who] = person
            yield {who: warehouse.role_url(person) for who, person in made.items()}
        finally:
            with psycopg.connect(warehouse.server_url(), autocommit=True) as conn:
                for person in made.values():
                    conn.execute(sql.SQL("drop role {}").format(sql.Identifier(person)))


def _relation(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _select(table: str) -> sql.Composed:
    return sql.SQL("select * from {} limit 1").format(_relation(table))


def _refused(url: str, statement: str | sql.Composable) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute(statement)
        except errors.InsufficientPrivilege:
            return True
        finally:
            conn.rollback()
    return False


def _count(url: str, table: str, column: str | None = None, value: str | None = None) -> int:
    query = sql.SQL("select count(*) from {}").format(_relation(table))
    if column is not None:
        query += sql.SQL(" where {} = {}").format(sql.Identifier(column), value)
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    return [
        f"{schema}.{name}"
        for (name,) in conn.execute(
            "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') order by 1",
            (schema,),
        )
    ]


def test_the_readers_and_the_transformer_cannot_touch_raw(quarter_county, logins) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        raw_tables = _tables(conn, "raw") + _tables(conn, "quarantine")
    assert "raw.penalty" in raw_tables
    for who in ("office", "analyst", "market", "tax"):
        for table in raw_tables:
            assert _refused(logins[who], _select(table)), (who, table)
    exporter = warehouse.role_url(roles.EXPORTER)
    assert _refused(exporter, "select * from raw.penalty limit 1")
    # The transformer stages raw (it reads it) but nobody except the loader writes it.
    transformer = warehouse.role_url(roles.TRANSFORMER)
    assert _count(transformer, "raw.penalty") > 0
    for url in (transformer, exporter, logins["office"], logins["market"]):
        assert _refused(url, "delete from raw.penalty")
        assert _refused(url, "update audit.batches set rows_read = 0")
    loader = warehouse.role_url(roles.LOADER)
    with psycopg.connect(loader) as conn:
        assert conn.execute("delete from raw.penalty").rowcount > 0
        conn.rollback()


def test_the_office_and_analysts_read_every_mart_whole(quarter_county, logins) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        marts = _tables(conn, "marts")
        expected = {table: _count(quarter_county.url, table) for table in marts}
    assert len(marts) > 20
    for who in ("office", "analyst"):
        assert {table: _count(logins[who], table) for table in marts} == expected, who
    # Neither reads what the marts are built from.
    for who in ("office", "analyst"):
        assert _refused(logins[who], "select * from staging.stg_raw__penalties limit 1")
        assert _refused(logins[who], "select * from snapshots.subjects_snapshot limit 1")


def test_a_department_reads_its_own_rows_and_no_other(quarter_county, logins) -> None:
    department_tables = {
        "marts.fct_warnings": "responsible_dept_code",
        "marts.rpt_warning_notices": "responsible_dept_code",
        "marts.fct_dishonesty_record_versions": "dept_code",
        "marts.fct_dishonesty_record_changes": "dept_code",
        "marts.fct_inspection_plans": "dept_code",
        "marts.fct_inspection_plan_results": "dept_code",
        "marts.fct_credit_records": "dept_code",
        "marts.fct_publicity_periods": "dept_code",
        "marts.fct_publicity_records": "dept_code",
    }
    for table, column in department_tables.items():
        for who, dept_code in (("market", MARKET), ("tax", TAX)):
            url = logins[who]
            theirs = _count(quarter_county.url, table, column, dept_code)
            assert _count(url, table) == theirs, (table, who)
            with psycopg.connect(url) as conn:
                distinct = sql.SQL("select distinct {} from {}")
                query = distinct.format(sql.Identifier(column), _relation(table))
                seen = {row[0] for row in conn.execute(query)}
            assert seen <= {dept_code}, (table, who, seen)
    # Both departments have warnings and records in the county: the policies filter something.
    assert _count(logins["market"], "marts.fct_warnings") > 0
    assert _count(logins["market"], "marts.fct_credit_records") > 0
    assert _count(logins["tax"], "marts.fct_credit_records") > 0
    # The marts without a department's rows are not theirs to read.
    for table in ("marts.dim_subjects", "marts.dossiers", "marts.fct_dishonesty_metrics"):
        assert _refused(logins["market"], _select(table)), table
    assert _count(logins["market"], "reference.departments") == 34


def test_a_department_reads_the_dishonesty_records_it_decided_or_supervises(
    quarter_county, logins
) -> None:
    """谁认定、谁负责 and 谁监管: a department reads the dishonesty records it decided and those of
    the subjects in the industry sections it supervises (joint punishment), no other."""
    mine = """
        select decision_doc_no from marts.fct_dishonesty_records
        where dept_code = %(dept)s or industry_section in (
            select industry_section from marts.dim_section_supervisors where dept_code = %(dept)s
        )
    """
    supervised_only = 0
    for who, dept_code in (("market", MARKET), ("tax", TAX)):
        with psycopg.connect(quarter_county.url) as conn:
            expected = {row[0] for row in conn.execute(mine, {"dept": dept_code})}
            decided = conn.execute(
                "select count(*) from marts.fct_dishonesty_records where dept_code = %s",
                (dept_code,),
            ).fetchone()[0]
        with psycopg.connect(logins[who]) as conn:
            seen = {
                row[0]
                for row in conn.execute("select decision_doc_no from marts.fct_dishonesty_records")
            }
        assert seen == expected, who
        supervised_only += len(seen) - decided
    total = _count(quarter_county.url, "marts.fct_dishonesty_records")
    assert supervised_only > 0 and len(seen) < total


def test_no_reader_role_reads_raw_or_writes_anything(quarter_county) -> None:
    """Every department's role, the analysts' and the office's, each over a connection that
    takes that role alone (SET ROLE: PostgreSQL then checks that role's privileges)."""
    readers = [roles.OFFICE, roles.ANALYST, *roles.department_roles()]
    assert len(readers) == 36
    with psycopg.connect(quarter_county.url, autocommit=True) as conn:
        for role in readers:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            for statement in (
                "select * from raw.penalty limit 1",
                "select * from quarantine.rejected_rows limit 1",
                "select * from staging.stg_raw__penalties limit 1",
                "insert into raw.penalty (raw_row_id) values (-1)",
                "delete from marts.fct_warnings",
                "create table marts.mine (x int)",
            ):
                try:
                    conn.execute(statement)
                except errors.InsufficientPrivilege:
                    continue
                raise AssertionError(f"{role} may: {statement}")
            conn.execute("reset role")


def test_the_hash_key_and_the_hashing_function_are_the_pipelines_only(logins) -> None:
    for who in ("office", "analyst", "market"):
        assert _refused(logins[who], "select * from audit.identifier_hash_key")
        assert _refused(logins[who], "select audit.hash_identifier('320281199001011234')")
    assert _refused(warehouse.role_url(roles.EXPORTER), "select * from audit.identifier_hash_key")


def test_a_dossier_look_up_is_logged_and_only_the_office_and_analysts_may(
    quarter_county, logins
) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        subject_key, records = conn.execute(
            "select subject_key, count(*) from marts.fct_credit_records"
            " where subject_key not like 'P:%' group by 1 order by 2 desc, 1 limit 1"
        ).fetchone()
    with psycopg.connect(logins["analyst"]) as conn:
        found = conn.execute("select marts.lookup_dossier(%s)", (subject_key,)).fetchone()[0]
        missing = conn.execute("select marts.lookup_dossier('no such subject')").fetchone()[0]
    assert found["dossier"]["subject_key"] == subject_key
    assert len(found["records"]) == records
    assert missing is None
    assert _refused(logins["market"], f"select marts.lookup_dossier('{subject_key}')")
    with psycopg.connect(logins["office"]) as conn:
        logged = conn.execute(
            "select login, target, detail->>'found' from audit.access_log"
            " where action = 'dossier_lookup' and login = %s order by access_id",
            (f"{PREFIX}analyst",),
        ).fetchall()
        created = conn.execute(
            "select target, detail->>'role' from audit.access_log"
            " where action = 'login_created' and starts_with(target, %s) order by access_id",
            (PREFIX,),
        ).fetchall()
    assert logged == [
        (f"{PREFIX}analyst", subject_key, "true"),
        (f"{PREFIX}analyst", "no such subject", "false"),
    ]
    assert [person for person, _ in created] == [f"{PREFIX}{who}" for who in logins]
    # Nobody rewrites the log, the office included.
    assert _refused(logins["office"], "delete from audit.access_log")
    assert _refused(warehouse.role_url(roles.EXPORTER), "update audit.access_log set login = ''")


def test_the_warehouse_belongs_to_the_roles_that_build_it(quarter_county) -> None:
    with psycopg.connect(quarter_county.url) as conn:
        assert roles.is_installed(conn)
        owners = dict(
            conn.execute(
                "select n.nspname, array_agg(distinct pg_get_userbyid(c.relowner))"
                " from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
                " where n.nspname = any(%s) and c.relkind in ('r', 'v', 'p')"
                " group by 1",
                (list(roles.SCHEMA_OWNERS),),
            ).fetchall()
        )
    assert owners["raw"] == [roles.LOADER]
    assert owners["audit"] == [roles.LOADER]
    assert owners["marts"] == [roles.TRANSFORMER]
    assert owners["staging"] == [roles.TRANSFORMER]


def test_a_login_is_refused_a_role_that_people_do_not_join(quarter_county) -> None:
    for person, role in (
        (f"{PREFIX}x", roles.LOADER),
        (f"{PREFIX}x", "dept_nowhere"),
        ("Robert'); drop table raw.penalty; --", roles.ANALYST),
        (roles.TRANSFORMER, roles.ANALYST),
    ):
        result = CliRunner().invoke(
            app,
            ["warehouse", "add-login", person, role],
            env={roles.LOGIN_PASSWORD_ENV: "a password"},
        )
        assert result.exit_code == 1, (person, role, result.output)
        assert "refused" in result.output


def test_people_s_logins_reach_the_access_log_from_the_server_s_log(quarter_county, logins) -> None:
    log = warehouse.server_log()
    if log is None:
        pytest.skip(f"the server's log is not readable here: set {warehouse.SERVER_LOG_ENV}")
    loader = warehouse.role_url(roles.LOADER)
    collect_logins(loader)  # what the server logged before, the other tests' logins among them
    with psycopg.connect(loader) as conn:
        (before,) = conn.execute(
            "select coalesce(max(access_id), 0) from audit.access_log"
        ).fetchone()
    for who in ("office", "market", "market"):
        psycopg.connect(logins[who]).close()
    psycopg.connect(warehouse.role_url(roles.EXPORTER)).close()  # a service role: not a person
    # The server writes its log as it goes: the lines may land a moment after the connection.
    for _ in range(50):
        if log.read_text(errors="replace").count(f"user={PREFIX}market ") >= 2:
            break
        time.sleep(0.1)
    assert collect_logins(loader) == 3
    assert collect_logins(loader) == 0, "a line is read once"
    with psycopg.connect(logins["office"]) as conn:
        logged = conn.execute(
            "select login, target, detail->'roles' from audit.access_log"
            " where action = 'login' and access_id > %s order by access_id",
            (before,),
        ).fetchall()
    database = quarter_county.url.rsplit("/", 1)[1]
    assert logged == [
        (f"{PREFIX}office", database, [roles.OFFICE]),
        (f"{PREFIX}market", database, [roles.department_role(MARKET)]),
        (f"{PREFIX}market", database, [roles.department_role(MARKET)]),
    ]


def test_a_log_line_of_a_connection_is_read_as_a_login() -> None:
    text = (
        "2026-12-06 19:40:01.123 UTC [4242] LOG:  connection received: host=127.0.0.1\n"
        "2026-12-06 19:40:01.125 UTC [4242] LOG:  connection authorized: user=li_lei"
        " database=credit application_name=psql\n"
        "2026-12-06 19:40:02.001 CST [77] li_lei@credit LOG:  connection authorized:"
        " user=li_lei database=other\n"
        "2026-12-06 19:40:03.000 UTC [78] LOG:  statement: connection authorized: user=x\n"
    )
    assert parse(text) == [
        Login("2026-12-06 19:40:01.125 UTC", 4242, "li_lei", "credit"),
        Login("2026-12-06 19:40:02.001 CST", 77, "li_lei", "other"),
    ]
