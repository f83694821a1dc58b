"""Circulation: the inbox, acting on steps, routes and their templates, timelines, calendar, statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.deps import ActorOf, AdminOf, DatabaseDep, PolicyDep, SettingsDep, get_blobs
from api.idempotent import IdempotencyKey, once
from api.schemas import (
    DelegateIn,
    InboxOut,
    OverrideIn,
    OverrideOut,
    RerouteIn,
    ReturnIn,
    RouteOut,
    RouteStartIn,
    SenderOut,
    StepActionIn,
    StepDocumentOut,
    StepOut,
    TemplateIn,
    TemplateOut,
    TimelineEntryOut,
    WorkingDayOut,
)
from documents import revisions
from documents.circulation import (
    actions,
    calendar,
    flows,
    inbox,
    requests,
    starting,
    templates,
    timeline,
    views,
)
from documents.circulation.model import Assignee, Outcome, RouteDefinition, Step
from documents.records import Direction
from esign import phases
from esign.errors import InvalidInput
from esign.settings import Settings
from esign.sign import PadesLevel
from keys import authorities
from keys.policy import Policy

router = APIRouter(prefix="/v1", tags=["circulation"])


def _definition(raw: dict[str, object]) -> RouteDefinition:
    try:
        return RouteDefinition.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"definition: {problems}") from None


def _handlers(body: StepActionIn) -> tuple[Assignee, ...]:
    """The next stage's assignees; ``AssigneeIn`` has checked each already, so this only re-reads them
    as the service's model, and a disagreement between the two is still a 422, never a 500."""
    try:
        return tuple(Assignee.model_validate(h.model_dump()) for h in body.handlers)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"handlers: {problems}") from None


def _services(request: Request, session: Session, settings: Settings, policy: Policy) -> actions.Services:
    return actions.Services(
        blobs=get_blobs(request),
        pki=authorities.load(session, settings),
        settings=settings,
        trust=policy.trust(session),
    )


def step_out(view: views.StepView) -> StepOut:
    document = view.document
    return StepOut.model_validate(
        {
            **{c: getattr(view.step, c) for c in StepOut.model_fields if hasattr(view.step, c)},
            "document": StepDocumentOut(
                id=document.id,
                title=document.title,
                number=document.number,
                kind=document.kind,
                direction=document.direction,
                urgency=document.urgency,
                secrecy=document.secrecy,
                sender=SenderOut.model_validate(view.sender) if view.sender else None,
            ),
            "stage_name": view.stage_name,
            "assignee_official_name": view.assignee_official_name,
            "assignee_department_name": view.assignee_department_name,
        }
    )


def step_answer(session: Session, step: Step) -> StepOut:
    [view] = views.describe(session, [step])
    return step_out(view)


@router.get("/inbox", response_model=InboxOut, summary="The caller's open steps, by due date")
def my_inbox(
    actor: ActorOf, database: DatabaseDep, limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None
) -> InboxOut:
    with database.transaction() as session:
        page = inbox.inbox(session, actor=actor, limit=limit, cursor=cursor)
        return InboxOut(steps=[step_out(v) for v in views.describe(session, page.steps)], next_cursor=page.next_cursor)


@dataclass
class _Acting:
    """What acting on a step takes from the request: who acts, and the services a step's act may need."""

    request: Request
    actor: ActorOf
    database: DatabaseDep
    settings: SettingsDep
    policy: PolicyDep

    def act(self, step_id: str, action: actions.Action, *, key: str | None, body: BaseModel) -> Response:
        actor = self.actor

        def prepare(session: Session) -> flows.Acting:
            services = _services(self.request, session, self.settings, self.policy)
            return flows.prepare(session, actor=actor, services=services, step_id=step_id, action=action)

        def record(session: Session, acting: flows.Acting) -> StepOut:
            return step_answer(session, flows.record(session, actor=actor, acting=acting))

        return once(
            self.database,
            actor=actor,
            key=key,
            operation=f"step.{action.outcome.value}:{step_id}",
            request=body,
            authorise=lambda session: flows.authorise(session, actor=actor, step_id=step_id),
            model=StepOut,
            create=phases.Phases(prepare, record),
            status=200,
        )


ActingDep = Annotated[_Acting, Depends()]


@router.post(
    "/steps/{step_id}/approve",
    response_model=StepOut,
    summary="Approve: complete the step (signing, numbering, sealing or dispatching as its kind needs)",
)
def approve(
    step_id: str,
    body: StepActionIn,
    acting: ActingDep,
    key: IdempotencyKey = None,
) -> Response:
    action = actions.Action(
        outcome=Outcome.APPROVE,
        opinion=body.opinion,
        credential_id=body.credential_id,
        pin=body.pin,
        session_secret=body.session,
        level=PadesLevel(body.level) if body.level else None,
        recipients=tuple(body.recipients),
        request=requests.ReplyRequest(body.reply_kind, body.reply_days) if body.reply_kind else None,
        in_reply_to=body.in_reply_to,
        handlers=_handlers(body),
        override_reason=body.override_reason,
    )
    return acting.act(step_id, action, key=key, body=body)


@router.post(
    "/steps/{step_id}/complete",
    response_model=StepOut,
    summary="Complete the step with comments only (to comment and leave it open: POST …/comments)",
)
def complete(
    step_id: str,
    body: StepActionIn,
    acting: ActingDep,
    key: IdempotencyKey = None,
) -> Response:
    action = actions.Action(outcome=Outcome.COMMENT, opinion=body.opinion)
    return acting.act(step_id, action, key=key, body=body)


@router.post("/steps/{step_id}/return", response_model=StepOut, summary="Return the document to an earlier stage")
def return_(
    step_id: str,
    body: ReturnIn,
    acting: ActingDep,
    key: IdempotencyKey = None,
) -> Response:
    action = actions.Action(outcome=Outcome.RETURN, opinion=body.opinion, return_to_stage=body.to_stage)
    return acting.act(step_id, action, key=key, body=body)


@router.post("/steps/{step_id}/delegate", response_model=StepOut, summary="Hand the step to another official")
def delegate(
    step_id: str,
    body: DelegateIn,
    acting: ActingDep,
    key: IdempotencyKey = None,
) -> Response:
    action = actions.Action(outcome=Outcome.DELEGATE, opinion=body.opinion, delegate_to=body.official_id)
    return acting.act(step_id, action, key=key, body=body)


@router.post(
    "/steps/{step_id}/reroute", response_model=StepOut, summary="Send a misdirected step to the right department (回流)"
)
def reroute(
    step_id: str,
    body: RerouteIn,
    acting: ActingDep,
    key: IdempotencyKey = None,
) -> Response:
    action = actions.Action(outcome=Outcome.REROUTE, opinion=body.opinion, reroute_to=body.department_id)
    return acting.act(step_id, action, key=key, body=body)


@router.post(
    "/documents/{document_id}/route", response_model=RouteOut, status_code=201, summary="Start the document's route"
)
def start_route(
    document_id: str, body: RouteStartIn, actor: ActorOf, database: DatabaseDep, key: IdempotencyKey = None
) -> Response:
    definition = _definition(body.definition) if body.definition is not None else None
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"route.start:{document_id}",
        request=body,
        model=RouteOut,
        authorise=lambda session: revisions.get_document(session, actor=actor, document_id=document_id),
        create=lambda session: RouteOut.model_validate(
            starting.start(
                session, actor=actor, document_id=document_id, template_id=body.template_id, definition=definition
            )
        ),
    )


@router.get("/documents/{document_id}/timeline", response_model=list[TimelineEntryOut])
def document_timeline(document_id: str, actor: ActorOf, database: DatabaseDep) -> list[TimelineEntryOut]:
    with database.transaction() as session:
        return [TimelineEntryOut(**asdict(e)) for e in timeline.timeline(session, actor=actor, document_id=document_id)]


@router.get("/route-templates", response_model=list[TemplateOut])
def list_templates(actor: ActorOf, database: DatabaseDep, include_retired: bool = False) -> list[TemplateOut]:
    with database.transaction() as session:
        return [
            TemplateOut.model_validate(t)
            for t in templates.listing(session, actor=actor, include_retired=include_retired)
        ]


@router.post(
    "/route-templates",
    response_model=TemplateOut,
    status_code=201,
    summary="Save a template (a new version if the name exists)",
)
def save_template(body: TemplateIn, actor: AdminOf, database: DatabaseDep, key: IdempotencyKey = None) -> Response:
    definition = _definition(body.definition)
    return once(
        database,
        actor=actor,
        key=key,
        operation="route_template.save",
        request=body,
        model=TemplateOut,
        authorise=None,
        create=lambda session: TemplateOut.model_validate(
            templates.save(
                session, actor=actor, name=body.name, direction=Direction(body.direction), definition=definition
            )
        ),
    )


@router.get("/route-templates/{template_id}", response_model=TemplateOut)
def get_template(template_id: str, actor: ActorOf, database: DatabaseDep) -> TemplateOut:
    with database.transaction() as session:
        return TemplateOut.model_validate(templates.get(session, actor=actor, template_id=template_id))


@router.post("/route-templates/{template_id}/retire", response_model=TemplateOut)
def retire_template(template_id: str, actor: AdminOf, database: DatabaseDep) -> TemplateOut:
    with database.transaction() as session:
        return TemplateOut.model_validate(templates.retire(session, actor=actor, template_id=template_id))


@router.get("/calendar/overrides", response_model=list[OverrideOut])
def list_overrides(actor: ActorOf, database: DatabaseDep) -> list[OverrideOut]:
    with database.transaction() as session:
        return [
            OverrideOut.model_validate(o)
            for o in calendar.list_overrides(session, organisation_id=actor.organisation_id)
        ]


@router.post(
    "/calendar/overrides", response_model=OverrideOut, summary="Declare a day off or a working day for the organisation"
)
def set_override(body: OverrideIn, actor: AdminOf, database: DatabaseDep) -> OverrideOut:
    with database.transaction() as session:
        return OverrideOut.model_validate(
            calendar.set_override(session, actor=actor, day=body.day, working=body.working, note=body.note)
        )


@router.get(
    "/calendar/{day}", response_model=WorkingDayOut, summary="Whether a day is a working day for the organisation"
)
def working_day(day: date, actor: ActorOf, database: DatabaseDep) -> WorkingDayOut:
    with database.transaction() as session:
        return WorkingDayOut(
            day=day, working=calendar.load(session, organisation_id=actor.organisation_id).is_working_day(day)
        )
