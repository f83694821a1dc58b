"""Reminders and escalations still to come are queued in step_alerts, no longer marked on the steps; an
index of the active leaders finds the supervisors an escalation names.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEADER = "CAST(roles AS VARCHAR) LIKE '%\"leader\"%'"
_OPEN_REMIND = "state = 'open' AND reminded_at IS NULL"
_OPEN_ESCALATE = "state = 'open' AND escalated_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "step_alerts",
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("step_id", "kind", name=op.f("pk_step_alerts")),
    )
    # The open steps' alerts not yet sent, as the markers said.
    for kind, marker in (("due_soon", "reminded_at"), ("overdue", "escalated_at")):
        op.execute(
            "INSERT INTO step_alerts (step_id, kind, organisation_id, due_on) "
            f"SELECT id, '{kind}', organisation_id, due_on FROM steps WHERE state = 'open' AND {marker} IS NULL"
        )
    with op.batch_alter_table("step_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_step_alerts_due", ["kind", "due_on"], unique=False)
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_steps_to_remind", postgresql_where=sa.text(_OPEN_REMIND), sqlite_where=sa.text(_OPEN_REMIND)
        )
        batch_op.drop_index(
            "ix_steps_to_escalate", postgresql_where=sa.text(_OPEN_ESCALATE), sqlite_where=sa.text(_OPEN_ESCALATE)
        )
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_officials_leaders",
            ["organisation_id", "department_id"],
            unique=False,
            postgresql_where=sa.text(f"{_LEADER} AND disabled IS false"),
            sqlite_where=sa.text(f"{_LEADER} AND disabled IS 0"),
        )


def downgrade() -> None:
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_officials_leaders",
            postgresql_where=sa.text(f"{_LEADER} AND disabled IS false"),
            sqlite_where=sa.text(f"{_LEADER} AND disabled IS 0"),
        )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    # An open step without its alert had it sent; when exactly is not kept, so the migration's time stands in.
    for kind, marker in (("due_soon", "reminded_at"), ("overdue", "escalated_at")):
        op.execute(
            f"UPDATE steps SET {marker} = CURRENT_TIMESTAMP WHERE state = 'open' AND id NOT IN "
            f"(SELECT step_id FROM step_alerts WHERE kind = '{kind}')"
        )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_steps_to_escalate",
            ["due_on"],
            unique=False,
            postgresql_where=sa.text(_OPEN_ESCALATE),
            sqlite_where=sa.text(_OPEN_ESCALATE),
        )
        batch_op.create_index(
            "ix_steps_to_remind",
            ["due_on"],
            unique=False,
            postgresql_where=sa.text(_OPEN_REMIND),
            sqlite_where=sa.text(_OPEN_REMIND),
        )
    op.drop_table("step_alerts")
