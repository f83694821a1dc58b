"""Orchestration of a document's route: starting it, acting on its steps, moving it stage by stage.

Every transition happens in the caller's transaction together with its audit event, the revision it makes
(a signature, a number, a seal) and its outbox events; a transition that fails changes nothing. The step's
own action (signing, numbering, sealing, dispatching) comes first, so that a wrong PIN, the only failure
whose trace is kept (the credential's count of wrong PINs), leaves the document, its revisions, the step
and the audit log as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.blobs import BlobStore
from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from esign.ids import new_id, now
from esign.scoped import get_scoped
from esign.settings import Settings
from esign.sign import PadesLevel
from esign.trust import TrustSettings
from keys import identities
from keys.authorities import Pki

from .. import numbering, revisions, signing
from ..errors import StateConflict
from ..records import Direction, Document
from ..states import DocumentState, RouteState, move_document, move_route
from . import calendar, exchange
from .model import (
    REQUIRED_ROLE,
    AlertKind,
    Assignee,
    Outcome,
    Route,
    RouteDefinition,
    RouteTemplate,
    StageSpec,
    Step,
    StepAlert,
    StepKind,
    StepSpec,
    StepState,
)

DEFAULT_INCOMING = RouteDefinition(
    stages=[
        StageSpec(name="签收", steps=[StepSpec(kind=StepKind.RECEIPT, assignee=Assignee(role=Role.CLERK))]),
        StageSpec(name="登记", steps=[StepSpec(kind=StepKind.REGISTRATION, assignee=Assignee(role=Role.CLERK))]),
        StageSpec(name="拟办", steps=[StepSpec(kind=StepKind.PROPOSAL, assignee=Assignee(role=Role.CLERK))]),
        StageSpec(name="批办", steps=[StepSpec(kind=StepKind.INSTRUCTION, assignee=Assignee(role=Role.LEADER))]),
        StageSpec(name="承办", steps=[StepSpec(kind=StepKind.HANDLING, assignee=Assignee(role=Role.OFFICIAL))]),
        StageSpec(name="传阅", steps=[StepSpec(kind=StepKind.READING, assignee=Assignee(role=Role.LEADER))], quorum="any"),
        StageSpec(name="办结", steps=[StepSpec(kind=StepKind.CLOSURE, assignee=Assignee(role=Role.CLERK))]),
    ]
)
"""收文: receipt, registration, proposed handling, the leader's instruction (which names the handling
departments), handling, reading, closure. An organisation's own template named ``incoming`` replaces it."""

INCOMING_TEMPLATE = "incoming"


@dataclass(frozen=True)
class Services:
    """What transitions need besides the session: where PDFs live, the PKI, settings, what to trust."""

    blobs: BlobStore
    pki: Pki
    settings: Settings
    trust: TrustSettings


@dataclass(frozen=True)
class Action:
    outcome: Outcome
    opinion: str | None = None
    return_to_stage: int | None = None
    delegate_to: str | None = None
    """An official of the organisation, for ``delegate``."""
    reroute_to: str | None = None
    """A department of the organisation, for ``reroute`` (回流)."""
    credential_id: str | None = None
    pin: str | None = None
    session_secret: str | None = None
    level: PadesLevel = PadesLevel.B_B
    recipients: Sequence[str] = ()
    """Organisations a dispatch step sends the document to."""
    handlers: Sequence[Assignee] = field(default_factory=tuple)
    """Replace the next stage's assignees (a leader's instruction names the handling departments)."""
    override_reason: str | None = None
    """Register an incoming document that was flagged, and say why."""


# --- starting ---------------------------------------------------------------------------------------


def _definition(session: Session, *, actor: Actor, template_id: str | None, definition: RouteDefinition | None) -> tuple[RouteDefinition, RouteTemplate | None]:
    if (template_id is None) == (definition is None):
        raise InvalidInput("start a route from a template or from a definition, not both or neither")
    if definition is not None:
        return definition, None
    template = get_scoped(session, RouteTemplate, scope=actor, id=template_id, what="route template")
    if template.retired:
        raise StateConflict(f"route template {template.name} v{template.version} is retired")
    return RouteDefinition.model_validate(template.definition), template


def check_assignees(session: Session, organisation_id: str, stage: StageSpec) -> None:
    for spec in stage.steps:
        _check_assignee(session, organisation_id, spec.assignee)


def _check_assignee(session: Session, organisation_id: str, assignee: Assignee) -> None:
    if assignee.official_id is not None:
        official = identities.get_official(session, organisation_id=organisation_id, official_id=assignee.official_id)
        if official.disabled:
            raise InvalidInput(f"official {official.name} is disabled")
    if assignee.department_id is not None:
        department = identities.get_department(session, organisation_id=organisation_id, department_id=assignee.department_id)
        if department.disabled:
            raise InvalidInput(f"department {department.name} is disabled")


def start(
    session: Session,
    *,
    actor: Actor,
    document_id: str,
    template_id: str | None = None,
    definition: RouteDefinition | None = None,
    today: date | None = None,
) -> Route:
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    if session.scalar(select(Route.id).where(Route.document_id == document.id, Route.state == RouteState.ACTIVE.value)):
        raise StateConflict(f"document {document.id} is on a route already")
    chosen, template = _definition(session, actor=actor, template_id=template_id, definition=definition)
    for stage in chosen.stages:
        check_assignees(session, document.organisation_id, stage)
    return _start(session, actor=actor, document=document, definition=chosen, template=template, today=today)


def _start(
    session: Session, *, actor: Actor, document: Document, definition: RouteDefinition, template: RouteTemplate | None,
    today: date | None,
) -> Route:
    route = Route(
        id=new_id(), document_id=document.id, organisation_id=document.organisation_id,
        template_id=template.id if template else None, template_version=template.version if template else None,
        definition=definition.model_dump(mode="json"), state=RouteState.ACTIVE.value, stage=0,
    )
    session.add(route)
    session.flush()
    if document.state in (DocumentState.DRAFT, DocumentState.ARRIVED):
        outgoing = document.direction == Direction.OUTGOING.value
        move_document(document, DocumentState.IN_CIRCULATION if outgoing else DocumentState.ARRIVED)
    audit.append(
        session, actor=actor, action="route.started", subject=f"document:{document.id}", chain=document.organisation_id,
        payload={"route": route.id, "template": template.id if template else None, "stages": len(definition.stages)},
    )
    _open_stage(session, route=route, stage=definition.stages[0], index=0, today=today)
    return route


def start_incoming(session: Session, *, document: Document, today: date | None = None) -> Route:
    """The route of a document that just arrived: the organisation's ``incoming`` template, or the default."""
    template = session.scalar(
        select(RouteTemplate)
        .where(
            RouteTemplate.organisation_id == document.organisation_id, RouteTemplate.name == INCOMING_TEMPLATE,
            RouteTemplate.retired.is_(False),
        )
        .order_by(RouteTemplate.version.desc())
        .limit(1)
    )
    definition = RouteDefinition.model_validate(template.definition) if template else DEFAULT_INCOMING
    return _start(
        session, actor=Actor.system(document.organisation_id, "exchange"), document=document, definition=definition,
        template=template, today=today,
    )


def _open_stage(session: Session, *, route: Route, stage: StageSpec, index: int, today: date | None) -> list[Step]:
    opened_on = today or calendar.today()
    working = calendar.load(session, organisation_id=route.organisation_id)
    opened = []
    for position, spec in enumerate(stage.steps):
        opened.append(
            _new_step(session, route=route, stage=index, position=position, spec=spec, assignee=spec.assignee,
                      opened_on=opened_on, due_on=working.add_working_days(opened_on, spec.days))
        )
    return opened


def _new_step(
    session: Session, *, route: Route, stage: int, position: int, spec: StepSpec, assignee: Assignee,
    opened_on: date, due_on: date, previous: Step | None = None,
) -> Step:
    step = Step(
        id=new_id(), route_id=route.id, document_id=route.document_id, organisation_id=route.organisation_id,
        stage=stage, position=position, kind=spec.kind.value, assignee_official_id=assignee.official_id,
        assignee_department_id=assignee.department_id, assignee_role=assignee.role.value if assignee.role else None,
        requires_signature=spec.signs, state=StepState.OPEN.value, opened_at=now(), opened_on=opened_on, due_on=due_on,
        previous_step_id=previous.id if previous else None,
    )
    session.add(step)
    session.add_all(
        StepAlert(step_id=step.id, kind=kind.value, organisation_id=step.organisation_id, due_on=due_on) for kind in AlertKind
    )
    session.flush()
    outbox.emit(
        session, organisation_id=route.organisation_id, type="step.assigned", subject=f"step:{step.id}",
        payload={"step_id": step.id, "document_id": route.document_id, "kind": step.kind, "due_on": due_on.isoformat(),
                 "official_id": step.assignee_official_id, "department_id": step.assignee_department_id,
                 "role": step.assignee_role},
    )
    return step


# --- acting -----------------------------------------------------------------------------------------


def _step_for_update(session: Session, *, actor: Actor, step_id: str) -> Step:
    return get_scoped(session, Step, scope=actor, id=step_id, what="step")


def authorise(session: Session, *, actor: Actor, step_id: str) -> None:
    """Whether the actor may act on this step, whatever its state: checked before an action is replayed, so
    that only someone the step is assigned to gets the answer of an earlier action on it."""
    may_act(session, actor=actor, step=get_scoped(session, Step, scope=actor, id=step_id, what="step"))


def may_act(session: Session, *, actor: Actor, step: Step) -> None:
    if actor.official_id is None:
        raise Forbidden("steps are acted on by officials")
    official = identities.get_official(session, organisation_id=actor.organisation_id, official_id=actor.official_id)
    if step.assignee_official_id is not None:
        assigned = step.assignee_official_id == official.id
    elif step.assignee_department_id is not None:
        assigned = step.assignee_department_id == official.department_id
    else:
        assigned = step.assignee_role is not None and Role(step.assignee_role) in actor.roles
    if not assigned:
        raise Forbidden("this step is assigned to someone else")
    required = REQUIRED_ROLE.get(StepKind(step.kind))
    if required is not None and required not in actor.roles:
        raise Forbidden(f"a {step.kind.replace('_', '-')} step needs the {required.value} role")


def act(session: Session, *, actor: Actor, services: Services, step_id: str, action: Action, today: date | None = None) -> Step:
    """Act on an open step of the actor's; returns the step as it now stands."""
    found = _step_for_update(session, actor=actor, step_id=step_id)
    document = revisions.get_document(session, actor=actor, document_id=found.document_id, for_update=True)
    step = session.get(Step, found.id, with_for_update=True, populate_existing=True)
    assert step is not None
    if step.state != StepState.OPEN.value:
        raise StateConflict(f"step {step.id} is {step.state}, not open")
    may_act(session, actor=actor, step=step)
    route = session.get(Route, step.route_id, with_for_update=True, populate_existing=True)
    assert route is not None
    definition = RouteDefinition.model_validate(route.definition)
    day = today or calendar.today()

    if action.outcome in (Outcome.APPROVE, Outcome.COMMENT):
        revision_seq = _perform(session, actor=actor, services=services, step=step, document=document, action=action)
        _finish(step, actor=actor, action=action, state=StepState.DONE, day=day, revision_seq=revision_seq,
                department=_department_of(session, actor))
        _audit(session, actor, step, action)
        _after_done(session, route=route, definition=definition, step=step, document=document, action=action, today=day)
    elif action.outcome is Outcome.RETURN:
        _return(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    elif action.outcome is Outcome.DELEGATE:
        _delegate(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    else:
        _reroute(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    session.flush()
    return step


def _department_of(session: Session, actor: Actor) -> str | None:
    if actor.official_id is None:
        return None
    return identities.get_official(session, organisation_id=actor.organisation_id, official_id=actor.official_id).department_id


def _finish(step: Step, *, actor: Actor, action: Action, state: StepState, day: date, revision_seq: int | None, department: str | None) -> None:
    step.state = state.value
    step.outcome = action.outcome.value
    step.opinion = action.opinion
    step.completed_at = now()
    step.completed_on = day
    step.completed_by = actor.label
    step.revision_seq = revision_seq
    step.handled_by_department_id = department or step.assignee_department_id


def _audit(session: Session, actor: Actor, step: Step, action: Action, **extra: object) -> None:
    audit.append(
        session, actor=actor, action=f"step.{action.outcome.value}", subject=f"step:{step.id}",
        chain=step.organisation_id,
        payload={"document": step.document_id, "kind": step.kind, "stage": step.stage, "opinion": action.opinion, **extra},
    )


def _perform(session: Session, *, actor: Actor, services: Services, step: Step, document: Document, action: Action) -> int | None:
    """The step's own act; the revision it made, if any. It runs before anything else changes."""
    kind = StepKind(step.kind)
    if action.outcome is Outcome.COMMENT:
        return None
    if step.requires_signature or kind is StepKind.SEAL:
        if action.credential_id is None or (action.pin is None and action.session_secret is None):
            raise InvalidInput("this step is approved with a signature: give credential_id and pin (or session)")
        revision = signing.sign_document(
            session, actor=actor, blobs=services.blobs, pki=services.pki, settings=services.settings,
            document_id=document.id, credential_id=action.credential_id, pin=action.pin,
            session_secret=action.session_secret, level=action.level, reason=action.opinion,
        )
        if kind is StepKind.SEAL and revision.reason != "sealed":
            raise InvalidInput("the seal step needs the organisation's seal credential")
        event = "document.sealed" if kind is StepKind.SEAL else "document.signed"
        move_document(document, DocumentState.SEALED if kind is StepKind.SEAL else DocumentState.SIGNED)
        outbox.emit(session, organisation_id=document.organisation_id, type=event, subject=f"document:{document.id}",
                    payload={"document_id": document.id, "revision": revision.seq, "step_id": step.id})
        return revision.seq
    if kind is StepKind.REGISTRATION:
        return _register(session, actor=actor, services=services, document=document, action=action)
    if kind is StepKind.DISPATCH:
        arrived = exchange.dispatch(
            session, actor=actor, blobs=services.blobs, trust=services.trust, document=document, recipients=action.recipients
        )
        for incoming in arrived:
            start_incoming(session, document=incoming)
        return None
    if kind is StepKind.RECEIPT:
        exchange.acknowledge(session, actor=actor, document=document)
        move_document(document, DocumentState.RECEIVED)
    elif kind is StepKind.CLOSURE:
        move_document(document, DocumentState.CLOSED)
    return None


def _register(session: Session, *, actor: Actor, services: Services, document: Document, action: Action) -> int | None:
    if document.direction == Direction.INCOMING.value:
        if document.flagged:
            if not action.override_reason:
                raise StateConflict(
                    "the document's signatures or seal did not verify on arrival; register it only with an explicit "
                    "override_reason"
                )
            document.flag_override = f"{actor.label}: {action.override_reason}"[:500]
            audit.append(
                session, actor=actor, action="document.flag_overridden", subject=f"document:{document.id}",
                chain=document.organisation_id, payload={"reason": action.override_reason},
            )
        move_document(document, DocumentState.REGISTERED)
        return None
    numbering.register(
        session, actor=actor, blobs=services.blobs, pki=services.pki, settings=services.settings, document_id=document.id
    )
    return document.revision_count


def _stage_steps(session: Session, route: Route, stage: int) -> list[Step]:
    return list(session.scalars(select(Step).where(Step.route_id == route.id, Step.stage == stage)))


def _after_done(session: Session, *, route: Route, definition: RouteDefinition, step: Step, document: Document, action: Action, today: date) -> None:
    stage = definition.stages[step.stage]
    current = _stage_steps(session, route, step.stage)
    if stage.quorum == "any":
        for other in current:
            if other.state == StepState.OPEN.value:
                other.state = StepState.SKIPPED.value
    elif any(s.state == StepState.OPEN.value for s in current):
        return
    _advance(session, route=route, definition=definition, document=document, action=action, today=today)


def _advance(session: Session, *, route: Route, definition: RouteDefinition, document: Document, action: Action, today: date) -> None:
    route.stage += 1
    if route.stage >= len(definition.stages):
        move_route(route, RouteState.COMPLETED)
        route.completed_at = now()
        if document.direction == Direction.INCOMING.value:
            move_document(document, DocumentState.ARCHIVED)
        audit.append(session, actor=Actor.system(document.organisation_id, "flow"), action="route.completed",
                     subject=f"document:{document.id}",
                     chain=document.organisation_id, payload={"route": route.id})
        outbox.emit(session, organisation_id=document.organisation_id, type="route.completed", subject=f"document:{document.id}",
                    payload={"document_id": document.id, "route_id": route.id, "state": document.state})
        return
    stage = definition.stages[route.stage]
    if action.handlers:
        for assignee in action.handlers:
            _check_assignee(session, route.organisation_id, assignee)
        template_step = stage.steps[0]
        stage = stage.model_copy(update={"steps": [template_step.model_copy(update={"assignee": a}) for a in action.handlers]})
    _open_stage(session, route=route, stage=stage, index=route.stage, today=today)


def _return(session: Session, *, actor: Actor, route: Route, definition: RouteDefinition, step: Step, action: Action, today: date) -> None:
    target = action.return_to_stage if action.return_to_stage is not None else step.stage - 1
    if not 0 <= target < step.stage:
        raise InvalidInput(f"a step in stage {step.stage} can return to an earlier stage (0 to {step.stage - 1})")
    for other in _stage_steps(session, route, step.stage):
        if other.state == StepState.OPEN.value and other.id != step.id:
            other.state = StepState.CANCELLED.value
    _finish(step, actor=actor, action=action, state=StepState.RETURNED, day=today, revision_seq=None,
            department=_department_of(session, actor))
    _audit(session, actor, step, action, to_stage=target)
    route.stage = target
    _open_stage(session, route=route, stage=definition.stages[target], index=target, today=today)


def _delegate(session: Session, *, actor: Actor, route: Route, definition: RouteDefinition, step: Step, action: Action, today: date) -> None:
    if action.delegate_to is None:
        raise InvalidInput("delegate needs delegate_to: an official of the organisation")
    delegate = identities.get_official(session, organisation_id=route.organisation_id, official_id=action.delegate_to)
    if delegate.disabled or delegate.id == actor.official_id:
        raise InvalidInput("delegate to another, active official")
    required = REQUIRED_ROLE.get(StepKind(step.kind))
    if required is not None and required not in delegate.role_set:
        raise InvalidInput(f"{delegate.name} lacks the {required.value} role this step needs")
    _finish(step, actor=actor, action=action, state=StepState.DELEGATED, day=today, revision_seq=None,
            department=_department_of(session, actor))
    _audit(session, actor, step, action, to=delegate.id)
    spec = definition.stages[step.stage].steps[step.position]
    _new_step(session, route=route, stage=step.stage, position=step.position, spec=spec,
              assignee=Assignee(official_id=delegate.id), opened_on=step.opened_on, due_on=step.due_on, previous=step)


def _reroute(session: Session, *, actor: Actor, route: Route, definition: RouteDefinition, step: Step, action: Action, today: date) -> None:
    """回流: the document reached the wrong department; it goes to the right one at once, with the full
    deadline from today."""
    if action.reroute_to is None:
        raise InvalidInput("reroute needs reroute_to: a department of the organisation")
    department = identities.get_department(session, organisation_id=route.organisation_id, department_id=action.reroute_to)
    if department.disabled or department.id == step.assignee_department_id:
        raise InvalidInput("reroute to another, active department")
    _finish(step, actor=actor, action=action, state=StepState.REROUTED, day=today, revision_seq=None,
            department=_department_of(session, actor))
    _audit(session, actor, step, action, to=department.id)
    spec = definition.stages[step.stage].steps[step.position]
    working = calendar.load(session, organisation_id=route.organisation_id)
    _new_step(session, route=route, stage=step.stage, position=step.position, spec=spec,
              assignee=Assignee(department_id=department.id), opened_on=today,
              due_on=working.add_working_days(today, spec.days), previous=step)
