"""The warehouse's key for hashing resident IDs (证件号哈希密钥): stored, checked, rotated.

Outside ``raw`` a resident ID number only appears as its keyed hash, ``audit.hash_identifier``
(HMAC-SHA256 with ``CREDIT_ID_HASH_KEY``, :func:`credit.identifiers.hash_identifier`), and a
natural person's ``subject_key`` is ``'P:' || hash``. Every hash the warehouse keeps must be
made with one key, or a person's records stop joining. So:

* the key's HMAC pads are stored in ``audit.identifier_hash_key`` when the warehouse is created
  (:func:`install_key`) and a component never replaces them with its own key;
* every dbt command holds a shared lock while it runs and refuses to start when its
  environment's key is not the stored one (:func:`key_in_use`, :class:`HashKeyMismatch`);
* :func:`rotate` changes the key: in one transaction, under the exclusive lock, it re-keys the
  tables a ``--full-refresh`` keeps (:data:`KEPT_TABLES`), stores the new pads and records the
  rotation in ``audit.hash_key_rotations``, whose open row makes the next transform a full
  refresh (:func:`rebuild_pending`) that re-derives everything else from ``raw``.

The mapping from each old hash to its new one is computed from the IDs in ``raw`` into a
temporary table dropped at commit: it links two pseudonyms of each person, so it is never
stored, returned or logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from credit import identifiers
from credit.catalogue import record_kinds
from credit.landing import raw_table

# The new key, for `credit warehouse rotate-hash-key` (prompted for, hidden, when unset).
NEW_KEY_ENV = "CREDIT_ID_HASH_KEY_NEW"
# The advisory lock dbt commands hold shared and a rotation takes exclusive.
LOCK_NAME = "credit.identifier_hash_key"
# A hash as the warehouse writes it (hex of SHA-256), alone or inside a key ('P:…', 'S|…|D').
HASH_PATTERN = "[0-9a-f]{64}"

# The tables a `--full-refresh` does not rebuild that can hold a hash, re-keyed by a rotation,
# with the column of a snapshot's unique key (its dbt_scd_id is an MD5 of it):
# - the warnings' register (full_refresh=false): condition keys name a natural person by its
#   subject_key; each warning keeps its warning_id, the number departments answer by;
# - the subjects' history (dbt snapshots are never rebuilt): subject_key and the legal
#   representative's hash;
# - the evaluation's state, the inputs each subject's grades were computed from (an old key left
#   there would be taken for a subject that is no more);
# - the messages of failed dbt nodes and of the operator's incidents, which can quote a key.
KEPT_TABLES: dict[tuple[str, str], str | None] = {
    ("intermediate", "int_warnings_raised"): None,
    ("snapshots", "subjects_snapshot"): "subject_key",
    ("intermediate", "evaluated_inputs"): None,
    ("audit", "dbt_node_results"): None,
    ("audit", "incidents"): None,
}


# HMAC-SHA256 (RFC 2104) of a normalised identifier from the key's pads, as
# dbt/macros/identifier_functions.sql computes audit.hash_identifier.
KEYED_HASH = "encode(sha256({outer} || sha256({inner} || convert_to({value}, 'UTF8'))), 'hex')"

# Every hash (HASH_PATTERN) in a text replaced by its new one; other texts come back as they were.
REKEYED_FUNCTION = """
create function pg_temp.rekeyed(value text) returns text
language plpgsql stable strict as $$
declare
    token text;
    result text := value;
begin
    for token in
        select distinct matched[1] from regexp_matches(value, '[0-9a-f]{64}', 'g') as matched
    loop
        result := replace(result, token, coalesce(
            (select map.new_hash from pg_temp.hash_key_map as map where map.old_hash = token),
            token
        ));
    end loop;
    return result;
end $$
"""

MISMATCH = (
    "CREDIT_ID_HASH_KEY is not the key the warehouse's resident-ID hashes are made with. "
    "Set the warehouse's key in this component's environment; or, to change the key, set the "
    "new one in every component's environment and run `credit warehouse rotate-hash-key` "
    "(docs/operations.md, 'Rotating the hash key')."
)


class HashKeyMismatch(RuntimeError):
    """A component's ``CREDIT_ID_HASH_KEY`` is not the warehouse's key: hashing with it would
    split natural persons' records between two pseudonyms."""


class RotationRefused(RuntimeError):
    """:func:`rotate` did nothing; the message says why and what to do."""


def install_key(conn: psycopg.Connection) -> None:
    """Store the HMAC pads of ``CREDIT_ID_HASH_KEY`` for ``audit.hash_identifier`` when the
    warehouse has none; an installed key is changed only by :func:`rotate`.

    The pads are the key, so only the owner may read them; they travel as query parameters,
    never in SQL text that dbt or the server would log.
    """
    conn.execute(
        """
        insert into audit.identifier_hash_key (singleton, inner_pad, outer_pad)
        values (true, %s, %s)
        on conflict (singleton) do nothing
        """,
        identifiers.hmac_pads(identifiers.hash_key()),
    )


def stored_pads(conn: psycopg.Connection) -> tuple[bytes, bytes] | None:
    """The pads of the key the warehouse hashes with, or None before any is installed."""
    row = conn.execute("select inner_pad, outer_pad from audit.identifier_hash_key").fetchone()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def check_key(conn: psycopg.Connection) -> None:
    """Raise :class:`HashKeyMismatch` unless this environment's key is the warehouse's."""
    stored = stored_pads(conn)
    if stored is not None and stored != identifiers.hmac_pads(identifiers.hash_key()):
        raise HashKeyMismatch(MISMATCH)


@contextmanager
def key_in_use(url: str) -> Iterator[None]:
    """Hold the key for the block (a dbt command): a shared lock that :func:`rotate` cannot get
    while it is held (and that waits for a rotation under way), and this environment's key
    checked against the warehouse's once the lock is held. Several may be held at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock_shared(hashtext(%s))", (LOCK_NAME,))
        check_key(conn)
        yield


def rebuild_pending(url: str) -> bool:
    """Whether a rotation has changed the key since the last full rebuild of the models."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select exists (select from audit.hash_key_rotations where rebuilt_at is null)"
        ).fetchone()[0]


def mark_rebuilt(url: str, run_id: str) -> None:
    """Record that the models were rebuilt from ``raw`` with the current key (after
    :func:`rebuild_pending` found a rotation)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "update audit.hash_key_rotations set rebuilt_at = now(), rebuilt_by = %s"
            " where rebuilt_at is null",
            (run_id,),
        )


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate` did: the resident IDs of ``raw`` whose hash it mapped, and the rows
    it re-keyed per table."""

    identifiers: int
    rekeyed: dict[str, int]


def rotate(url: str, new_key: bytes) -> Rotation:
    """Change the warehouse's key to ``new_key``, which ``CREDIT_ID_HASH_KEY`` must already hold.

    One transaction: the old hash → new hash mapping of every resident ID in ``raw``, the
    :data:`KEPT_TABLES` re-keyed by it, the new pads stored and the rotation recorded, so that
    the next transform rebuilds everything else with ``--full-refresh``. Raises
    :class:`RotationRefused`, having changed nothing, when the key cannot be rotated now.
    """
    _refuse_unsafe_key(new_key)
    new_pads = identifiers.hmac_pads(new_key)
    with psycopg.connect(url) as conn:
        locked = conn.execute(
            "select pg_try_advisory_xact_lock(hashtext(%s))", (LOCK_NAME,)
        ).fetchone()[0]
        if not locked:
            raise RotationRefused(
                "a dbt command (the nightly transform?) is running on the warehouse: "
                "wait until it ends, then run this again"
            )
        stored = stored_pads(conn)
        if stored is None:
            raise RotationRefused(
                "the warehouse has no hash key yet, so nothing is hashed: nothing to rotate"
            )
        if stored == new_pads:
            raise RotationRefused("the new key is the key the warehouse uses already")
        mapped = _map_identifiers(conn, new_pads)
        conn.execute(REKEYED_FUNCTION)
        rekeyed = {
            f"{schema}.{table}": _rekey_table(conn, schema, table, unique_key)
            for (schema, table), unique_key in KEPT_TABLES.items()
        }
        conn.execute(
            "update audit.identifier_hash_key set inner_pad = %s, outer_pad = %s", new_pads
        )
        conn.execute(
            "insert into audit.hash_key_rotations (identifiers, rekeyed_rows) values (%s, %s)",
            (mapped, Jsonb(rekeyed)),
        )
    return Rotation(mapped, rekeyed)


def _refuse_unsafe_key(new_key: bytes) -> None:
    """The refusals that need no warehouse: a key that is no secret, or one this environment
    does not hold yet (the key reaches the components before the warehouse, and this is where
    the rotation can see that it did)."""
    if not new_key:
        raise RotationRefused("the new key is empty")
    if new_key == identifiers.DEVELOPMENT_HASH_KEY.encode():
        raise RotationRefused("the new key is the public development key, which is no secret")
    if os.environ.get(identifiers.HASH_KEY_ENV, "").encode() != new_key:
        raise RotationRefused(
            f"{identifiers.HASH_KEY_ENV} in this environment is not the new key. Set the new "
            "key as CREDIT_ID_HASH_KEY in the environment of every component first (Airflow's "
            "scheduler and its tasks: ingestion, dbt, exports; docker compose's .env; the "
            "shell you run `credit` in), then run this there"
        )


def _resident_id_columns() -> list[tuple[str, str]]:
    """(record kind, column) of every resident-ID column of the catalogue."""
    return [
        (kind.name, column.name)
        for kind in record_kinds().values()
        for column in kind.columns
        if column.identifier == identifiers.IdentifierKind.RESIDENT_ID
    ]


def _map_identifiers(conn: psycopg.Connection, new_pads: tuple[bytes, bytes]) -> int:
    """Fill ``pg_temp.hash_key_map`` (old hash → new hash, dropped at commit) for every resident
    ID in ``raw``, normalised as ``audit.hash_identifier`` does; the count of IDs."""
    conn.execute(
        "create temp table hash_key_map (old_hash text primary key, new_hash text not null)"
        " on commit drop"
    )
    normaliser = "select to_regprocedure('audit.normalise_identifier(text)')"
    if conn.execute(normaliser).fetchone()[0] is None:
        return 0  # never validated, so never staged: no hash exists
    landed = [
        (kind, column)
        for kind, column in _resident_id_columns()
        if conn.execute("select to_regclass(%s)", (f"raw.{kind}",)).fetchone()[0] is not None
    ]
    if not landed:
        return 0
    values = sql.SQL(" union ").join(
        sql.SQL("select {} as value from {}").format(sql.Identifier(column), raw_table(kind))
        for kind, column in landed
    )
    normal = sql.Identifier("ids", "normal")
    old_hash = sql.SQL(KEYED_HASH).format(
        outer=sql.SQL("stored.outer_pad"), inner=sql.SQL("stored.inner_pad"), value=normal
    )
    new_hash = sql.SQL(KEYED_HASH).format(
        outer=sql.Placeholder("outer"), inner=sql.Placeholder("inner"), value=normal
    )
    inserted = conn.execute(
        sql.SQL(
            "insert into hash_key_map (old_hash, new_hash)"
            " select {old_hash}, {new_hash}"
            " from (select distinct audit.normalise_identifier(value) as normal"
            "       from ({values}) as landed) as ids"
            " cross join audit.identifier_hash_key as stored"
            " where ids.normal <> ''"
        ).format(old_hash=old_hash, new_hash=new_hash, values=values),
        {"inner": new_pads[0], "outer": new_pads[1]},
    )
    return inserted.rowcount


def _rekey_table(conn: psycopg.Connection, schema: str, table: str, unique_key: str | None) -> int:
    """Replace every old hash in the text columns of one table; the rows changed. A snapshot's
    ``dbt_scd_id`` is recomputed from its re-keyed unique key as dbt computes it, md5 of the key
    and ``dbt_updated_at``, so that no MD5 of an old hash stays behind."""
    columns = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = %s"
            " and data_type in ('text', 'character varying') and column_name <> 'dbt_scd_id'"
            " order by ordinal_position",
            (schema, table),
        )
    ]
    if not columns:
        return 0  # not built yet
    assignments = [
        sql.SQL("{column} = pg_temp.rekeyed({column})").format(column=sql.Identifier(column))
        for column in columns
    ]
    if unique_key is not None:
        assignments.append(
            sql.SQL(
                "dbt_scd_id = case when {key} ~ {pattern} then md5("
                "coalesce(pg_temp.rekeyed({key})::varchar, '') || '|'"
                " || coalesce(dbt_updated_at::varchar, '')) else dbt_scd_id end"
            ).format(key=sql.Identifier(unique_key), pattern=sql.Literal(HASH_PATTERN))
        )
    # A regular expression first: most rows hold no hash, and it is cheaper than the function.
    holds_hash = sql.SQL(" or ").join(
        sql.SQL("{column} ~ {pattern}").format(
            column=sql.Identifier(column), pattern=sql.Literal(HASH_PATTERN)
        )
        for column in columns
    )
    changed = sql.SQL(" or ").join(
        sql.SQL("{column} is distinct from pg_temp.rekeyed({column})").format(
            column=sql.Identifier(column)
        )
        for column in columns
    )
    updated = conn.execute(
        sql.SQL("update {table} set {assignments} where ({holds_hash}) and ({changed})").format(
            table=sql.Identifier(schema, table),
            assignments=sql.SQL(", ").join(assignments),
            holds_hash=holds_hash,
            changed=changed,
        )
    )
    return updated.rowcount
