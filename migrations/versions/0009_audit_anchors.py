"""Anchors of the audit chains: their heads, time-stamped by the service's TSA (esign/anchors.py).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    op.create_index(op.f("ix_audit_anchors_anchored_at"), "audit_anchors", ["anchored_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_anchors_anchored_at"), table_name="audit_anchors")
    op.drop_table("audit_anchors")
