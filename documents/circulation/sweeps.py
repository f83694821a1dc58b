"""Periodic work on open steps: a reminder (催办) to the assignee when a step is due within one working day,
escalation (督办) to the supervising leader once it is overdue.

Each sweep claims and marks a batch of steps in one statement, ``UPDATE steps ... WHERE id = ANY(ARRAY(SELECT
id ... FOR UPDATE SKIP LOCKED)) RETURNING ...`` (PostgreSQL; on SQLite ``id IN (SELECT ...)``, and its write
lock serialises the workers instead), and writes their notifications to the outbox in the same transaction,
so with any number of workers each reminder and each escalation happens exactly once. The reminder threshold
uses the official calendar with the overrides declared for everyone; an organisation's own overrides already
shaped its due dates when the steps opened.

The claim works on rows, not ORM objects: a sweep touches thousands of steps a second and needs eight of
their columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Row, String, any_, bindparam, cast, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from esign import outbox
from esign.db import Database, table_of
from esign.worker import Job
from keys.actor import Role
from keys.identities import Official

from ..records import now
from . import calendar
from .model import Step, StepState

BATCH = 1000

_STEPS = table_of(Step)
_CLAIMED = (
    _STEPS.c.id, _STEPS.c.organisation_id, _STEPS.c.document_id, _STEPS.c.kind, _STEPS.c.due_on,
    _STEPS.c.assignee_official_id, _STEPS.c.assignee_department_id, _STEPS.c.assignee_role,
)


def _claim(session: Session, *, due_by: date, column: str, batch: int) -> Sequence[Row[Any]]:
    """Mark up to ``batch`` open steps due by ``due_by`` whose ``column`` is empty; the marked steps."""
    marker = _STEPS.c[column]
    chosen = (
        select(_STEPS.c.id)
        .where(_STEPS.c.state == StepState.OPEN.value, marker.is_(None), _STEPS.c.due_on <= due_by)
        .order_by(_STEPS.c.due_on)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # An array the planner sees as one value: the marked rows are found by primary key, never by a join
        # over the whole table (IN (subquery) can become a hash join with a sequential scan).
        which = _STEPS.c.id == any_(func.array(chosen.scalar_subquery()))
    else:
        which = _STEPS.c.id.in_(chosen.scalar_subquery())
    claim = update(_STEPS).where(which).values({column: now()}).returning(*_CLAIMED)
    return session.execute(claim).all()


def _payload(step: Row[Any]) -> dict[str, Any]:
    return {
        "step_id": step.id, "document_id": step.document_id, "kind": step.kind, "due_on": step.due_on.isoformat(),
        "official_id": step.assignee_official_id, "department_id": step.assignee_department_id,
        "role": step.assignee_role,
    }


def remind(database: Database, *, today: date | None = None, batch: int = BATCH) -> int:
    """One batch of reminders; the number of steps reminded (0 when there is nothing left to do)."""
    day = today or calendar.today()
    with database.transaction() as session:
        threshold = calendar.load(session, organisation_id=calendar.GLOBAL).add_working_days(day, 1)
        steps = _claim(session, due_by=threshold, column="reminded_at", batch=batch)
        outbox.emit_many(session, [
            outbox.Event(
                organisation_id=s.organisation_id, type="step.due_soon", subject=f"step:{s.id}", payload=_payload(s)
            )
            for s in steps
        ])
        return len(steps)


def _among(session: Session, column: InstrumentedAttribute[str], values: Collection[str]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter, however many values (an
    expanded IN of a thousand ids costs more to build and parse than the query it asks)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


def _supervisors(session: Session, steps: Sequence[Row[Any]]) -> dict[str, dict[str, list[str]]]:
    """Leaders by organisation and department ('' for the whole organisation)."""
    organisations = {s.organisation_id for s in steps}
    leaders: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = session.execute(
        select(Official.id, Official.organisation_id, Official.department_id).where(
            _among(session, Official.organisation_id, organisations), Official.disabled.is_(False),
            # Roles are a JSON list of role names (identities validates them), so the quoted name matches
            # exactly that role: the leaders are found without decoding every official's roles.
            cast(Official.roles, String).contains(f'"{Role.LEADER.value}"'),
        )
    )
    for official_id, organisation_id, department_id in rows:
        leaders[organisation_id][department_id].append(official_id)
        leaders[organisation_id][""].append(official_id)
    return leaders


def escalate(database: Database, *, today: date | None = None, batch: int = BATCH) -> int:
    """One batch of escalations of overdue steps; the number escalated."""
    day = today or calendar.today()
    with database.transaction() as session:
        steps = _claim(session, due_by=day.fromordinal(day.toordinal() - 1), column="escalated_at", batch=batch)
        if not steps:
            return 0
        leaders = _supervisors(session, steps)
        departments = _departments_of_officials(session, steps)
        events = []
        for s in steps:
            department = s.assignee_department_id or departments.get(s.assignee_official_id or "", "")
            supervisors = leaders[s.organisation_id].get(department) or leaders[s.organisation_id][""]
            events.append(outbox.Event(
                organisation_id=s.organisation_id, type="step.overdue", subject=f"step:{s.id}",
                payload={**_payload(s), "supervisors": supervisors},
            ))
        outbox.emit_many(session, events)
        return len(steps)


def _departments_of_officials(session: Session, steps: Sequence[Row[Any]]) -> dict[str, str]:
    officials = {s.assignee_official_id for s in steps if s.assignee_official_id}
    if not officials:
        return {}
    query = select(Official.id, Official.department_id).where(_among(session, Official.id, officials))
    return dict(session.execute(query).all())  # type: ignore[arg-type]


def jobs() -> list[Job]:
    """The worker jobs of circulation."""
    return [remind, escalate]
