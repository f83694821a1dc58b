"""Per-official figures over a period, for a leader of the organisation (绩效考核): every official of the
leader's own organisation, never another's.

A completed step counts for the official who completed it (``Step.completed_by``); steps the system closed
count for nobody. Handling time is the working days from the day a step opened to the day it was completed,
on the organisation's calendar; the 90th percentile is the nearest-rank one, as for departments (``stats``).
Overdue steps, urges and extensions count for the official a step is assigned to by name: a step assigned to
a department or a role is the department's (``stats``), not any one official's. Forwards (回流) count for the
official who sent the document on, as the audit log records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esign.audit import AuditEvent
from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from keys.identities import Department, Official

from . import calendar
from .figures import ClosedSteps
from .model import Step, StepEvent, StepEventKind, StepState

_OFFICIAL = "official:"
_CLOSED = [StepState.DONE.value, StepState.RETURNED.value, StepState.REROUTED.value, StepState.DELEGATED.value]


@dataclass(frozen=True)
class OfficialStats:
    official_id: str
    official: str
    department: str
    steps_completed: int
    median_days: float | None
    p90_days: int | None
    on_time_rate: float | None
    overdue_now: int
    """Open steps assigned to the official by name, past their due day (today, whatever the period)."""
    returns: int
    reroutes: int
    urges: int
    """催办 a leader made, in the period, on steps assigned to the official."""
    extensions: int
    forwarded: int
    """Incoming documents the official sent on to the competent organisation (回流) in the period."""


def leader_period(actor: Actor, start: date, end: date) -> None:
    """The checks every leader's figures make first."""
    if not actor.has_role(Role.LEADER):
        raise Forbidden("these figures are for leaders")
    if end < start:
        raise InvalidInput("the period ends before it starts")


def officials(
    session: Session, *, actor: Actor, start: date, end: date, today: date | None = None
) -> list[OfficialStats]:
    leader_period(actor, start, end)
    day = today or calendar.today()
    organisation = actor.organisation_id
    working = calendar.load(session, organisation_id=organisation)
    people = session.execute(
        select(Official.id, Official.name, Department.name)
        .join(Department, Department.id == Official.department_id)
        .where(Official.organisation_id == organisation)
        .order_by(Department.name, Official.name, Official.id)
    ).all()
    closed = ClosedSteps(working)
    for by, state, outcome, opened_on, completed_on, due_on in session.execute(
        select(Step.completed_by, Step.state, Step.outcome, Step.opened_on, Step.completed_on, Step.due_on).where(
            Step.organisation_id == organisation,
            Step.completed_on >= start,
            Step.completed_on <= end,
            Step.state.in_(_CLOSED),
            Step.completed_by.startswith(_OFFICIAL),
        )
    ):
        official = (by or "").removeprefix(_OFFICIAL)
        closed.add(
            official, state=state, outcome=outcome, opened_on=opened_on, completed_on=completed_on, due_on=due_on
        )
    overdue = dict(
        session.execute(
            select(Step.assignee_official_id, func.count())
            .where(
                Step.organisation_id == organisation,
                Step.state == StepState.OPEN.value,
                Step.due_on < day,
                Step.assignee_official_id.is_not(None),
            )
            .group_by(Step.assignee_official_id)
        ).all()
    )
    since, until = calendar.start_of(start), calendar.start_of(end + timedelta(days=1))
    events: dict[tuple[str | None, str], int] = {
        (official, kind): n
        for official, kind, n in session.execute(
            select(Step.assignee_official_id, StepEvent.kind, func.count())
            .join(Step, Step.id == StepEvent.step_id)
            .where(
                StepEvent.organisation_id == organisation,
                StepEvent.kind.in_([StepEventKind.URGE.value, StepEventKind.EXTEND.value]),
                StepEvent.at >= since,
                StepEvent.at < until,
                Step.assignee_official_id.is_not(None),
            )
            .group_by(Step.assignee_official_id, StepEvent.kind)
        )
    }
    forwarded = dict(
        session.execute(
            select(AuditEvent.actor, func.count())
            .where(
                AuditEvent.chain == organisation,
                AuditEvent.action == "document.forwarded",
                AuditEvent.at >= since,
                AuditEvent.at < until,
            )
            .group_by(AuditEvent.actor)
        ).all()
    )
    return [
        OfficialStats(
            official_id=official_id,
            official=name,
            department=department,
            steps_completed=closed.handling[official_id].count,
            median_days=closed.handling[official_id].median,
            p90_days=closed.handling[official_id].p90,
            on_time_rate=closed.handling[official_id].on_time_rate,
            overdue_now=overdue.get(official_id, 0),
            returns=closed.returns[official_id],
            reroutes=closed.reroutes[official_id],
            urges=events.get((official_id, StepEventKind.URGE.value), 0),
            extensions=events.get((official_id, StepEventKind.EXTEND.value), 0),
            forwarded=forwarded.get(_OFFICIAL + official_id, 0),
        )
        for official_id, name, department in people
    ]
