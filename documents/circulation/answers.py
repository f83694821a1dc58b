"""联合审批的统一答复: the lead organisation's one combined answer to a request it sent to several bodies.

Once the request's replies are in (its route's ``replies`` step is done, or, without one, every recipient has
replied), the lead drafts the answer from structured content, as any document (GB/T 9704, PDF/A-2b). The body
gets a table of each body's decision (its reply's title and number, the day it came), the attachment list
names the replies, and each reply's PDF, as the lead holds it (its latest revision, byte for byte), is
embedded in the answer as a file attachment. The embedding is part of the answer's first revision, so the
signatures and seal the lead adds on its route cover the replies, and each reply, extracted, still verifies
on its own. PDF/A-2 admits embedded files that are PDF/A themselves, as the replies esign renders are; an
answer carrying one that is not drops its PDF/A identification rather than claim it falsely.

One answer per request (``Document.answer_to_id`` is unique). The answer is a draft of the lead's: it goes
on a route (sign-off, numbering, seal, dispatch) like any other.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from pyhanko.pdf_utils import embed, misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.blobs import BlobStore
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.phases import Stale
from esign.settings import Settings
from keys.identities import Organisation

from .. import intake, render, revisions
from ..errors import StateConflict
from ..records import CHINA, Direction, Document
from ..render.content import Attachment, DocumentContent, Paragraph, Table
from . import requests
from .model import Dispatch, Step, StepKind

_PUNCTUATION = "，。、；：？！,.;:?!"


@dataclass(frozen=True)
class Enclosure:
    """A reply as the lead holds it, to embed in the answer."""

    document_id: str
    """The reply as the lead received it."""
    seq: int
    organisation_id: str
    organisation_name: str
    title: str
    number: str | None
    """The replying body's number for it."""
    replied_at: datetime
    data: bytes

    @property
    def decision(self) -> str:
        return f"{self.title}（{self.number}）" if self.number else self.title

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def pdfa(self) -> bool:
        """Whether it identifies itself as PDF/A-1 or PDF/A-2, as PDF/A-2 asks of an embedded file (ISO 19005-2,
        6.8): ``pdfaid:part`` 1 or 2 in its XMP metadata."""
        try:
            xmp = PdfFileReader(io.BytesIO(self.data)).root["/Metadata"].data
        except (KeyError, AttributeError, misc.PdfError):
            return False
        return _PDFA_PART.search(xmp) is not None


_PDFA_PART = re.compile(rb"pdfaid:part\s*(?:=\s*[\"']|>)\s*[12]\s*[\"'<]")


def authorise(session: Session, *, actor: Actor, request_id: str) -> Document:
    """Whether the actor may answer: a drafter of its organisation, which sent the request (else 404)."""
    intake.authorise(actor)
    return revisions.get_document(session, actor=actor, document_id=request_id)


def _ready(session: Session, request: Document) -> list[Dispatch]:
    """The request's replied dispatches, once its replies are in and it has no answer yet."""
    sent = session.scalars(
        select(Dispatch)
        .where(Dispatch.document_id == request.id, Dispatch.reply_kind.is_not(None))
        .order_by(Dispatch.replied_at, Dispatch.id)
    ).all()
    if request.direction != Direction.OUTGOING.value or not sent:
        raise InvalidInput(f"document {request.id} is not a request this organisation sent")
    if session.scalar(select(Document.id).where(Document.answer_to_id == request.id)) is not None:
        raise StateConflict(f"the request {request.title!r} has its answer already")
    steps = session.scalars(
        select(Step.state).where(Step.document_id == request.id, Step.kind == StepKind.REPLIES.value)
    ).all()
    waiting = requests.waiting_step(session, document_id=request.id) is not None
    if waiting or (not steps and not requests.enough(session, document_id=request.id, needed=None)):
        raise StateConflict(f"the request {request.title!r} still waits for replies")
    replied = [d for d in sent if d.reply_document_id is not None and d.replied_at is not None]
    if not replied:
        raise StateConflict(f"the request {request.title!r} has no reply to answer with")
    return replied


def _enclosures(session: Session, *, blobs: BlobStore | None, replied: list[Dispatch]) -> list[Enclosure]:
    """The replies to embed (their bytes only with ``blobs``)."""
    found: list[Enclosure] = []
    for dispatch in replied:
        assert dispatch.reply_document_id is not None and dispatch.replied_at is not None
        reply = session.get_one(Document, dispatch.reply_document_id)
        revision = revisions.latest(session, reply)
        own = session.scalar(select(Dispatch).where(Dispatch.incoming_document_id == reply.id))
        sent = session.get(Document, own.document_id) if own is not None else None
        found.append(
            Enclosure(
                document_id=reply.id,
                seq=revision.seq,
                organisation_id=dispatch.recipient_organisation_id,
                organisation_name=session.get_one(Organisation, dispatch.recipient_organisation_id).name,
                title=reply.title,
                number=sent.number if sent is not None else None,
                replied_at=dispatch.replied_at,
                data=revisions.pdf(blobs, revision) if blobs is not None else b"",
            )
        )
    return found


def combined(content: DocumentContent, enclosures: list[Enclosure]) -> DocumentContent:
    """The lead's content with each body's decision in the body and each reply in the attachment list."""
    rows = [["单位", "意见", "答复日期"]] + [
        [e.organisation_name, e.decision, e.replied_at.astimezone(CHINA).date().isoformat()] for e in enclosures
    ]
    named = [
        Attachment(title=f"{e.organisation_name}《{' '.join(e.title.split())}》".rstrip(_PUNCTUATION))
        for e in enclosures
    ]
    return content.model_copy(
        update={
            "body": [*content.body, Paragraph(text="各单位意见如下："), Table(rows=rows, widths=[3, 6, 2])],
            "attachments": [*content.attachments, *named],
        }
    )


def enclose(pdf: bytes, enclosures: list[Enclosure]) -> bytes:
    """``pdf`` with each enclosure embedded as a file attachment (an incremental update, no signature yet)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for n, e in enumerate(enclosures, 1):
        data = embed.EmbeddedFileObject.from_file_data(
            writer,
            e.data,
            mime_type="application/pdf",
            params=embed.EmbeddedFileParams(modification_date=e.replied_at),
        )
        embed.embed_file(
            writer,
            embed.FileSpec(
                # the name tree is flat and its keys must sort: zero-padded
                file_spec_string=f"reply-{n:03d}.pdf",
                file_name=f"附件{n} {e.organisation_name}.pdf",
                embedded_data=data,
                description=e.decision,
            ),
        )
    if not all(e.pdfa for e in enclosures):
        _unclaim_pdfa(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _unclaim_pdfa(writer: IncrementalPdfFileWriter) -> None:
    """Drop the PDF/A identification from the document's XMP: a file that embeds one that is not PDF/A is no
    PDF/A-2 file, and must not claim to be."""
    current = writer.root["/Metadata"]
    if not isinstance(current, MetadataStream):
        return
    pdfaid = model.NS["pdfaid"]
    kept = [model.XmpStructure({k: v for k, v in s if k.ns != pdfaid}) for s in current.xmp]
    writer.root["/Metadata"] = writer.add_object(MetadataStream.from_xmp(kept))
    writer.update_root()


class Answering:
    """The answer rendered and the replies embedded, outside any transaction (``esign.phases``)."""

    def __init__(
        self, *, request_id: str, content: DocumentContent, enclosures: list[Enclosure], settings: Settings
    ) -> None:
        self.request_id = request_id
        self.content = content
        self.enclosures = enclosures
        self.rendered: render.Rendered | None = None
        self.pdf: bytes | None = None
        self._fonts = render.fonts_from_settings(settings)

    def run(self) -> None:
        self.rendered = render.render(self.content, self._fonts)
        self.pdf = enclose(self.rendered.pdf, self.enclosures)

    def close(self) -> None:
        return None


def prepare(
    session: Session, *, actor: Actor, blobs: BlobStore, settings: Settings, request_id: str, content: DocumentContent
) -> Answering:
    """What the answer to ``request_id`` will be: the replies to embed, the content to render."""
    request = authorise(session, actor=actor, request_id=request_id)
    enclosures = _enclosures(session, blobs=blobs, replied=_ready(session, request))
    return Answering(
        request_id=request.id, content=combined(content, enclosures), enclosures=enclosures, settings=settings
    )


def record(session: Session, *, actor: Actor, blobs: BlobStore, answering: Answering) -> Document:
    """The answer, a draft of the lead's, with its first revision (the replies embedded), audited and announced."""
    request = revisions.get_document(session, actor=actor, document_id=answering.request_id, for_update=True)
    now_held = _enclosures(session, blobs=None, replied=_ready(session, request))
    if [(e.document_id, e.seq) for e in now_held] != [(e.document_id, e.seq) for e in answering.enclosures]:
        raise Stale("the replies changed while the answer was made")
    content, rendered, data = answering.content, answering.rendered, answering.pdf
    assert rendered is not None and data is not None
    enclosed = [
        {
            "document_id": e.document_id,
            "seq": e.seq,
            "organisation_id": e.organisation_id,
            "sha256": e.sha256,
            "pdfa": e.pdfa,
        }
        for e in answering.enclosures
    ]
    answer = intake.add_draft(
        session,
        actor=actor,
        blobs=blobs,
        content=content,
        rendered=rendered,
        data=data,
        detail={"answers": request.id, "enclosed": enclosed},
        answer_to_id=request.id,
    )
    audit.append(
        session,
        actor=actor,
        action="document.answered",
        subject=f"document:{request.id}",
        chain=request.organisation_id,
        payload={"answer_document_id": answer.id, "enclosed": enclosed},
    )
    outbox.emit(
        session,
        organisation_id=request.organisation_id,
        type="request.answered",
        subject=f"document:{request.id}",
        payload={
            "document_id": request.id,
            "answer_document_id": answer.id,
            "replies": [e.document_id for e in answering.enclosures],
        },
    )
    return answer
