"""Official documents: intake (rendered or uploaded, idempotent), revisions, numbering, signing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api import downloads, reports, uploads
from api.deps import ActorOf, DatabaseDep, PolicyDep, SettingsDep, SignerOf, get_blobs
from api.idempotent import IdempotencyKey, once
from api.routes.signing import parse_visible
from api.schemas import (
    DocumentOut,
    DocumentSignIn,
    RegisterEntryOut,
    RegisterOut,
    RevisionOut,
    SenderOut,
    refuse_nul,
)
from documents import intake, numbering, revisions, signing
from documents.circulation import register
from documents.records import Direction, Document, Kind
from documents.render import DocumentContent
from documents.states import DocumentState
from esign import idempotency, phases
from esign.archive import Preservation
from esign.blobs import BlobStore
from esign.db import Database
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.report import VerificationReport
from esign.settings import Settings
from esign.sign import PadesLevel
from esign.verify import verify
from keys import authorities
from keys.policy import Policy
from keys.signing import Unlock

router = APIRouter(prefix="/v1/documents", tags=["documents"])


def document_out(document: Document, sender: register.Sender | None = None) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        organisation_id=document.organisation_id,
        kind=document.kind,
        direction=document.direction,
        title=document.title,
        number=document.number,
        secrecy=document.secrecy,
        urgency=document.urgency,
        state=DocumentState(document.state),
        revisions=document.revision_count,
        created_by=document.created_by,
        created_at=document.created_at,
        updated_at=document.updated_at,
        preservation=Preservation(document.preservation) if document.preservation else None,
        protected_until=document.protected_until,
        sender=SenderOut.model_validate(sender) if sender else None,
    )


def _content(raw: bytes) -> tuple[DocumentContent, str | None]:
    """The structured content and the route template of a JSON intake."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(body, dict) or "content" not in body:
        raise InvalidInput('send {"content": {...}} with the document\'s structured content, or a multipart PDF upload')
    unknown = sorted(set(body) - {"content", "route_template_id"})
    if unknown:
        raise InvalidInput(f"unknown members {', '.join(unknown)}: a JSON intake has content and route_template_id")
    try:
        refuse_nul(body)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    template = body.get("route_template_id")
    if template is not None and not isinstance(template, str):
        raise InvalidInput("route_template_id is a template's id")
    try:
        return DocumentContent.model_validate(body["content"]), template
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" if err["loc"] else err["msg"] for err in e.errors()
        )
        raise InvalidInput(f"content: {problems}") from None


@router.post(
    "",
    summary="Create a document from structured content (rendered per GB/T 9704) or an uploaded PDF",
    description=(
        '`application/json`: `{"content": {...}}`, laid out per GB/T 9704-2012 as PDF/A-2b. '
        "`multipart/form-data`: `file` (a PDF; its signatures are verified and the report kept), and optional "
        "`title`, `kind` (notice, request, report, reply, letter, minutes) and `direction` (outgoing, incoming). "
        "Either form takes `route_template_id`: the document then starts on that route in the same transaction. "
        "With `Idempotency-Key`, a retry gets the first answer again (200) and creates nothing; the same key "
        "with a different body is 409 `idempotency_conflict`."
    ),
    status_code=201,
    response_model=DocumentOut,
    responses={200: {"description": "Replayed: the answer an earlier request with this key got"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["content"],
                        "properties": {
                            "content": DocumentContent.model_json_schema(),
                            "route_template_id": {"type": "string"},
                        },
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "title": {"type": "string"},
                            "kind": {"type": "string", "enum": [k.value for k in Kind]},
                            "direction": {"type": "string", "enum": [d.value for d in Direction]},
                            "route_template_id": {"type": "string"},
                        },
                    }
                },
            },
        }
    },
)
async def create(
    request: Request,
    actor: ActorOf,
    database: DatabaseDep,
    settings: SettingsDep,
    policy: PolicyDep,
    key: IdempotencyKey = None,
) -> Response:
    blobs = get_blobs(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("a multipart request needs the PDF as the field `file`")
        title = str(form.get("title") or "") or None
        template = str(form.get("route_template_id") or "") or None
        try:
            kind = Kind(str(form.get("kind") or Kind.NOTICE.value))
            direction = Direction(str(form.get("direction") or Direction.INCOMING.value))
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        intake_form = _UploadForm(title=title, kind=kind, direction=direction, route_template_id=template)
        return await run_in_threadpool(
            _create_from_upload,
            database,
            actor=actor,
            key=key,
            blobs=blobs,
            policy=policy,
            settings=settings,
            upload=upload,
            form=intake_form,
        )
    content, template = _content(await request.body())
    fingerprint = idempotency.fingerprint("content", content.model_dump_json(), template or "")
    create: phases.Phases[Any, DocumentOut] = phases.Phases(
        lambda session: intake.Rendering(content=content, settings=settings),
        lambda session, rendering: document_out(
            intake.from_content(session, actor=actor, blobs=blobs, rendering=rendering, route_template_id=template)
        ),
    )

    return await run_in_threadpool(
        once,
        database,
        actor=actor,
        key=key,
        operation="document.create",
        request=fingerprint,
        authorise=lambda session: intake.authorise(actor),
        create=create,
        model=DocumentOut,
    )


@dataclass(frozen=True)
class _UploadForm:
    title: str | None
    kind: Kind
    direction: Direction
    route_template_id: str | None


def _create_from_upload(
    database: Database,
    *,
    actor: Actor,
    key: str | None,
    blobs: BlobStore,
    policy: Policy,
    settings: Settings,
    upload: UploadFile,
    form: _UploadForm,
) -> Response:
    """A document from an uploaded PDF: a large one verified, assessed and stored from its file
    (``api.uploads``), the idempotency fingerprint taken over its digest instead of its bytes."""
    with uploads.received(upload, settings) as (data, spool):
        try:
            content = data if isinstance(data, bytes) else uploads.sha256(data)
            fingerprint = idempotency.fingerprint(
                "upload", content, form.title or "", form.kind.value, form.direction.value, form.route_template_id or ""
            )
            create: phases.Phases[Any, DocumentOut] = phases.Phases(
                lambda session: intake.Upload(data=data, trust=policy.trust(session)),
                lambda session, checked: document_out(
                    intake.from_upload(
                        session,
                        actor=actor,
                        blobs=blobs,
                        upload=checked,
                        title=form.title,
                        kind=form.kind,
                        direction=form.direction,
                        route_template_id=form.route_template_id,
                    )
                ),
            )
            return once(
                database,
                actor=actor,
                key=key,
                operation="document.create",
                request=fingerprint,
                authorise=lambda session: intake.authorise(actor),
                create=create,
                model=DocumentOut,
            )
        finally:
            if spool is not None:
                spool.remove()


@router.get("", response_model=RegisterOut, summary="The register: the organisation's documents, newest first")
def document_register(
    actor: ActorOf,
    database: DatabaseDep,
    direction: Direction | None = None,
    state: DocumentState | None = None,
    kind: Kind | None = None,
    number: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Words that must all occur in the title")] = None,
    sender_organisation_id: Annotated[str | None, Query(max_length=36)] = None,
    created_from: date | None = None,
    created_to: date | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=register.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RegisterOut:
    filters = register.Filters(
        direction=direction,
        state=state,
        kind=kind,
        number=number,
        words=tuple(q.split()) if q else (),
        sender_organisation_id=sender_organisation_id,
        created_from=created_from,
        created_to=created_to,
        overdue=overdue,
    )
    with database.transaction() as session:
        page = register.search(session, actor=actor, filters=filters, limit=limit, cursor=cursor)
        return RegisterOut(
            documents=[
                RegisterEntryOut(
                    **document_out(e.document, e.sender).model_dump(), next_due_on=e.next_due_on, overdue=e.overdue
                )
                for e in page.entries
            ],
            next_cursor=page.next_cursor,
        )


@router.get("/{document_id}", response_model=DocumentOut)
def get_document(document_id: str, actor: ActorOf, database: DatabaseDep) -> DocumentOut:
    with database.transaction() as session:
        document = revisions.get_document(session, actor=actor, document_id=document_id)
        return document_out(document, register.sender_of(session, document))


@router.get("/{document_id}/revisions", response_model=list[RevisionOut])
def list_revisions(document_id: str, actor: ActorOf, database: DatabaseDep) -> list[RevisionOut]:
    with database.transaction() as session:
        return [RevisionOut.model_validate(r) for r in revisions.listing(session, actor=actor, document_id=document_id)]


def _pdf(request: Request, session: Session, actor: Actor, document_id: str, seq: int | None) -> Response:
    if seq is None:
        revision = revisions.latest(session, revisions.get_document(session, actor=actor, document_id=document_id))
    else:
        revision = revisions.get(session, actor=actor, document_id=document_id, seq=seq)
    settings: Settings = request.app.state.settings
    return downloads.blob_response(
        request,
        get_blobs(request),
        revision.sha256,
        revision.size,
        media_type="application/pdf",
        in_memory=settings.upload_in_memory_kb * 1024,
    )


_RANGES: dict[int | str, dict[str, Any]] = {
    206: {"description": "The part of the PDF a `Range: bytes=first-last` header asked for, with `Content-Range`"},
    416: {"description": "A range past the end of the PDF (`range_not_satisfiable`)"},
}


@router.get(
    "/{document_id}/pdf",
    summary="The current PDF (the latest revision)",
    response_class=Response,
    responses=_RANGES,
)
def latest_pdf(document_id: str, request: Request, actor: ActorOf, database: DatabaseDep) -> Response:
    with database.transaction() as session:
        return _pdf(request, session, actor, document_id, None)


@router.get(
    "/{document_id}/revisions/{seq}/pdf",
    summary="One revision's PDF, byte for byte",
    response_class=Response,
    responses=_RANGES,
)
def revision_pdf(document_id: str, seq: int, request: Request, actor: ActorOf, database: DatabaseDep) -> Response:
    with database.transaction() as session:
        return _pdf(request, session, actor, document_id, seq)


@router.get(
    "/{document_id}/verification",
    response_model=VerificationReport,
    summary="The verification report of the current PDF",
    description="JSON by default; `Accept: application/xml` for the ETSI TS 119 102-2 validation report, "
    "`Accept: application/pdf` for the report as a PDF.",
    responses=reports.RESPONSES,
)
def verification(
    document_id: str,
    request: Request,
    actor: ActorOf,
    database: DatabaseDep,
    policy: PolicyDep,
    settings: SettingsDep,
    accept: Annotated[str | None, Header()] = None,
) -> VerificationReport | Response:
    with database.transaction() as session:
        document = revisions.get_document(session, actor=actor, document_id=document_id)
        data = revisions.pdf(get_blobs(request), revisions.latest(session, document))
        trust = policy.trust(session)
    return reports.respond(verify(data, trust), accept, settings.zone)


@router.post(
    "/{document_id}/register",
    response_model=DocumentOut,
    summary="Register and number (登记编号)",
    description="With `Idempotency-Key`, a retry gets the first answer again and numbers nothing.",
)
def register_and_number(
    document_id: str,
    request: Request,
    actor: ActorOf,
    database: DatabaseDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> Response:
    blobs: BlobStore = get_blobs(request)
    return once(
        database,
        actor=actor,
        key=key,
        operation=f"document.register:{document_id}",
        request=None,
        authorise=lambda session: numbering.authorise(session, actor=actor, document_id=document_id),
        create=phases.Phases(
            lambda session: numbering.prepare(
                session,
                actor=actor,
                blobs=blobs,
                pki=authorities.load(session, settings),
                settings=settings,
                document_id=document_id,
            ),
            lambda session, stamping: document_out(
                numbering.record(session, actor=actor, blobs=blobs, stamping=stamping)
            ),
        ),
        model=DocumentOut,
        status=200,
    )


@router.post("/{document_id}/sign", response_model=RevisionOut, summary="Sign or seal the current PDF")
def sign(
    document_id: str,
    body: DocumentSignIn,
    request: Request,
    actor: SignerOf,
    database: DatabaseDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> Response:
    unlock = Unlock(credential_id=body.credential_id, pin=body.pin, session_secret=body.session)
    page, box = parse_visible(body.visible)

    blobs: BlobStore = get_blobs(request)
    create = phases.Phases(
        lambda session: signing.prepare(
            session,
            actor=actor,
            pki=authorities.load(session, settings),
            blobs=blobs,
            settings=settings,
            document_id=document_id,
            unlock=unlock,
            level=PadesLevel(body.level) if body.level else None,
            reason=body.reason,
            page=page,
            box=box,
        ),
        lambda session, signature: RevisionOut.model_validate(
            signing.record(session, actor=actor, blobs=blobs, signature=signature)
        ),
    )

    return once(
        database,
        actor=actor,
        key=key,
        operation=f"document.sign:{document_id}",
        request=body,
        model=RevisionOut,
        authorise=lambda session: signing.authorise(
            session, actor=actor, document_id=document_id, credential_id=body.credential_id
        ),
        create=create,
        status=200,
    )
