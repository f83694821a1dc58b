"""Documents coming in: structured content rendered here, or a PDF posted by a person or another system.

Every intake honours an ``Idempotency-Key``: a retry returns the document the first request made.
An uploaded PDF is checked (readable, not encrypted) and its signatures are verified; the report is
kept with the revision. With a route template the document starts circulating in the same transaction,
so another system never sees a document that was posted but not yet routed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from esign import idempotency
from esign import pdf as pdf_module
from esign.blobs import BlobStore
from esign.errors import Forbidden, NotFound
from esign.identity import Actor, Scope
from esign.ids import new_id
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify

from . import render, revisions
from .circulation import flows
from .records import Direction, Document, Kind, Reason

SCOPE = "documents"


@dataclass(frozen=True)
class Intake:
    document: Document
    created: bool
    """False when an ``Idempotency-Key`` replayed an earlier request."""


def _require(actor: Actor) -> None:
    if not actor.can(Scope.DOCUMENTS):
        raise Forbidden("this token may not create documents")


def _replayed(session: Session, *, actor: Actor, key: str | None, fingerprint: str) -> tuple[idempotency.Claim | None, Intake | None]:
    if key is None:
        return None, None
    claim = idempotency.claim(session, scope=f"{actor.organisation_id}:{SCOPE}", key=key, request_fingerprint=fingerprint)
    if claim.replay is None:
        return claim, None
    document_id = claim.replay.removeprefix("document:")
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"document {document_id} of an earlier request is gone")
    return claim, Intake(document=document, created=False)


def from_content(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    settings: Settings,
    content: render.DocumentContent,
    route_template_id: str | None = None,
    idempotency_key: str | None = None,
) -> Intake:
    _require(actor)
    claim, replay = _replayed(
        session, actor=actor, key=idempotency_key,
        fingerprint=idempotency.fingerprint("content", content.model_dump_json(), route_template_id or ""),
    )
    if replay is not None:
        return replay
    rendered = render.render(content, render.fonts_from_settings(settings))
    document = Document(
        id=new_id(),
        organisation_id=actor.organisation_id,
        kind=content.kind.value,
        direction=Direction.OUTGOING.value,
        title=content.title,
        number=content.number,
        secrecy=content.secrecy,
        urgency=content.urgency,
        state="draft",
        content=content.model_dump(mode="json"),
        layout=rendered.layout(),
        created_by=actor.label,
    )
    session.add(document)
    session.flush()
    revisions.add(session, blobs=blobs, document=document, data=rendered.pdf, reason=Reason.RENDERED, by=actor.label,
                  detail={"pages": rendered.pages})
    return _created(session, actor=actor, document=document, route_template_id=route_template_id, claim=claim)


def from_upload(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    trust: TrustSettings,
    data: bytes,
    title: str | None,
    kind: Kind,
    direction: Direction,
    route_template_id: str | None = None,
    idempotency_key: str | None = None,
) -> Intake:
    _require(actor)
    fingerprint = idempotency.fingerprint("upload", data, title or "", kind.value, direction.value, route_template_id or "")
    claim, replay = _replayed(session, actor=actor, key=idempotency_key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    reader = pdf_module.read(data)
    report = verify(data, trust)
    document = Document(
        id=new_id(),
        organisation_id=actor.organisation_id,
        kind=kind.value,
        direction=direction.value,
        title=(title or _title_of(reader) or "untitled")[:500],
        state="received" if direction is Direction.INCOMING else "draft",
        created_by=actor.label,
    )
    session.add(document)
    session.flush()
    revisions.add(
        session, blobs=blobs, document=document, data=data, reason=Reason.UPLOADED, by=actor.label,
        detail={"verdict": report.verdict.value, "signatures": len(report.signatures)},
        verification=report.model_dump(mode="json"),
    )
    return _created(session, actor=actor, document=document, route_template_id=route_template_id, claim=claim)


def _created(
    session: Session, *, actor: Actor, document: Document, route_template_id: str | None, claim: idempotency.Claim | None
) -> Intake:
    if route_template_id is not None:
        flows.start(session, actor=actor, document_id=document.id, template_id=route_template_id)
    if claim is not None:
        idempotency.complete(session, claim, f"document:{document.id}")
    return Intake(document=document, created=True)


def _title_of(reader: object) -> str | None:
    try:
        info = reader.trailer["/Info"]  # type: ignore[attr-defined]
        return str(info["/Title"]) or None
    except (KeyError, TypeError, AttributeError):
        return None
