"""Documents coming in: structured content rendered here, or a PDF posted by a person or another system.

Idempotency is the caller's (``api/idempotent.py``), not the service's: the route claims the key and
replays the first answer, after :func:`authorise`. An uploaded PDF is checked (readable, not encrypted,
within the parsing budget of ``esign.budget``) and its signatures are verified; the report is kept with the
revision. With a route template the document starts circulating in the same transaction, so another system
never sees a document that was posted but not yet routed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from esign import budget
from esign import pdf as pdf_module
from esign.blobs import BlobStore
from esign.errors import Forbidden
from esign.identity import Actor, Scope
from esign.ids import new_id
from esign.settings import Settings
from esign.trust import TrustSettings

from . import render, revisions
from .circulation import starting
from .records import Direction, Document, Kind, Reason
from .states import DocumentState


def authorise(actor: Actor) -> None:
    """What every intake checks of the caller first (a replayed request included)."""
    if not actor.can(Scope.DOCUMENTS):
        raise Forbidden("this token may not create documents")


def from_content(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    settings: Settings,
    content: render.DocumentContent,
    route_template_id: str | None = None,
) -> Document:
    authorise(actor)
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
        state=DocumentState.DRAFT.value,
        content=content.model_dump(mode="json"),
        layout=rendered.layout(),
        created_by=actor.label,
    )
    session.add(document)
    session.flush()
    revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=rendered.pdf,
        reason=Reason.RENDERED,
        actor=actor,
        detail={"pages": rendered.pages},
    )
    return _created(session, actor=actor, document=document, route_template_id=route_template_id)


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
) -> Document:
    authorise(actor)
    report = budget.verify(data, trust)  # in a parsing worker, under the budget: refusals raise here
    reader = pdf_module.read(data)
    document = Document(
        id=new_id(),
        organisation_id=actor.organisation_id,
        kind=kind.value,
        direction=direction.value,
        title=(title or _title_of(reader) or "untitled")[:500],
        state=(DocumentState.RECEIVED if direction is Direction.INCOMING else DocumentState.DRAFT).value,
        created_by=actor.label,
    )
    session.add(document)
    session.flush()
    revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=data,
        reason=Reason.UPLOADED,
        actor=actor,
        detail={"verdict": report.verdict.value, "signatures": len(report.signatures)},
        verification=report.model_dump(mode="json"),
    )
    return _created(session, actor=actor, document=document, route_template_id=route_template_id)


def _created(session: Session, *, actor: Actor, document: Document, route_template_id: str | None) -> Document:
    if route_template_id is not None:
        starting.start(session, actor=actor, document_id=document.id, template_id=route_template_id)
    return document


def _title_of(reader: object) -> str | None:
    try:
        info = reader.trailer["/Info"]  # type: ignore[attr-defined]
        return str(info["/Title"]) or None
    except (KeyError, TypeError, AttributeError):
        return None
