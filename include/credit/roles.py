"""Who may do what in the warehouse: its roles, what each owns and reads, set up in code.

The warehouse's roles (PostgreSQL roles, shared by every database of a server):

* ``credit_loader`` (采集): the nightly ingest. Owns ``raw``, ``quarantine`` and ``audit``, the
  only schemas with resident ID numbers in clear, and is the only role that writes them.
* ``credit_transformer`` (加工): dbt. Owns the schemas dbt builds (``staging``,
  ``intermediate``, ``marts``, ``snapshots``, ``reference``, ``rules``); reads ``raw`` and
  ``quarantine`` to stage them (hashing resident IDs on the way) and writes its builds' records
  in ``audit``.
* ``credit_exporter``: the export and delivery tasks, a member of ``credit_office``; writes the
  exports' and deliveries' records in ``audit``, and what the credit portal was given.
* ``credit_office`` (信用办): the county credit office. Reads every mart, the reference and rule
  seeds, and the audit summaries (:data:`OFFICE_AUDIT_TABLES`), the access log included.
* ``credit_analyst`` (分析): reads the marts and seeds, which hold personal data only hashed or
  masked.
* ``dept_<dept_code>``, one per department of ``departments.csv``, members of
  ``credit_departments``: read the rows of the marts they are responsible for
  (谁认定、谁负责), by row-level security (``dbt/macros/access/department_rows.sql``).

The first three log in (the nightly tasks connect as them, :func:`credit.warehouse.role_url`);
the others are groups a person's login joins (:func:`add_login`). :func:`install` creates the
roles, gives each schema and everything in it to its owner and grants the rest; the marts'
grants are dbt's (``grants`` in ``dbt_project.yml``). It is idempotent, and
:func:`credit.warehouse.ensure_warehouse` runs it whenever :func:`is_installed` finds the
warehouse's set-up older than this module's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from contextlib import suppress

import psycopg
from psycopg import errors, sql

from credit.reference import departments

log = logging.getLogger(__name__)

LOADER = "credit_loader"
TRANSFORMER = "credit_transformer"
EXPORTER = "credit_exporter"
OFFICE = "credit_office"
ANALYST = "credit_analyst"
DEPARTMENTS = "credit_departments"
DEPARTMENT_PREFIX = "dept_"

# The roles the platform's own tasks connect as.
SERVICE_ROLES = (LOADER, TRANSFORMER, EXPORTER)
# The schemas each service role owns, with everything in them.
SCHEMA_OWNERS = {
    "raw": LOADER,
    "quarantine": LOADER,
    "audit": LOADER,
    "staging": TRANSFORMER,
    "intermediate": TRANSFORMER,
    "marts": TRANSFORMER,
    "snapshots": TRANSFORMER,
    "reference": TRANSFORMER,
    "rules": TRANSFORMER,
    "exports": TRANSFORMER,
}
# Functions dbt's on-run-start installs in ``audit`` (dbt/macros/identifier_functions.sql).
TRANSFORMER_FUNCTIONS = ("hash_identifier", "mask_identifier", "mask_name")
# The ``audit`` tables each role other than the loader writes, and the access log, which they
# only add to (the transformer owns ``marts.lookup_dossier``, which logs each look-up).
AUDIT_WRITES = {
    # the transform that rebuilds after a key rotation closes the rotation's row
    TRANSFORMER: ("transform_builds", "dbt_node_results", "hash_key_rotations"),
    EXPORTER: ("exports", "deliveries", "publicity_listings"),
}
ACCESS_LOG = "access_log"
# What the credit office reads in ``audit``: the nights, checks, builds, exports and the log of
# who read what; not the source errors or rejected rows, which quote the sources' values.
OFFICE_AUDIT_TABLES = (
    "batches",
    "validation_runs",
    "collection_checks",
    "incidents",
    "transform_builds",
    "exports",
    "deliveries",
    "publicity_listings",
    ACCESS_LOG,
    "hash_key_rotations",
)
# Every pipeline role checks the warehouse's revision (credit.migrations.is_at_head).
VERSION_TABLE = "alembic_version"

# A role name from configuration or a command line becomes SQL: lower-case letters, digits and
# underscores, starting with a letter, at most PostgreSQL's 63 bytes.
ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Where a service role's password comes from, when the server asks for one.
PASSWORD_VARIABLES = {
    LOADER: "CREDIT_LOADER_PASSWORD",
    TRANSFORMER: "CREDIT_TRANSFORMER_PASSWORD",
    EXPORTER: "CREDIT_EXPORTER_PASSWORD",
}
# Where `credit warehouse add-login` takes a person's password from (else it asks).
LOGIN_PASSWORD_ENV = "CREDIT_LOGIN_PASSWORD"


class InvalidRoleName(ValueError):
    """A role or login name that is not a plain lower-case identifier."""


def checked_name(name: str) -> str:
    """``name`` if it is a plain lower-case identifier, else :class:`InvalidRoleName`."""
    if not ROLE_NAME.fullmatch(name):
        raise InvalidRoleName(
            f"{name!r} is not a valid role name: lower-case letters, digits and underscores, "
            "starting with a letter, at most 63 characters"
        )
    return name


def department_role(dept_code: str) -> str:
    """The role of a department: ``dept_`` and its code (``dept_market_regulation``)."""
    return checked_name(f"{DEPARTMENT_PREFIX}{dept_code}")


def department_roles() -> tuple[str, ...]:
    return tuple(department_role(d.dept_code) for d in departments())


def group_roles() -> tuple[str, ...]:
    """The roles a person's login may join (:func:`add_login`)."""
    return (OFFICE, ANALYST, *department_roles())


def all_roles() -> tuple[str, ...]:
    return (*SERVICE_ROLES, OFFICE, ANALYST, DEPARTMENTS, *department_roles())


def password(role: str) -> str | None:
    """A service role's password, from its variable (:data:`PASSWORD_VARIABLES`) when set."""
    variable = PASSWORD_VARIABLES.get(role)
    return os.environ.get(variable) if variable else None


def _statements() -> list[sql.Composable]:
    """The grants :func:`install` makes after the roles and owners, in order."""
    ident = sql.Identifier

    def schemas(*names: str) -> sql.Composable:
        return sql.SQL(", ").join(map(ident, names))

    def tables(names: Iterable[str]) -> sql.Composable:
        return sql.SQL(", ").join(ident("audit", name) for name in names)

    loader_schemas = [s for s, owner in SCHEMA_OWNERS.items() if owner == LOADER]
    statements: list[sql.Composable] = [
        # Nobody creates objects in public; every other schema is its owner's alone but for these.
        sql.SQL("revoke create on schema public from public"),
        sql.SQL("grant {} to {}").format(ident(OFFICE), ident(EXPORTER)),
        # The transformer reads what the loader landed and installs the hashing functions.
        sql.SQL("grant usage on schema {} to {}").format(
            schemas(*loader_schemas), ident(TRANSFORMER)
        ),
        sql.SQL("grant create on schema audit to {}").format(ident(TRANSFORMER)),
        sql.SQL("grant select on all tables in schema {} to {}").format(
            schemas(*loader_schemas), ident(TRANSFORMER)
        ),
        sql.SQL(
            "alter default privileges for role {} in schema {} grant select on tables to {}"
        ).format(ident(LOADER), schemas(*loader_schemas), ident(TRANSFORMER)),
        sql.SQL("grant usage on schema audit to {}").format(ident(EXPORTER)),
        sql.SQL("grant select on {} to {}").format(tables([VERSION_TABLE]), ident(EXPORTER)),
        sql.SQL("grant usage on all sequences in schema audit to {}, {}").format(
            ident(TRANSFORMER), ident(EXPORTER)
        ),
    ]
    for role, names in AUDIT_WRITES.items():
        statements.append(
            sql.SQL("grant select, insert, update on {} to {}").format(tables(names), ident(role))
        )
        statements.append(
            sql.SQL("grant insert on {} to {}").format(tables([ACCESS_LOG]), ident(role))
        )
    statements += [
        sql.SQL("grant usage on schema audit, marts, reference, rules to {}").format(ident(OFFICE)),
        sql.SQL("grant select on {} to {}").format(tables(OFFICE_AUDIT_TABLES), ident(OFFICE)),
        sql.SQL("grant usage on schema marts, reference, rules to {}").format(ident(ANALYST)),
        sql.SQL("grant usage on schema marts, reference to {}").format(ident(DEPARTMENTS)),
    ]
    return statements


def _roles_statements() -> list[sql.Composable]:
    ident = sql.Identifier
    statements: list[sql.Composable] = [
        sql.SQL("create role {} login").format(ident(role)) for role in SERVICE_ROLES
    ]
    statements += [sql.SQL("create role {} nologin").format(ident(r)) for r in (OFFICE, ANALYST)]
    statements.append(sql.SQL("create role {} nologin").format(ident(DEPARTMENTS)))
    statements += [
        sql.SQL("create role {} nologin in role {}").format(ident(role), ident(DEPARTMENTS))
        for role in department_roles()
    ]
    return statements


def setup_version() -> str:
    """A fingerprint of what :func:`install` sets up, kept as the database's comment."""
    digest = hashlib.sha256()
    for statement in [*_roles_statements(), *_statements()]:
        digest.update(repr(statement).encode())
    digest.update(repr(sorted(SCHEMA_OWNERS.items())).encode())
    return f"credit access {digest.hexdigest()[:16]}"


def is_installed(conn: psycopg.Connection) -> bool:
    """Whether the roles exist, every object is its schema owner's, and the grants are this
    release's (one look at the system catalogue, readable by any role)."""
    row = conn.execute(
        """
        select
            (select count(*) from pg_roles where rolname = any(%(roles)s)) = %(role_count)s
            and coalesce(shobj_description(d.oid, 'pg_database'), '') = %(version)s
        from pg_database as d
        where d.datname = current_database()
        """,
        {"roles": list(all_roles()), "role_count": len(all_roles()), "version": setup_version()},
    ).fetchone()
    return bool(row and row[0]) and not _misowned(conn)


def _misowned(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """Objects whose owner is not their schema's: (kind, schema, name, owner wanted)."""
    owners = list(SCHEMA_OWNERS.items())
    return conn.execute(
        """
        with owners (schema_name, owner_name) as (
            select * from unnest(%(schemas)s::text[], %(owners)s::text[])
        )
        select 'schema', n.nspname, n.nspname, o.owner_name
        from pg_namespace as n join owners as o on o.schema_name = n.nspname
        where pg_get_userbyid(n.nspowner) <> o.owner_name
        union all
        select case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                    when 'S' then 'sequence' else 'table' end,
            n.nspname, c.relname, o.owner_name
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        join owners as o on o.schema_name = n.nspname
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            and pg_get_userbyid(c.relowner) <> o.owner_name
            -- a sequence of an identity or serial column follows its table
            and not exists (
                select from pg_depend as d
                where d.classid = 'pg_class'::regclass and d.objid = c.oid
                    and d.deptype in ('a', 'i')
            )
        union all
        select 'function', n.nspname,
            p.oid::regprocedure::text,
            case when n.nspname = 'audit' and p.proname = any(%(transformer_functions)s::text[])
                 then %(transformer)s else o.owner_name end
        from pg_proc as p
        join pg_namespace as n on n.oid = p.pronamespace
        join owners as o on o.schema_name = n.nspname
        where pg_get_userbyid(p.proowner) <> case
            when n.nspname = 'audit' and p.proname = any(%(transformer_functions)s::text[])
            then %(transformer)s else o.owner_name end
        """,
        {
            "schemas": [s for s, _ in owners],
            "owners": [o for _, o in owners],
            "transformer_functions": list(TRANSFORMER_FUNCTIONS),
            "transformer": TRANSFORMER,
        },
    ).fetchall()


def install(conn: psycopg.Connection) -> bool:
    """Create the roles, hand each schema and its objects to their owner, grant the rest.

    ``conn`` is the warehouse's owner's (a superuser's, or a role that may create roles) in
    autocommit. Returns False when :func:`is_installed` found nothing to do.
    """
    if is_installed(conn):
        return False
    _create_roles(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('credit.roles'))")
        for schema, owner in SCHEMA_OWNERS.items():
            conn.execute(
                sql.SQL("create schema if not exists {} authorization {}").format(
                    sql.Identifier(schema), sql.Identifier(owner)
                )
            )
        for kind, schema, name, owner in _misowned(conn):
            target = (
                sql.Identifier(schema)
                if kind == "schema"
                else sql.SQL(name)  # a regprocedure's text is quoted as needed
                if kind == "function"
                else sql.Identifier(schema, name)
            )
            conn.execute(
                sql.SQL("alter {} {} owner to {}").format(
                    sql.SQL(kind), target, sql.Identifier(owner)
                )
            )
        for statement in _statements():
            conn.execute(statement)
        database = sql.Identifier(conn.info.dbname)
        # dbt creates the schemas it builds when missing (a test's target schema too).
        conn.execute(
            sql.SQL("grant create on database {} to {}").format(
                database, sql.Identifier(TRANSFORMER)
            )
        )
        conn.execute(
            sql.SQL("comment on database {} is {}").format(database, sql.Literal(setup_version()))
        )
    log.info("warehouse roles and grants set up (%s)", setup_version())
    return True


def _create_roles(conn: psycopg.Connection) -> None:
    """The roles a server lacks, and the service roles' passwords from the environment.

    Roles belong to the server, not the database: two warehouses set up at once may both find
    one missing, so a role another created meanwhile is taken as created."""
    existing = {row[0] for row in conn.execute("select rolname from pg_roles")}
    for statement, role in zip(_roles_statements(), all_roles(), strict=True):
        if role in existing:
            continue
        with suppress(errors.DuplicateObject, errors.UniqueViolation):
            conn.execute(statement)
    for role in SERVICE_ROLES:
        if secret := password(role):
            set_password(conn, role, secret)


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Set a role's password, sent already encrypted (SCRAM): never in clear in SQL text."""
    encrypted = conn.pgconn.encrypt_password(
        password.encode(), checked_name(role).encode(), b"scram-sha-256"
    )
    conn.execute(
        sql.SQL("alter role {} password {}").format(
            sql.Identifier(role), sql.Literal(encrypted.decode())
        )
    )


def add_login(conn: psycopg.Connection, person: str, role: str, password: str) -> bool:
    """A login for a named person in one of :func:`group_roles`; True when it was created, False
    when it existed (its password and membership are then updated)."""
    if role not in group_roles():
        raise InvalidRoleName(
            f"{role!r} is not a role a person may join: one of {OFFICE}, {ANALYST} or a "
            f"department's {DEPARTMENT_PREFIX}<dept_code>"
        )
    login = checked_name(person)
    if login in all_roles():
        raise InvalidRoleName(f"{login!r} is one of the warehouse's own roles, not a person")
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(login)))
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(login)))
    set_password(conn, login, password)
    return not exists
