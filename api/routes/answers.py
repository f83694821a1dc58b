"""联合审批的统一答复: the lead organisation's one combined answer to a request, carrying the replies."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import ActorOf, DatabaseDep, SettingsDep, get_blobs
from api.idempotent import IdempotencyKey, once
from api.routes.documents import document_out
from api.schemas import DocumentOut
from documents.circulation import answers
from documents.render import DocumentContent
from esign import phases

router = APIRouter(prefix="/v1", tags=["circulation"])


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: DocumentContent


@router.post(
    "/documents/{request_id}/answer",
    response_model=DocumentOut,
    status_code=201,
    summary="The combined answer to a request the organisation sent, once its replies are in",
    description=(
        "Renders `content` per GB/T 9704 with each replying body's decision added to the body and each reply "
        "named in the attachment list, and embeds every reply's PDF as the organisation holds it (its latest "
        "revision, byte for byte) as a file attachment, before anything is signed: the answer is a draft, to "
        "be signed, numbered and sealed on a route as usual, whose signatures then cover the replies. One "
        "answer per request (409 once it has one, or while its replies are awaited). With `Idempotency-Key`, "
        "a retry gets the first answer again (200)."
    ),
    responses={200: {"description": "Replayed: the answer an earlier request with this key got"}},
)
def answer(
    request_id: str,
    body: AnswerIn,
    request: Request,
    actor: ActorOf,
    database: DatabaseDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> Response:
    blobs = get_blobs(request)
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"document.answer:{request_id}",
        request=body,
        model=DocumentOut,
        authorise=lambda session: answers.authorise(session, actor=actor, request_id=request_id),
        create=phases.Phases(
            lambda session: answers.prepare(
                session, actor=actor, blobs=blobs, settings=settings, request_id=request_id, content=body.content
            ),
            lambda session, work: document_out(answers.record(session, actor=actor, blobs=blobs, answering=work)),
        ),
    )
