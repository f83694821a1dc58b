"""Remote signing over the CSC API: signature activation data.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signature_activations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("official_id", sa.String(length=36), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_pin", sa.LargeBinary(), nullable=True),
        sa.Column("hashes", sa.JSON(), nullable=True),
        sa.Column("signatures_left", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credentials.id"], name=op.f("fk_signature_activations_credential_id_credentials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_activations")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_signature_activations_secret_hash")),
    )
    with op.batch_alter_table("signature_activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signature_activations_credential_id"), ["credential_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signature_activations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signature_activations_credential_id"))

    op.drop_table("signature_activations")
