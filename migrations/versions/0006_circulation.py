"""Circulation: route templates, routes and steps, dispatches between organisations, calendar overrides;
incoming documents flagged when their signatures do not verify.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 07:48:51.265848
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_overrides",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_overrides")),
        sa.UniqueConstraint("scope", "day", name=op.f("uq_calendar_overrides_scope_day")),
    )
    op.create_table(
        "dispatches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_organisation_id", sa.String(length=36), nullable=False),
        sa.Column("incoming_document_id", sa.String(length=36), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
        sa.UniqueConstraint("incoming_document_id", name=op.f("uq_dispatches_incoming_document_id")),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatches_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatches_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dispatches_recipient_organisation_id"), ["recipient_organisation_id"], unique=False
        )

    op.create_table(
        "route_templates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_route_templates_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_templates")),
        sa.UniqueConstraint(
            "organisation_id", "name", "version", name=op.f("uq_route_templates_organisation_id_name_version")
        ),
    )
    with op.batch_alter_table("route_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_templates_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "routes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_routes_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routes_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_routes_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "steps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("route_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("assignee_official_id", sa.String(length=36), nullable=True),
        sa.Column("assignee_department_id", sa.String(length=36), nullable=True),
        sa.Column("assignee_role", sa.String(length=20), nullable=True),
        sa.Column("requires_signature", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("revision_seq", sa.Integer(), nullable=True),
        sa.Column("handled_by_department_id", sa.String(length=36), nullable=True),
        sa.Column("previous_step_id", sa.String(length=36), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"], name=op.f("fk_steps_route_id_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
    )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_steps_document_id"), ["document_id"], unique=False)
        batch_op.create_index(
            "ix_steps_open_department",
            ["assignee_department_id", "due_on", "id"],
            unique=False,
            postgresql_where=sa.text("state = 'open' AND assignee_official_id IS NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee_official_id IS NULL"),
        )
        batch_op.create_index(
            "ix_steps_open_official",
            ["assignee_official_id", "due_on", "id"],
            unique=False,
            postgresql_where=sa.text("state = 'open'"),
            sqlite_where=sa.text("state = 'open'"),
        )
        batch_op.create_index(
            "ix_steps_open_role",
            ["organisation_id", "assignee_role", "due_on", "id"],
            unique=False,
            postgresql_where=sa.text("state = 'open' AND assignee_role IS NOT NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee_role IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_steps_route_id"), ["route_id"], unique=False)
        batch_op.create_index(
            "ix_steps_to_escalate",
            ["due_on"],
            unique=False,
            postgresql_where=sa.text("state = 'open' AND escalated_at IS NULL"),
            sqlite_where=sa.text("state = 'open' AND escalated_at IS NULL"),
        )
        batch_op.create_index(
            "ix_steps_to_remind",
            ["due_on"],
            unique=False,
            postgresql_where=sa.text("state = 'open' AND reminded_at IS NULL"),
            sqlite_where=sa.text("state = 'open' AND reminded_at IS NULL"),
        )

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("flag_override", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("flag_override")
        batch_op.drop_column("flagged")

    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_steps_to_remind",
            postgresql_where=sa.text("state = 'open' AND reminded_at IS NULL"),
            sqlite_where=sa.text("state = 'open' AND reminded_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_steps_to_escalate",
            postgresql_where=sa.text("state = 'open' AND escalated_at IS NULL"),
            sqlite_where=sa.text("state = 'open' AND escalated_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_steps_route_id"))
        batch_op.drop_index(
            "ix_steps_open_role",
            postgresql_where=sa.text("state = 'open' AND assignee_role IS NOT NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee_role IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_steps_open_official", postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'")
        )
        batch_op.drop_index(
            "ix_steps_open_department",
            postgresql_where=sa.text("state = 'open' AND assignee_official_id IS NULL"),
            sqlite_where=sa.text("state = 'open' AND assignee_official_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_steps_document_id"))

    op.drop_table("steps")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routes_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_routes_document_id"))

    op.drop_table("routes")
    with op.batch_alter_table("route_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_templates_organisation_id"))

    op.drop_table("route_templates")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatches_recipient_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_document_id"))

    op.drop_table("dispatches")
    op.drop_table("calendar_overrides")
