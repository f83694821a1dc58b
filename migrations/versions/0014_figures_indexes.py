"""The open steps of a set of organisations by due day: 督办 over a district and the hundreds of bodies below
it reads the soonest-due page from this index, never the open steps of the whole deployment.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state = 'open'"


def upgrade() -> None:
    op.create_index(
        "ix_steps_open_organisation",
        "steps",
        ["organisation_id", "due_on", "id"],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_steps_open_organisation", table_name="steps")
