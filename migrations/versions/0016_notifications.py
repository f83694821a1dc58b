"""Notifications (通知): one row per official told of a step assigned, returned, urged, falling due or overdue,
or of a reply to their request, written in the transaction of the event; read in the app and, when SMTP is
configured, e-mailed once by the worker. Officials get an optional e-mail address.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("officials") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "notifications",
        sa.Column(
            "organisation_id",
            sa.String(length=36),
            sa.ForeignKey("organisations.id", name="fk_notifications_organisation_id_organisations"),
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("step_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("organisation_id", "id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient_id", "created_at"])
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["recipient_id"],
        postgresql_where=sa.text("read_at IS NULL"),
        sqlite_where=sa.text("read_at IS NULL"),
    )
    op.create_index(
        "ix_notifications_email_due",
        "notifications",
        ["email_next_at"],
        postgresql_where=sa.text("email_next_at IS NOT NULL"),
        sqlite_where=sa.text("email_next_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    with op.batch_alter_table("officials") as batch:
        batch.drop_column("email")
