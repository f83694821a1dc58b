"""督办 and remarks on open steps: the supervision list, urging, extending and reassigning, comments that leave
a step open; and 回流 between organisations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorOf, DatabaseDep, SettingsDep, get_blobs
from api.idempotent import IdempotencyKey, once
from api.routes.circulation import step_answer
from api.schemas import AssigneeIn, StepOut
from documents.circulation import flows, forwarding, interventions, supervision
from documents.circulation.model import Assignee, Dispatch
from documents.circulation.supervision import Colour

router = APIRouter(prefix="/v1", tags=["supervision"])


class SupervisedStepOut(BaseModel):
    step_id: str
    document_id: str
    organisation_id: str
    organisation_name: str
    own: bool = Field(description="In the caller's own organisation; false for a subordinate body's step")
    title: str | None = Field(description="The document's title; null for a subordinate body's document")
    number: str | None = Field(description="The document's number; null for a subordinate body's document")
    kind: str
    stage_name: str | None
    assignee_official_name: str | None
    assignee_department_name: str | None
    opened_on: date
    due_on: date
    colour: Colour = Field(description="red: overdue; yellow: due within the warning days; green: on time")
    urges: int
    extensions: int


class AwaitedReplyOut(BaseModel):
    request_id: str
    document_id: str
    organisation_id: str = Field(description="The organisation that sent the request")
    title: str | None = Field(description="The request's title; null for a subordinate body's")
    recipient_organisation_id: str
    recipient_name: str
    reply_kind: str
    reply_due_on: date | None
    colour: Colour


class SupervisionOut(BaseModel):
    steps: list[SupervisedStepOut]
    next_cursor: str | None
    replies: list[AwaitedReplyOut] = Field(
        description="Requests the organisation (and its subordinates) sent whose reply is due soon or overdue; "
        "on the first page only"
    )


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=interventions.MAX_TEXT)


class CommentOut(BaseModel):
    id: str
    step_id: str
    text: str | None
    by: str


class UrgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str | None = Field(default=None, max_length=interventions.MAX_TEXT)


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_on: date
    reason: str = Field(min_length=1, max_length=interventions.MAX_TEXT)


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: AssigneeIn
    reason: str = Field(min_length=1, max_length=interventions.MAX_TEXT)


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation_id: str = Field(min_length=1, max_length=36, description="The competent organisation")
    reason: str = Field(min_length=1, max_length=forwarding.MAX_REASON)


class ForwardOut(BaseModel):
    dispatch_id: str
    organisation_id: str
    incoming_document_id: str = Field(description="The document as the competent organisation received it")
    reply_due_on: date | None = Field(description="For a request: its new deadline, on the new recipient's calendar")


def _supervised_out(item: supervision.Supervised) -> SupervisedStepOut:
    step, document = item.view.step, item.view.document
    return SupervisedStepOut(
        step_id=step.id,
        document_id=step.document_id,
        organisation_id=step.organisation_id,
        organisation_name=item.organisation_name,
        own=item.own,
        title=document.title if item.own else None,
        number=document.number if item.own else None,
        kind=step.kind,
        stage_name=item.view.stage_name,
        assignee_official_name=item.view.assignee_official_name,
        assignee_department_name=item.view.assignee_department_name,
        opened_on=step.opened_on,
        due_on=step.due_on,
        colour=item.colour,
        urges=item.urges,
        extensions=item.extensions,
    )


@router.get("/supervision", response_model=SupervisionOut, summary="督办: open steps due soon or overdue")
def supervision_list(
    actor: ActorOf,
    database: DatabaseDep,
    settings: SettingsDep,
    subordinates: Annotated[bool, Query(description="Also the subordinate bodies' steps")] = False,
    include_green: Annotated[bool, Query(description="Also the steps on time")] = False,
    department_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=supervision.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SupervisionOut:
    with database.transaction() as session:
        page = supervision.overview(
            session,
            actor=actor,
            warn_days=settings.supervision_warn_days,
            subordinates=subordinates,
            include_green=include_green,
            department_id=department_id,
            limit=limit,
            cursor=cursor,
        )
        return SupervisionOut(
            steps=[_supervised_out(s) for s in page.steps],
            next_cursor=page.next_cursor,
            replies=[
                AwaitedReplyOut(
                    request_id=r.request.id,
                    document_id=r.request.document_id,
                    organisation_id=r.request.organisation_id,
                    title=r.title,
                    recipient_organisation_id=r.request.recipient_organisation_id,
                    recipient_name=r.recipient_name,
                    reply_kind=r.request.reply_kind or "",
                    reply_due_on=r.request.reply_due_on,
                    colour=r.colour,
                )
                for r in page.replies
            ],
        )


@router.post(
    "/steps/{step_id}/comments", response_model=CommentOut, status_code=201, summary="Comment; the step stays open"
)
def add_comment(
    step_id: str, body: CommentIn, actor: ActorOf, database: DatabaseDep, key: IdempotencyKey = None
) -> Response:
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"step.comments:{step_id}",
        request=body,
        model=CommentOut,
        authorise=lambda session: flows.authorise(session, actor=actor, step_id=step_id),
        create=lambda session: CommentOut.model_validate(
            interventions.comment(session, actor=actor, step_id=step_id, text=body.text), from_attributes=True
        ),
    )


@router.post("/steps/{step_id}/urge", response_model=CommentOut, status_code=201, summary="催办: remind the assignee")
def urge(
    step_id: str, body: UrgeIn, actor: ActorOf, database: DatabaseDep, settings: SettingsDep, key: IdempotencyKey = None
) -> Response:
    interval = timedelta(minutes=settings.urge_interval_minutes)
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"step.urge:{step_id}",
        request=body,
        model=CommentOut,
        authorise=lambda session: interventions.authorise(session, actor=actor, step_id=step_id),
        create=lambda session: CommentOut.model_validate(
            interventions.urge(session, actor=actor, step_id=step_id, message=body.message, interval=interval),
            from_attributes=True,
        ),
    )


@router.post("/steps/{step_id}/extend", response_model=StepOut, summary="Move the step's deadline, with a reason")
def extend(step_id: str, body: ExtendIn, actor: ActorOf, database: DatabaseDep, key: IdempotencyKey = None) -> Response:
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"step.extend:{step_id}",
        request=body,
        model=StepOut,
        authorise=lambda session: interventions.authorise(session, actor=actor, step_id=step_id),
        create=lambda session: step_answer(
            session, interventions.extend(session, actor=actor, step_id=step_id, due_on=body.due_on, reason=body.reason)
        ),
        status=200,
    )


@router.post("/steps/{step_id}/reassign", response_model=StepOut, summary="Give the step to another assignee")
def reassign(
    step_id: str, body: ReassignIn, actor: ActorOf, database: DatabaseDep, key: IdempotencyKey = None
) -> Response:
    assignee = Assignee.model_validate(body.assignee.model_dump())
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"step.reassign:{step_id}",
        request=body,
        model=StepOut,
        authorise=lambda session: interventions.authorise(session, actor=actor, step_id=step_id),
        create=lambda session: step_answer(
            session,
            interventions.reassign(session, actor=actor, step_id=step_id, assignee=assignee, reason=body.reason),
        ),
        status=201,
    )


@router.post(
    "/documents/{document_id}/forward",
    response_model=ForwardOut,
    status_code=201,
    summary="回流: send an incoming document on to the competent organisation",
)
def forward(
    document_id: str,
    body: ForwardIn,
    request: Request,
    actor: ActorOf,
    database: DatabaseDep,
    key: IdempotencyKey = None,
) -> Response:
    blobs = get_blobs(request)
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"document.forward:{document_id}",
        request=body,
        model=ForwardOut,
        authorise=lambda session: forwarding.authorise(session, actor=actor, document_id=document_id),
        create=lambda session: _forwarded(
            forwarding.forward(
                session,
                actor=actor,
                blobs=blobs,
                document_id=document_id,
                organisation_id=body.organisation_id,
                reason=body.reason,
            )
        ),
    )


def _forwarded(moved: Dispatch) -> ForwardOut:
    return ForwardOut(
        dispatch_id=moved.id,
        organisation_id=moved.recipient_organisation_id,
        incoming_document_id=moved.incoming_document_id,
        reply_due_on=moved.reply_due_on,
    )
