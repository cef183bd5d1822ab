"""The transform's build attempts: the exports read only marts whose last attempt completed.

Revision 0003, after 0002.

A dbt build that fails half way leaves the marts half rebuilt, the models it built as of the
new day and the rest as of the day before.  Each attempt of the nightly transform is a row here,
``running`` from before dbt starts, then ``succeeded`` or ``failed``
(:func:`credit.transform.build_marts`); the exports refuse marts whose last attempt is not
``succeeded`` (:func:`credit.exports.daily.marts_as_of_date`).  A warehouse upgraded to here has
no attempt recorded: its marts are exported as they are until its first transform.
"""

from credit.migrations import driver_connection

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    driver_connection().execute(
        """
        create table audit.transform_builds (
            build_id bigint generated always as identity primary key,
            run_id text not null,
            attempt integer not null,
            as_of_date date not null,
            command text not null,
            status text not null default 'running'
                check (status in ('running', 'succeeded', 'failed')),
            started_at timestamptz not null default now(),
            finished_at timestamptz
        )
        """
    )
