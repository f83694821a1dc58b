"""The open steps of a set of organisations by due day, and their requests still awaiting a reply: 督办 over a
district and the hundreds of bodies below it reads the soonest-due page from these indexes, never the open
steps of the whole deployment nor every request its bodies ever sent.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state = 'open'"
_AWAITED = "reply_kind IS NOT NULL AND replied_at IS NULL AND forwarded_to_id IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_steps_open_organisation",
        "steps",
        ["organisation_id", "due_on", "id"],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_dispatches_awaited",
        "dispatches",
        ["organisation_id", "reply_due_on", "id"],
        postgresql_where=sa.text(_AWAITED),
        sqlite_where=sa.text(_AWAITED),
    )


def downgrade() -> None:
    op.drop_index("ix_dispatches_awaited", table_name="dispatches")
    op.drop_index("ix_steps_open_organisation", table_name="steps")
