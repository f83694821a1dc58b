"""What each document's archive is protected by, for the preservation worker (documents/preservation.py): the
state of its latest revision, its last archive time-stamp's unit expiry and algorithms, and a worker's lease.

Existing documents start unassessed (preservation NULL): the worker reads their latest revision and fills the
columns on its first rounds, since the PDFs live in the blob store, out of the migration's reach.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preservation", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("protected_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("archive_digest", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("archive_key_type", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("archive_key_bits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("archive_claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_documents_protected_until", ["protected_until"], unique=False)
        batch_op.create_index("ix_documents_preservation", ["preservation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_preservation")
        batch_op.drop_index("ix_documents_protected_until")
        batch_op.drop_column("archive_claimed_until")
        batch_op.drop_column("archive_key_bits")
        batch_op.drop_column("archive_key_type")
        batch_op.drop_column("archive_digest")
        batch_op.drop_column("protected_until")
        batch_op.drop_column("preservation")
