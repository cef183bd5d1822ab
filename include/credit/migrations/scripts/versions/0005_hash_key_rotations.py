"""The hash key's rotations: ``audit.hash_key_rotations``.

Revision 0005, after 0004.

``credit warehouse rotate-hash-key`` re-keys, in one transaction, what a full refresh keeps and
records the rotation here (how many resident IDs it mapped, the rows it re-keyed per table);
the row stays open (``rebuilt_at`` null) until a transform has rebuilt every model from ``raw``
with the new key, which every transform does while one is open (:mod:`credit.hash_key`).
"""

from credit.migrations import driver_connection

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    driver_connection().execute(
        """
        create table audit.hash_key_rotations (
            rotation_id bigint generated always as identity primary key,
            rotated_at timestamptz not null default now(),
            identifiers integer not null,
            rekeyed_rows jsonb not null,
            rebuilt_at timestamptz,
            rebuilt_by text
        )
        """
    )
