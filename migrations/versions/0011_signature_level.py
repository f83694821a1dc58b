"""Organisations choose the PAdES level of the signatures the service makes for them: B-LTA unless they pick
B-LT or B-T.

Revision ID: 0011
Revises: 0009 (0010 once the archive-renewal migration lands: change down_revision then)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("signature_level", sa.String(length=6), server_default="B-LTA", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("signature_level")
