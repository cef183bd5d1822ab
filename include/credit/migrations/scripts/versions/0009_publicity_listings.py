"""What the credit portal was given: ``audit.publicity_listings``.

Revision 0009, after 0008.

The daily publicity export (``credit.exports.publicity``) sends the portal the day's changes to
its list (公示清单变更) rather than the whole list every night. A row is one record as one export
listed it: from the day whose export first gave it (``listed_from``) to the day whose export
took it off or changed it (``listed_until``, null while it stands), with the MD5 of the cells
the portal received (``row_md5``). The list the portal holds before a day is the rows listed
before it and not yet ended then; the day's changes are what differs from it.
"""

from credit.migrations import driver_connection

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    driver_connection().execute(
        """
        create table audit.publicity_listings (
            publicity_record_id text not null,
            listed_from date not null,
            listed_until date check (listed_until >= listed_from),
            row_md5 text not null,
            primary key (publicity_record_id, listed_from)
        );
        create index publicity_listings_until_idx on audit.publicity_listings (listed_until)
        """
    )
