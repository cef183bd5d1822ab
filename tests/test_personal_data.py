"""Personal data leaves ``raw`` only hashed or masked: no resident ID number (居民身份证号码) and
no natural person's name in clear, and no trace of the hash key, in any other schema, any
exported file, dbt's SQL, any log of a run (dbt's, Airflow's) or any XCom, after the export
DAGs ran for real."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from credit import identifiers
from credit.airflow_env import COUNTY_TIMEZONE, run_dag
from credit.catalogue import record_kinds
from credit.exports.settings import outbox_dir

# An 18-character run that could be a resident ID: what every text is searched for.
CANDIDATE = re.compile(r"(?<![0-9A-Za-z.])\d{17}[0-9Xx](?![0-9A-Za-z])")
# What the scan leaves out: raw itself, and the table that stores the key's pads.
RESTRICTED = {"raw"}
KEY_TABLE = ("audit", "identifier_hash_key")


def _is_resident_id(value: str, clear: set[str]) -> bool:
    # Some USCCs are all digits and pass the resident-ID checks too: a value valid as both is a
    # USCC, unless raw holds it as someone's ID.
    normal = identifiers.normalise(value)
    if normal in clear:
        return True
    return (
        identifiers.check_resident_id(normal).is_valid
        and not identifiers.check_uscc(normal).is_valid
    )


def _secrets() -> list[str]:
    key = identifiers.hash_key()
    inner, outer = identifiers.hmac_pads(key)
    return [key.decode(), inner.hex(), outer.hex()]


def _clear_personal_data(conn: psycopg.Connection) -> tuple[set[str], set[str]]:
    """Every resident ID raw holds (normal form), and every natural person's name as sent."""
    ids: set[str] = set()
    names: set[str] = set()
    for kind in record_kinds().values():
        for column in kind.columns:
            table = sql.Identifier("raw", kind.name)
            name = sql.Identifier(column.name)
            if column.identifier == "resident_id":
                rows = conn.execute(
                    sql.SQL("select distinct {} from {} where {} is not null").format(
                        name, table, name
                    )
                )
                ids |= {identifiers.normalise(value) for (value,) in rows}
            for other, values in column.personal_if.items():
                rows = conn.execute(
                    sql.SQL("select distinct btrim({}) from {} where btrim({}) = any(%s)").format(
                        name, table, sql.Identifier(other)
                    ),
                    (list(values),),
                )
                names |= {value for (value,) in rows if value}
    return ids, names


def _columns(conn: psycopg.Connection) -> dict[tuple[str, str], list[str]]:
    by_table: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in conn.execute(
        """
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        where c.table_schema not in ('pg_catalog', 'information_schema', 'pg_toast')
            and c.table_schema <> all(%s)
            and c.data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
        """,
        (list(RESTRICTED),),
    ):
        if (schema, table) != KEY_TABLE:
            by_table.setdefault((schema, table), []).append(column)
    return by_table


def _found_in_warehouse(conn, clear_ids, names, secrets) -> list[tuple]:
    found = []
    # One scan of each relation (a view computes itself once) for all its text columns; only
    # values holding a candidate, a secret or a person's name come back.
    for (schema, table), columns in _columns(conn).items():
        rows = conn.execute(
            sql.SQL(
                "select distinct f.name, f.value from {} as t"
                " cross join lateral (values {}) as f (name, value)"
                " where f.value ~ '[0-9]{{17}}[0-9Xx]' or f.value = any(%(names)s)"
                " or f.value like any(%(secrets)s)"
            ).format(
                sql.Identifier(schema, table),
                sql.SQL(", ").join(
                    sql.SQL("({}, t.{}::text)").format(sql.Literal(c), sql.Identifier(c))
                    for c in columns
                ),
            ),
            {"names": list(names), "secrets": [f"%{s}%" for s in secrets]},
        )
        for column, value in rows:
            # A legal representative's name is public registration data, and may be the same
            # as a natural person's: names are looked for where subjects are named.
            named = value in names and column == "subject_name"
            if named or any(s in value for s in secrets):
                found.append((schema, table, column, value))
            found += [
                (schema, table, column, match)
                for match in CANDIDATE.findall(value)
                if _is_resident_id(match, clear_ids)
            ]
    return found


def _texts(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every file's text: a workbook's XML parts, a CSV, a manifest, a log."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                for part in book.namelist():
                    yield path, book.read(part).decode("utf-8", errors="replace")
        else:
            yield path, path.read_bytes().decode("utf-8-sig", errors="replace")


def _found_in_files(folders, clear_ids, names, secrets) -> list[tuple]:
    found = []
    for folder in folders:
        for path, text in _texts(folder):
            found += [(path, s) for s in secrets if s in text]
            found += [
                (path, match)
                for match in CANDIDATE.findall(text)
                if _is_resident_id(match, clear_ids)
            ]
            if path.suffix == ".csv":
                cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
                found += [(path, name) for name in cells & names]
    return found


def test_nothing_personal_in_clear_outside_raw(quarter_county, airflow_ready) -> None:
    # The export DAGs run for real: their files, Airflow's logs of their tasks.
    assert run_dag("credit_export_daily") == "success"
    export_day = dt.datetime(2026, 4, 8, 6, tzinfo=COUNTY_TIMEZONE)
    assert run_dag("credit_export_quarterly", export_day) == "success"
    secrets = _secrets()
    with psycopg.connect(quarter_county.url) as conn:
        clear_ids, names = _clear_personal_data(conn)
        assert len(clear_ids) > 100 and len(names) > 10
        in_warehouse = _found_in_warehouse(conn, clear_ids, names, secrets)
        # Natural persons are in the marts, by their masked names.
        masked = conn.execute(
            "select count(*), count(*) filter (where subject_name ~ '^.\\*+$')"
            " from marts.dim_subjects where subject_key like 'P:%'"
        ).fetchone()
    assert in_warehouse == []
    assert masked[0] > 10 and masked[0] == masked[1]
    logs = [
        Path(os.environ["DBT_LOG_PATH"]),
        Path(os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]),
        Path(os.environ["DBT_TARGET_PATH"]),  # dbt's compiled SQL, manifest and run results
    ]
    outbox = outbox_dir()
    assert list(outbox.rglob("*.csv")) and (logs[0] / "dbt.log").stat().st_size > 0
    assert _found_in_files([outbox, *filter(Path.exists, logs)], clear_ids, names, secrets) == []
    # Nor in what the tasks passed each other (XCom, in Airflow's metadata database).
    metadata = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")
    with psycopg.connect(metadata) as conn:
        xcoms = [value for (value,) in conn.execute("select value::text from xcom")]
    assert xcoms
    assert [
        value
        for value in xcoms
        if any(s in value for s in secrets)
        or any(_is_resident_id(match, clear_ids) for match in CANDIDATE.findall(value))
    ] == []
