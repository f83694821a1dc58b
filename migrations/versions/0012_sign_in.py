"""Sign-in for people: officials' login names and password hashes, invitation links to set a password,
server-side sign-in sessions, and a name on API tokens an official makes on their tokens page.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("official_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], name=op.f("fk_invitations_official_id_officials")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_invitations_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_official_id"), ["official_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitations_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "official_logins",
        sa.Column("official_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["official_id"], ["officials.id"], name=op.f("fk_official_logins_official_id_officials")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_official_logins_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("official_id", name=op.f("pk_official_logins")),
        sa.UniqueConstraint("login", name=op.f("uq_official_logins_login")),
    )
    with op.batch_alter_table("official_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_official_logins_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("official_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], name=op.f("fk_web_sessions_official_id_officials")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_web_sessions_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_official_id"), ["official_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_organisation_id"), ["organisation_id"], unique=False)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("name")

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_official_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("official_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_official_logins_organisation_id"))

    op.drop_table("official_logins")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_official_id"))

    op.drop_table("invitations")
