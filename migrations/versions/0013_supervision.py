"""Organisations get a parent and a level (省/市/县/乡镇); steps get events that do not complete them: comments,
urges (催办), deadline extensions and reassignments by a supervising leader (督办); dispatches can be requests
with a reply deadline, linked to their reply, or forwarded to the competent body (回流); escalations of an
overdue step repeat on a schedule (``step_alerts.seq``); the document register pages an organisation's
documents newest first by an index.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("level", sa.String(length=10), nullable=True))
        batch.create_foreign_key("fk_organisations_parent_id_organisations", "organisations", ["parent_id"], ["id"])
        batch.create_index("ix_organisations_parent_id", ["parent_id"])
    op.create_index("ix_documents_register", "documents", ["organisation_id", "created_at", "id"])
    with op.batch_alter_table("step_alerts") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("dispatches") as batch:
        batch.add_column(sa.Column("reply_kind", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("reply_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reply_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reply_document_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("in_reply_to_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("forwarded_to_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("forward_reason", sa.Text(), nullable=True))
    op.create_table(
        "step_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column(
            "step_id",
            sa.String(length=36),
            sa.ForeignKey("steps.id", name="fk_step_events_step_id_steps"),
            nullable=False,
        ),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_events"),
    )
    op.create_index("ix_step_events_step", "step_events", ["step_id", "kind", "at"])
    op.create_index("ix_step_events_document_id", "step_events", ["document_id"])
    op.create_index("ix_step_events_organisation", "step_events", ["organisation_id", "kind", "at"])


def downgrade() -> None:
    op.drop_table("step_events")
    op.drop_index("ix_documents_register", table_name="documents")
    with op.batch_alter_table("step_alerts") as batch:
        batch.drop_column("seq")
    with op.batch_alter_table("dispatches") as batch:
        for column in (
            "forward_reason",
            "forwarded_to_id",
            "in_reply_to_id",
            "reply_document_id",
            "replied_at",
            "reply_due_on",
            "reply_days",
            "reply_kind",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("organisations") as batch:
        batch.drop_index("ix_organisations_parent_id")
        batch.drop_constraint("fk_organisations_parent_id_organisations", type_="foreignkey")
        batch.drop_column("level")
        batch.drop_column("parent_id")
