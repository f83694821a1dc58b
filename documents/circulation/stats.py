"""Per-department performance figures over a period, in working days.

A step counts for the department that handled it: the department of the official who completed it (or,
for a step still open, the department it is assigned to or its official's department). Handling time is
the working days from the day a step opened to the day it was completed, on the organisation's calendar;
the 90th percentile is the nearest-rank one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from esign.errors import InvalidInput
from esign.identity import Actor
from keys.identities import Department, Official

from . import calendar
from .figures import ClosedSteps
from .model import Step, StepEvent, StepEventKind, StepState


@dataclass(frozen=True)
class DepartmentStats:
    department_id: str
    department: str
    documents_handled: int
    steps_completed: int
    median_days: float | None
    p90_days: int | None
    on_time_rate: float | None
    overdue_now: int
    returns: int
    reroutes: int
    urges: int
    """催办 a leader made, in the period, on the department's steps."""
    extensions: int
    """Deadlines a leader moved, in the period, on the department's steps."""


def departments(
    session: Session, *, actor: Actor, start: date, end: date, today: date | None = None
) -> list[DepartmentStats]:
    if end < start:
        raise InvalidInput("the period ends before it starts")
    day = today or calendar.today()
    working = calendar.load(session, organisation_id=actor.organisation_id)
    names = dict(
        session.execute(
            select(Department.id, Department.name).where(Department.organisation_id == actor.organisation_id)
        ).all()
    )
    official_department = dict(
        session.execute(
            select(Official.id, Official.department_id).where(Official.organisation_id == actor.organisation_id)
        ).all()
    )
    completed = session.scalars(
        select(Step).where(
            Step.organisation_id == actor.organisation_id,
            Step.completed_on >= start,
            Step.completed_on <= end,
            Step.state.in_(
                [StepState.DONE.value, StepState.RETURNED.value, StepState.REROUTED.value, StepState.DELEGATED.value]
            ),
        )
    ).all()
    overdue = session.scalars(
        select(Step).where(
            Step.organisation_id == actor.organisation_id,
            Step.state == StepState.OPEN.value,
            Step.due_on < day,
            or_(Step.assignee_department_id.is_not(None), Step.assignee_official_id.is_not(None)),
        )
    ).all()
    closed = ClosedSteps(working)
    documents: dict[str, set[str]] = defaultdict(set)
    for step in completed:
        department = step.handled_by_department_id
        if department is None:
            continue
        closed.add(
            department,
            state=step.state,
            outcome=step.outcome,
            opened_on=step.opened_on,
            completed_on=step.completed_on,
            due_on=step.due_on,
        )
        if step.state == StepState.DONE.value:
            documents[department].add(step.document_id)
    urges: dict[str, int] = defaultdict(int)
    extensions: dict[str, int] = defaultdict(int)
    for kind, official_id, department_id in session.execute(
        select(StepEvent.kind, Step.assignee_official_id, Step.assignee_department_id)
        .join(Step, Step.id == StepEvent.step_id)
        .where(
            StepEvent.organisation_id == actor.organisation_id,
            StepEvent.kind.in_([StepEventKind.URGE.value, StepEventKind.EXTEND.value]),
            StepEvent.at >= calendar.start_of(start),
            StepEvent.at < calendar.start_of(end + timedelta(days=1)),
        )
    ):
        department = department_id or official_department.get(official_id or "")
        if department:
            (urges if kind == StepEventKind.URGE.value else extensions)[department] += 1
    overdue_now: dict[str, int] = defaultdict(int)
    for step in overdue:
        department = step.assignee_department_id or official_department.get(step.assignee_official_id or "")
        if department:
            overdue_now[department] += 1
    result = []
    for department_id, name in sorted(names.items(), key=lambda item: item[1]):
        handled = closed.handling[department_id]
        result.append(
            DepartmentStats(
                department_id=department_id,
                department=name,
                documents_handled=len(documents[department_id]),
                steps_completed=handled.count,
                median_days=handled.median,
                p90_days=handled.p90,
                on_time_rate=handled.on_time_rate,
                overdue_now=overdue_now[department_id],
                returns=closed.returns[department_id],
                reroutes=closed.reroutes[department_id],
                urges=urges[department_id],
                extensions=extensions[department_id],
            )
        )
    return result
