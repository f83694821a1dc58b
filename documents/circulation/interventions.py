"""What happens to an open step without completing it: an assignee's comment, and a supervising leader's urge
(催办), deadline extension and reassignment (督办). Each is a :class:`StepEvent`, audited, and on the document's
timeline; urges and extensions count in the statistics.

Supervision acts belong to a leader of the step's own organisation: a superior body sees its subordinates'
overdue work (``supervision``) but acts through their leaders, not on their steps.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from esign.ids import now
from esign.scoped import get_scoped
from keys import identities

from ..errors import StateConflict
from ..records import CHINA
from .calendar import today as calendar_today
from .flows import may_act
from .model import (
    REQUIRED_ROLE,
    AlertKind,
    Assignee,
    Route,
    RouteDefinition,
    Step,
    StepAlert,
    StepEvent,
    StepEventKind,
    StepKind,
    StepState,
)
from .starting import check_assignee, new_step

MAX_TEXT = 2000


def _open_step(session: Session, *, actor: Actor, step_id: str) -> Step:
    step = get_scoped(session, Step, scope=actor, id=step_id, what="step", for_update=True)
    if step.state != StepState.OPEN.value:
        raise StateConflict(f"step {step.id} is {step.state}, no longer open")
    return step


def authorise(session: Session, *, actor: Actor, step_id: str) -> None:
    """Whether the actor may urge, extend or reassign this step, whatever its state (checked before a replay)."""
    if not actor.has_role(Role.LEADER):
        raise Forbidden("urging, extending and reassigning steps is for leaders")
    get_scoped(session, Step, scope=actor, id=step_id, what="step")


def _supervised(session: Session, *, actor: Actor, step_id: str) -> Step:
    authorise(session, actor=actor, step_id=step_id)
    return _open_step(session, actor=actor, step_id=step_id)


def _text(text: str | None, what: str, *, required: bool) -> str | None:
    text = (text or "").strip() or None
    if required and text is None:
        raise InvalidInput(f"{what} is required")
    if text is not None and len(text) > MAX_TEXT:
        raise InvalidInput(f"{what} is at most {MAX_TEXT} characters")
    return text


def _record(
    session: Session, *, actor: Actor, step: Step, kind: StepEventKind, text: str | None, **detail: Any
) -> StepEvent:
    event = StepEvent(
        organisation_id=step.organisation_id,
        step_id=step.id,
        document_id=step.document_id,
        kind=kind.value,
        by=actor.label,
        at=now(),
        text=text,
        detail=detail,
    )
    session.add(event)
    audit.append(
        session,
        actor=actor,
        action=f"step.{kind.value}",
        subject=f"step:{step.id}",
        chain=step.organisation_id,
        payload={"document": step.document_id, "text": text, **detail},
    )
    session.flush()
    return event


def comment(session: Session, *, actor: Actor, step_id: str, text: str) -> StepEvent:
    """An assignee's remark on a step that stays open (completing with comments is ``/complete``)."""
    step = _open_step(session, actor=actor, step_id=step_id)
    may_act(session, actor=actor, step=step)
    return _record(session, actor=actor, step=step, kind=StepEventKind.COMMENT, text=_text(text, "text", required=True))


def urge(session: Session, *, actor: Actor, step_id: str, message: str | None, interval: timedelta) -> StepEvent:
    """催办: a recorded reminder to the assignee, sent as ``step.urged``; again only after ``interval``."""
    step = _supervised(session, actor=actor, step_id=step_id)
    last: datetime | None = session.scalar(
        select(func.max(StepEvent.at)).where(StepEvent.step_id == step.id, StepEvent.kind == StepEventKind.URGE.value)
    )
    if last is not None and now() < last + interval:
        raise StateConflict(
            f"step {step.id} was urged at {_minute(last)}; urge it again after {_minute(last + interval)}"
        )
    event = _record(
        session, actor=actor, step=step, kind=StepEventKind.URGE, text=_text(message, "message", required=False)
    )
    outbox.emit(
        session,
        organisation_id=step.organisation_id,
        type="step.urged",
        subject=f"step:{step.id}",
        payload={
            "step_id": step.id,
            "document_id": step.document_id,
            "due_on": step.due_on.isoformat(),
            "assignee_official_id": step.assignee_official_id,
            "assignee_department_id": step.assignee_department_id,
            "assignee_role": step.assignee_role,
            "message": event.text,
        },
    )
    return event


def _minute(moment: datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="minutes")


def extend(session: Session, *, actor: Actor, step_id: str, due_on: date, reason: str) -> Step:
    """Move the deadline later, with a reason; the step's reminder and escalation follow the new date."""
    step = _supervised(session, actor=actor, step_id=step_id)
    why = _text(reason, "reason", required=True)
    if due_on <= step.due_on:
        raise InvalidInput(f"due_on must be after the step's current due day, {step.due_on.isoformat()}")
    if due_on < calendar_today():
        raise InvalidInput("due_on is in the past")
    previous = step.due_on
    step.due_on = due_on
    session.execute(delete(StepAlert).where(StepAlert.step_id == step.id))
    session.add_all(
        StepAlert(step_id=step.id, kind=kind.value, organisation_id=step.organisation_id, due_on=due_on)
        for kind in AlertKind
    )
    _record(
        session,
        actor=actor,
        step=step,
        kind=StepEventKind.EXTEND,
        text=why,
        previous_due_on=previous.isoformat(),
        due_on=due_on.isoformat(),
    )
    return step


def reassign(session: Session, *, actor: Actor, step_id: str, assignee: Assignee, reason: str) -> Step:
    """Give the step to another assignee of the organisation: it closes as ``reassigned`` and a new step
    carries on, with the same deadline."""
    step = _supervised(session, actor=actor, step_id=step_id)
    why = _text(reason, "reason", required=True)
    check_assignee(session, step.organisation_id, assignee)
    required = REQUIRED_ROLE.get(StepKind(step.kind))
    if required is not None and assignee.official_id is not None:
        official = identities.get_official(
            session, organisation_id=step.organisation_id, official_id=assignee.official_id
        )
        if required not in official.role_set:
            raise InvalidInput(f"{official.name} lacks the {required.value} role this step needs")
    if required is not None and assignee.role is not None and assignee.role is not required:
        raise InvalidInput(f"a {step.kind.replace('_', '-')} step needs the {required.value} role")
    current = (step.assignee_official_id, step.assignee_department_id, step.assignee_role)
    if current == (assignee.official_id, assignee.department_id, assignee.role.value if assignee.role else None):
        raise InvalidInput("the step is assigned there already")
    route = session.get_one(Route, step.route_id)
    spec = RouteDefinition.model_validate(route.definition).stages[step.stage].steps[step.position]
    step.state = StepState.REASSIGNED.value
    step.completed_at = now()
    step.completed_on = calendar_today()
    step.completed_by = actor.label
    _record(
        session,
        actor=actor,
        step=step,
        kind=StepEventKind.REASSIGN,
        text=why,
        to=assignee.model_dump(mode="json", exclude_none=True),
    )
    return new_step(
        session,
        route=route,
        stage=step.stage,
        position=step.position,
        spec=spec,
        assignee=assignee,
        opened_on=step.opened_on,
        due_on=step.due_on,
        previous=step,
    )
