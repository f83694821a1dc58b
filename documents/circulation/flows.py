"""Orchestration of a document's route: acting on its steps, moving it stage by stage.

Acting on a step takes two transactions around its slow part (``esign.phases``): :func:`prepare` checks
the step and the actor and unlocks the key, and a wrong PIN, the only failure whose trace is kept (the
credential's count of wrong PINs), ends the action there, leaving the document, its revisions, the step and
the audit log as they were. :func:`record` then makes the transition in one transaction with its audit
event, the revision it makes (a signature, a number, a seal) and its outbox events; a transition that fails
changes nothing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from esign.ids import now
from esign.phases import Stale
from esign.scoped import get_scoped
from keys import identities
from keys.signing import Unlock

from .. import numbering, revisions, signing
from ..errors import StateConflict
from ..numbering import Stamping
from ..records import Direction, Document
from ..signing import DocumentSigning
from ..states import DocumentState, RouteState, move_document, move_route
from . import calendar, exchange, progress, requests
from .actions import Action, Services, finish
from .exchange import Examination
from .handover import delegate, reroute, return_
from .model import (
    REQUIRED_ROLE,
    Dispatch,
    Outcome,
    Route,
    RouteDefinition,
    Step,
    StepKind,
    StepState,
)
from .starting import check_assignee, open_stage, stage_steps, start_incoming


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


class Acting:
    """An action on a step, checked in a first transaction; its slow part (the signature, the number stamp,
    the verification before a dispatch) runs outside any transaction, and :func:`record` then makes every
    change of the action in a second one (``esign.phases``)."""

    def __init__(
        self,
        *,
        step_id: str,
        base_seq: int,
        action: Action,
        services: Services,
        today: date,
        slow: DocumentSigning | Stamping | Examination | None,
    ) -> None:
        self.step_id = step_id
        self.base_seq = base_seq
        self.action = action
        self.services = services
        self.today = today
        self.slow = slow

    def run(self) -> None:
        if self.slow is not None:
            self.slow.run()

    def close(self) -> None:
        if self.slow is not None:
            self.slow.close()


def _locked(session: Session, *, actor: Actor, step_id: str) -> tuple[Step, Document, Route]:
    found = get_scoped(session, Step, scope=actor, id=step_id, what="step")
    document = revisions.get_document(session, actor=actor, document_id=found.document_id, for_update=True)
    step = session.get(Step, found.id, with_for_update=True, populate_existing=True)
    assert step is not None
    if step.state != StepState.OPEN.value:
        raise StateConflict(f"step {step.id} is {step.state}, not open")
    may_act(session, actor=actor, step=step)
    route = session.get(Route, step.route_id, with_for_update=True, populate_existing=True)
    assert route is not None
    return step, document, route


def prepare(
    session: Session, *, actor: Actor, services: Services, step_id: str, action: Action, today: date | None = None
) -> Acting:
    """Check that the actor may act on this open step, and prepare the step's own act."""
    step, document, _ = _locked(session, actor=actor, step_id=step_id)
    return Acting(
        step_id=step.id,
        base_seq=document.revision_count,
        action=action,
        services=services,
        today=today or calendar.today(),
        slow=_slow_part(session, actor=actor, services=services, step=step, document=document, action=action),
    )


def _slow_part(
    session: Session, *, actor: Actor, services: Services, step: Step, document: Document, action: Action
) -> DocumentSigning | Stamping | Examination | None:
    if action.outcome is not Outcome.APPROVE:
        return None
    kind = StepKind(step.kind)
    if step.requires_signature or kind is StepKind.SEAL:
        if action.credential_id is None or (action.pin is None and action.session_secret is None):
            raise InvalidInput("this step is approved with a signature: give credential_id and pin (or session)")
        signature = signing.prepare(
            session,
            actor=actor,
            pki=services.pki,
            blobs=services.blobs,
            settings=services.settings,
            document_id=document.id,
            unlock=Unlock(credential_id=action.credential_id, pin=action.pin, session_secret=action.session_secret),
            level=action.level,
            reason=action.opinion,
        )
        if kind is StepKind.SEAL and not signature.sealing:
            signature.close()
            raise InvalidInput("the seal step needs the organisation's seal credential")
        return signature
    if kind is StepKind.REGISTRATION and document.direction != Direction.INCOMING.value:
        return numbering.prepare(
            session,
            actor=actor,
            blobs=services.blobs,
            pki=services.pki,
            settings=services.settings,
            document_id=document.id,
        )
    if kind is StepKind.DISPATCH:
        return exchange.examine(session, blobs=services.blobs, trust=services.trust, document=document)
    return None


def record(session: Session, *, actor: Actor, acting: Acting) -> Step:
    """Make the action's changes, unless the step or its document changed since it was prepared (``Stale``);
    returns the step as it now stands."""
    step, document, route = _locked(session, actor=actor, step_id=acting.step_id)
    if document.revision_count != acting.base_seq:
        raise Stale(f"document {document.id} changed while the step was being acted on")
    action, day = acting.action, acting.today
    definition = RouteDefinition.model_validate(route.definition)

    if action.outcome in (Outcome.APPROVE, Outcome.COMMENT):
        revision_seq = _perform(session, actor=actor, acting=acting, step=step, document=document)
        finish(
            session,
            step,
            actor=actor,
            action=action,
            state=StepState.DONE,
            day=day,
            revision_seq=revision_seq,
        )
        progress.report(session, step=step, document=document)
        _after_done(session, route=route, definition=definition, step=step, document=document, action=action, today=day)
    elif action.outcome is Outcome.RETURN:
        return_(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    elif action.outcome is Outcome.DELEGATE:
        delegate(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    else:
        reroute(session, actor=actor, route=route, definition=definition, step=step, action=action, today=day)
    session.flush()
    return step


def _perform(session: Session, *, actor: Actor, acting: Acting, step: Step, document: Document) -> int | None:
    """The step's own act; the revision it made, if any. It comes before anything else changes."""
    kind, slow, services = StepKind(step.kind), acting.slow, acting.services
    if acting.action.outcome is Outcome.COMMENT:
        return None
    if isinstance(slow, DocumentSigning):
        revision = signing.record(session, actor=actor, blobs=services.blobs, signature=slow)
        event = "document.sealed" if kind is StepKind.SEAL else "document.signed"
        move_document(document, DocumentState.SEALED if kind is StepKind.SEAL else DocumentState.SIGNED)
        outbox.emit(
            session,
            organisation_id=document.organisation_id,
            type=event,
            subject=f"document:{document.id}",
            payload={"document_id": document.id, "revision": revision.seq, "step_id": step.id},
        )
        return revision.seq
    if kind is StepKind.REGISTRATION:
        if isinstance(slow, Stamping):
            numbering.record(session, actor=actor, blobs=services.blobs, stamping=slow)
            return document.revision_count
        _register_incoming(session, actor=actor, document=document, action=acting.action)
        return None
    if isinstance(slow, Examination):
        action = acting.action
        answering = (
            requests.answered(session, actor=actor, in_reply_to=action.in_reply_to, recipients=list(action.recipients))
            if action.in_reply_to
            else None
        )
        arrived = exchange.dispatch(
            session,
            actor=actor,
            blobs=services.blobs,
            examined=slow,
            document=document,
            recipients=action.recipients,
            request=action.request,
            answering=answering,
        )
        for incoming in arrived:
            start_incoming(session, document=incoming)
        if answering is not None:
            _count_reply(session, request=answering, today=acting.today)
        return None
    if kind is StepKind.RECEIPT:
        exchange.acknowledge(session, actor=actor, document=document)
        move_document(document, DocumentState.RECEIVED)
    elif kind is StepKind.CLOSURE:
        move_document(document, DocumentState.CLOSED)
    return None


def _register_incoming(session: Session, *, actor: Actor, document: Document, action: Action) -> None:
    if document.flagged:
        if not action.override_reason:
            raise StateConflict(
                "the document's signatures or seal did not verify on arrival; register it only with an explicit "
                "override_reason"
            )
        document.flag_override = f"{actor.label}: {action.override_reason}"[:500]
        audit.append(
            session,
            actor=actor,
            action="document.flag_overridden",
            subject=f"document:{document.id}",
            chain=document.organisation_id,
            payload={"reason": action.override_reason},
        )
    move_document(document, DocumentState.REGISTERED)


def _count_reply(session: Session, *, request: Dispatch, today: date) -> None:
    """A reply reached the sender: its waiting ``replies`` step completes once it has enough of them."""
    step = requests.waiting_step(session, document_id=request.document_id)
    if step is None:
        return
    route = session.get_one(Route, step.route_id)
    definition = RouteDefinition.model_validate(route.definition)
    spec = definition.stages[step.stage].steps[step.position]
    if not requests.enough(session, document_id=request.document_id, needed=spec.replies_needed):
        return
    system = Actor.system(step.organisation_id, "replies")
    action = Action(outcome=Outcome.APPROVE)
    document = session.get_one(Document, step.document_id)
    finish(session, step, actor=system, action=action, state=StepState.DONE, day=today)
    _after_done(session, route=route, definition=definition, step=step, document=document, action=action, today=today)


def _after_done(
    session: Session,
    *,
    route: Route,
    definition: RouteDefinition,
    step: Step,
    document: Document,
    action: Action,
    today: date,
) -> None:
    stage = definition.stages[step.stage]
    current = stage_steps(session, route, step.stage)
    if stage.quorum == "any":
        for other in current:
            if other.state == StepState.OPEN.value:
                other.state = StepState.SKIPPED.value
    elif any(s.state == StepState.OPEN.value for s in current):
        return
    _advance(session, route=route, definition=definition, document=document, action=action, today=today)


def _advance(
    session: Session, *, route: Route, definition: RouteDefinition, document: Document, action: Action, today: date
) -> None:
    route.stage += 1
    if route.stage >= len(definition.stages):
        move_route(route, RouteState.COMPLETED)
        route.completed_at = now()
        if document.direction == Direction.INCOMING.value:
            move_document(document, DocumentState.ARCHIVED)
        audit.append(
            session,
            actor=Actor.system(document.organisation_id, "flow"),
            action="route.completed",
            subject=f"document:{document.id}",
            chain=document.organisation_id,
            payload={"route": route.id},
        )
        outbox.emit(
            session,
            organisation_id=document.organisation_id,
            type="route.completed",
            subject=f"document:{document.id}",
            payload={"document_id": document.id, "route_id": route.id, "state": document.state},
        )
        return
    stage = definition.stages[route.stage]
    if action.handlers:
        for assignee in action.handlers:
            check_assignee(session, route.organisation_id, assignee)
        template_step = stage.steps[0]
        stage = stage.model_copy(
            update={"steps": [template_step.model_copy(update={"assignee": a}) for a in action.handlers]}
        )
    open_stage(session, route=route, stage=stage, index=route.stage, today=today)
