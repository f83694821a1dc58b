"""A step handed elsewhere: returned to an earlier stage, delegated to another official, or rerouted to the
competent department (回流)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from esign.errors import InvalidInput
from esign.identity import Actor
from keys import identities

from . import calendar
from .actions import Action, finish
from .model import (
    REQUIRED_ROLE,
    Assignee,
    Route,
    RouteDefinition,
    Step,
    StepKind,
    StepState,
)
from .starting import new_step, open_stage, stage_steps


def return_(
    session: Session,
    *,
    actor: Actor,
    route: Route,
    definition: RouteDefinition,
    step: Step,
    action: Action,
    today: date,
) -> None:
    target = action.return_to_stage if action.return_to_stage is not None else step.stage - 1
    if not 0 <= target < step.stage:
        raise InvalidInput(f"a step in stage {step.stage} can return to an earlier stage (0 to {step.stage - 1})")
    for other in stage_steps(session, route, step.stage):
        if other.state == StepState.OPEN.value and other.id != step.id:
            other.state = StepState.CANCELLED.value
    finish(
        session,
        step,
        actor=actor,
        action=action,
        state=StepState.RETURNED,
        day=today,
        to_stage=target,
    )
    route.stage = target
    open_stage(session, route=route, stage=definition.stages[target], index=target, today=today, returned=True)


def delegate(
    session: Session,
    *,
    actor: Actor,
    route: Route,
    definition: RouteDefinition,
    step: Step,
    action: Action,
    today: date,
) -> None:
    if action.delegate_to is None:
        raise InvalidInput("delegate needs delegate_to: an official of the organisation")
    delegate = identities.get_official(session, organisation_id=route.organisation_id, official_id=action.delegate_to)
    if delegate.disabled or delegate.id == actor.official_id:
        raise InvalidInput("delegate to another, active official")
    required = REQUIRED_ROLE.get(StepKind(step.kind))
    if required is not None and required not in delegate.role_set:
        raise InvalidInput(f"{delegate.name} lacks the {required.value} role this step needs")
    finish(
        session,
        step,
        actor=actor,
        action=action,
        state=StepState.DELEGATED,
        day=today,
        to=delegate.id,
    )
    spec = definition.stages[step.stage].steps[step.position]
    new_step(
        session,
        route=route,
        stage=step.stage,
        position=step.position,
        spec=spec,
        assignee=Assignee(official_id=delegate.id),
        opened_on=step.opened_on,
        due_on=step.due_on,
        previous=step,
    )


def reroute(
    session: Session,
    *,
    actor: Actor,
    route: Route,
    definition: RouteDefinition,
    step: Step,
    action: Action,
    today: date,
) -> None:
    """回流: the document reached the wrong department; it goes to the right one at once, with the full
    deadline from today."""
    if action.reroute_to is None:
        raise InvalidInput("reroute needs reroute_to: a department of the organisation")
    department = identities.get_department(
        session, organisation_id=route.organisation_id, department_id=action.reroute_to
    )
    if department.disabled or department.id == step.assignee_department_id:
        raise InvalidInput("reroute to another, active department")
    finish(
        session,
        step,
        actor=actor,
        action=action,
        state=StepState.REROUTED,
        day=today,
        to=department.id,
    )
    spec = definition.stages[step.stage].steps[step.position]
    working = calendar.load(session, organisation_id=route.organisation_id)
    new_step(
        session,
        route=route,
        stage=step.stage,
        position=step.position,
        spec=spec,
        assignee=Assignee(department_id=department.id),
        opened_on=today,
        due_on=working.add_working_days(today, spec.days),
        previous=step,
    )
