"""Documents coming in: structured content rendered here, or a PDF posted by a person or another system.

Idempotency is the caller's (``api/idempotent.py``), not the service's: the route claims the key and
replays the first answer, after :func:`authorise`. The slow part runs before the transaction that creates
the document (``esign.phases``): content is rendered (:class:`Rendering`); an uploaded PDF is checked
(readable, not encrypted, within the parsing budget of ``esign.budget``) and its signatures are verified
(:class:`Upload`), the report kept with the revision. With a route template the document starts circulating
in the same transaction that creates it, so another system never sees a document that was posted but not
yet routed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from esign import archive, budget
from esign import pdf as pdf_module
from esign.blobs import BlobStore
from esign.errors import Forbidden
from esign.identity import Actor, Scope
from esign.ids import new_id
from esign.report import VerificationReport
from esign.settings import Settings
from esign.trust import TrustSettings

from . import render, revisions
from .circulation import starting
from .circulation.model import RouteDefinition
from .records import Direction, Document, Kind, Reason
from .states import DocumentState


def authorise(actor: Actor) -> None:
    """What every intake checks of the caller first (a replayed request included)."""
    if not actor.can(Scope.DOCUMENTS):
        raise Forbidden("this token may not create documents")


class Rendering:
    """Structured content rendered into its PDF outside any transaction (``esign.phases``)."""

    def __init__(self, *, content: render.DocumentContent, settings: Settings) -> None:
        self.content = content
        self.rendered: render.Rendered | None = None
        self._fonts = render.fonts_from_settings(settings)

    def run(self) -> None:
        self.rendered = render.render(self.content, self._fonts)

    def close(self) -> None:
        return None


class Upload:
    """An uploaded PDF, checked and verified in a parsing worker under the budget (``esign.budget``), outside
    any transaction (``esign.phases``); a refusal raises from :meth:`run`."""

    def __init__(self, *, data: bytes | Path, trust: TrustSettings) -> None:
        self.data = data
        self.report: VerificationReport | None = None
        self.assessment: archive.Assessment | None = None
        self.title: str | None = None
        self._trust = trust

    def run(self) -> None:
        self.report = budget.verify(self.data, self._trust)
        self.assessment = budget.assess(self.data)
        if isinstance(self.data, bytes):
            self.title = _title_of(pdf_module.read(self.data))
        else:
            with self.data.open("rb") as source:
                self.title = _title_of(pdf_module.read(source))

    def close(self) -> None:
        return None


def from_content(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    rendering: Rendering,
    route_template_id: str | None = None,
    route: RouteDefinition | None = None,
) -> Document:
    """The draft, started on the template's route or on ``route`` (built by hand) when one is given."""
    authorise(actor)
    assert rendering.rendered is not None
    document = add_draft(session, actor=actor, blobs=blobs, content=rendering.content, rendered=rendering.rendered)
    return _created(session, actor=actor, document=document, route_template_id=route_template_id, route=route)


def add_draft(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    content: render.DocumentContent,
    rendered: render.Rendered,
    data: bytes | None = None,
    detail: dict[str, Any] | None = None,
    answer_to_id: str | None = None,
) -> Document:
    """An outgoing draft of the actor's organisation from its content, with its first revision: ``data`` (the
    rendered PDF unless given) and ``detail`` beside the page count."""
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
        answer_to_id=answer_to_id,
    )
    session.add(document)
    session.flush()
    revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=rendered.pdf if data is None else data,
        reason=Reason.RENDERED,
        actor=actor,
        detail={"pages": rendered.pages, **(detail or {})},
    )
    return document


def from_upload(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    upload: Upload,
    title: str | None,
    kind: Kind,
    direction: Direction,
    route_template_id: str | None = None,
) -> Document:
    authorise(actor)
    data, report = upload.data, upload.report
    assert report is not None
    document = Document(
        id=new_id(),
        organisation_id=actor.organisation_id,
        kind=kind.value,
        direction=direction.value,
        title=(title or upload.title or "untitled")[:500],
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
        assessment=upload.assessment,
    )
    return _created(session, actor=actor, document=document, route_template_id=route_template_id)


def _created(
    session: Session,
    *,
    actor: Actor,
    document: Document,
    route_template_id: str | None,
    route: RouteDefinition | None = None,
) -> Document:
    if route_template_id is not None or route is not None:
        starting.start(session, actor=actor, document_id=document.id, template_id=route_template_id, definition=route)
    return document


def _title_of(reader: object) -> str | None:
    try:
        info = reader.trailer["/Info"]  # type: ignore[attr-defined]
        return str(info["/Title"]) or None
    except (KeyError, TypeError, AttributeError):
        return None
