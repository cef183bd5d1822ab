"""Alembic's environment: the revisions run on the connection :func:`credit.migrations.upgrade`
opened, inside its transaction (so the catalogue's raw tables and the revisions commit
together), with the version table in ``audit``."""

from alembic import context

from credit.migrations import VERSION_SCHEMA, VERSION_TABLE

context.configure(
    connection=context.config.attributes["connection"],
    version_table=VERSION_TABLE,
    version_table_schema=VERSION_SCHEMA,
)
with context.begin_transaction():
    context.run_migrations()
