"""A document can be the combined answer to a request the organisation sent (联合审批的统一答复): one answer per
request, carrying the replies' signed PDFs as embedded files.

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


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("answer_to_id", sa.String(length=36), nullable=True))
        batch.create_unique_constraint("uq_documents_answer_to_id", ["answer_to_id"])


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("uq_documents_answer_to_id", type_="unique")
        batch.drop_column("answer_to_id")
