"""Starting a route on a document, and opening a stage's steps with their deadlines and alerts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.errors import InvalidInput
from esign.identity import Actor, Role
from esign.ids import new_id, now
from esign.scoped import get_scoped
from keys import identities

from .. import revisions
from ..errors import StateConflict
from ..records import Direction, Document
from ..states import DocumentState, RouteState, move_document
from . import calendar
from .model import (
    AlertKind,
    Assignee,
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
        StageSpec(
            name="传阅", steps=[StepSpec(kind=StepKind.READING, assignee=Assignee(role=Role.LEADER))], quorum="any"
        ),
        StageSpec(name="办结", steps=[StepSpec(kind=StepKind.CLOSURE, assignee=Assignee(role=Role.CLERK))]),
    ]
)
"""收文: receipt, registration, proposed handling, the leader's instruction (which names the handling
departments), handling, reading, closure. An organisation's own template named ``incoming`` replaces it."""

INCOMING_TEMPLATE = "incoming"


def _definition(
    session: Session, *, actor: Actor, template_id: str | None, definition: RouteDefinition | None
) -> tuple[RouteDefinition, RouteTemplate | None]:
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
        check_assignee(session, organisation_id, spec.assignee)


def check_assignee(session: Session, organisation_id: str, assignee: Assignee) -> None:
    if assignee.official_id is not None:
        official = identities.get_official(session, organisation_id=organisation_id, official_id=assignee.official_id)
        if official.disabled:
            raise InvalidInput(f"official {official.name} is disabled")
    if assignee.department_id is not None:
        department = identities.get_department(
            session, organisation_id=organisation_id, department_id=assignee.department_id
        )
        if department.disabled:
            raise InvalidInput(f"department {department.name} is disabled")


FINAL_STATES = frozenset(
    {DocumentState.DISPATCHED, DocumentState.CLOSED, DocumentState.ARCHIVED, DocumentState.FORWARDED}
)
"""A document in one of these has finished circulating; a new route would reopen a closed file."""


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
    if document.state in FINAL_STATES:
        raise StateConflict(
            f"document {document.id} is {document.state}: its circulation is over, it takes no new route"
        )
    if session.scalar(select(Route.id).where(Route.document_id == document.id, Route.state == RouteState.ACTIVE.value)):
        raise StateConflict(f"document {document.id} is on a route already")
    chosen, template = _definition(session, actor=actor, template_id=template_id, definition=definition)
    for stage in chosen.stages:
        check_assignees(session, document.organisation_id, stage)
    return _start(session, actor=actor, document=document, definition=chosen, template=template, today=today)


def _start(
    session: Session,
    *,
    actor: Actor,
    document: Document,
    definition: RouteDefinition,
    template: RouteTemplate | None,
    today: date | None,
) -> Route:
    route = Route(
        id=new_id(),
        document_id=document.id,
        organisation_id=document.organisation_id,
        template_id=template.id if template else None,
        template_version=template.version if template else None,
        definition=definition.model_dump(mode="json"),
        state=RouteState.ACTIVE.value,
        stage=0,
    )
    session.add(route)
    session.flush()
    if document.state in (DocumentState.DRAFT, DocumentState.ARRIVED):
        outgoing = document.direction == Direction.OUTGOING.value
        move_document(document, DocumentState.IN_CIRCULATION if outgoing else DocumentState.ARRIVED)
    audit.append(
        session,
        actor=actor,
        action="route.started",
        subject=f"document:{document.id}",
        chain=document.organisation_id,
        payload={"route": route.id, "template": template.id if template else None, "stages": len(definition.stages)},
    )
    open_stage(session, route=route, stage=definition.stages[0], index=0, today=today)
    return route


def start_incoming(session: Session, *, document: Document, today: date | None = None) -> Route:
    """The route of a document that just arrived: the organisation's ``incoming`` template, or the default."""
    template = session.scalar(
        select(RouteTemplate)
        .where(
            RouteTemplate.organisation_id == document.organisation_id,
            RouteTemplate.name == INCOMING_TEMPLATE,
            RouteTemplate.retired.is_(False),
        )
        .order_by(RouteTemplate.version.desc())
        .limit(1)
    )
    definition = RouteDefinition.model_validate(template.definition) if template else DEFAULT_INCOMING
    return _start(
        session,
        actor=Actor.system(document.organisation_id, "exchange"),
        document=document,
        definition=definition,
        template=template,
        today=today,
    )


def open_stage(
    session: Session, *, route: Route, stage: StageSpec, index: int, today: date | None, returned: bool = False
) -> list[Step]:
    """The steps of ``stage``; ``returned``: the route came back to it (a step was returned), which their
    assignees are told."""
    opened_on = today or calendar.today()
    working = calendar.load(session, organisation_id=route.organisation_id)
    opened = []
    for position, spec in enumerate(stage.steps):
        opened.append(
            new_step(
                session,
                route=route,
                stage=index,
                position=position,
                spec=spec,
                assignee=spec.assignee,
                opened_on=opened_on,
                due_on=working.add_working_days(opened_on, spec.days),
                returned=returned,
            )
        )
    return opened


def new_step(
    session: Session,
    *,
    route: Route,
    stage: int,
    position: int,
    spec: StepSpec,
    assignee: Assignee,
    opened_on: date,
    due_on: date,
    previous: Step | None = None,
    returned: bool = False,
) -> Step:
    step = Step(
        id=new_id(),
        route_id=route.id,
        document_id=route.document_id,
        organisation_id=route.organisation_id,
        stage=stage,
        position=position,
        kind=spec.kind.value,
        assignee_official_id=assignee.official_id,
        assignee_department_id=assignee.department_id,
        assignee_role=assignee.role.value if assignee.role else None,
        requires_signature=spec.signs,
        state=StepState.OPEN.value,
        opened_at=now(),
        opened_on=opened_on,
        due_on=due_on,
        previous_step_id=previous.id if previous else None,
    )
    session.add(step)
    session.add_all(
        StepAlert(step_id=step.id, kind=kind.value, organisation_id=step.organisation_id, due_on=due_on)
        for kind in AlertKind
    )
    session.flush()
    outbox.emit(
        session,
        organisation_id=route.organisation_id,
        type="step.assigned",
        subject=f"step:{step.id}",
        payload={
            "step_id": step.id,
            "document_id": route.document_id,
            "kind": step.kind,
            "due_on": due_on.isoformat(),
            "official_id": step.assignee_official_id,
            "department_id": step.assignee_department_id,
            "role": step.assignee_role,
            **({"returned": True} if returned else {}),
        },
    )
    return step


def stage_steps(session: Session, route: Route, stage: int) -> list[Step]:
    return list(session.scalars(select(Step).where(Step.route_id == route.id, Step.stage == stage)))
