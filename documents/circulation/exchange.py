"""Documents between organisations: dispatch (分发) into recipients' inboxes, and receipts (回执) back.

A dispatched document arrives as an incoming document whose first revision is the sender's PDF byte for
byte. It is verified on arrival and the report kept; a document whose signatures or seal do not verify is
flagged, and cannot be registered without an explicit, audited override.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.blobs import BlobStore
from esign.identity import Actor
from esign.ids import new_id, now
from esign.report import VerificationReport
from esign.trust import TrustSettings
from esign.verify import verify
from keys import identities
from keys.identities import Organisation

from .. import revisions
from ..errors import InvalidDocument, StateConflict
from ..records import Direction, Document, Reason
from ..states import DocumentState, move_document
from . import calendar, requests
from .model import Dispatch
from .requests import ReplyRequest


class Examination:
    """The verification of the PDF about to be dispatched, made outside the transaction (``esign.phases``)."""

    def __init__(self, *, data: bytes, trust: TrustSettings) -> None:
        self.data = data
        self.report: VerificationReport | None = None
        self._trust = trust

    def run(self) -> None:
        self.report = verify(self.data, self._trust)

    def close(self) -> None:
        return None


def examine(session: Session, *, blobs: BlobStore, trust: TrustSettings, document: Document) -> Examination:
    """What a dispatch of the document's current PDF will verify."""
    return Examination(data=revisions.pdf(blobs, revisions.latest(session, document)), trust=trust)


def dispatch(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    examined: Examination,
    document: Document,
    recipients: Sequence[str],
    request: ReplyRequest | None = None,
    answering: Dispatch | None = None,
) -> list[Document]:
    """Send the examined PDF, the document's current one, to each recipient organisation; the incoming
    documents made. ``request``: each recipient must reply by a deadline (``requests``); ``answering``: this
    is the reply to that request, and goes back to its sender."""
    if answering is not None:
        recipients = [answering.organisation_id]
    if not recipients:
        raise InvalidDocument("a dispatch needs at least one recipient organisation")
    if len(set(recipients)) != len(recipients):
        raise InvalidDocument("a recipient organisation is listed twice")
    already = set(
        session.scalars(select(Dispatch.recipient_organisation_id).where(Dispatch.document_id == document.id))
    )
    data, report = examined.data, examined.report
    assert report is not None
    incoming: list[Document] = []
    for organisation_id in recipients:
        recipient = identities.get_organisation(session, organisation_id)
        if recipient.id == document.organisation_id:
            raise InvalidDocument("a document is dispatched to other organisations, not its own")
        if recipient.disabled:
            raise InvalidDocument(f"organisation {recipient.name} is disabled")
        if recipient.id in already:
            raise StateConflict(f"the document was dispatched to {recipient.name} already")
        arrived, _ = deliver(
            session,
            blobs=blobs,
            document=document,
            recipient=recipient,
            data=data,
            report=report,
            request=request,
            answering=answering,
        )
        incoming.append(arrived)
    move_document(document, DocumentState.DISPATCHED)
    session.flush()
    outbox.emit(
        session,
        organisation_id=document.organisation_id,
        type="document.dispatched",
        subject=f"document:{document.id}",
        payload={"document_id": document.id, "number": document.number, "recipients": list(recipients)},
    )
    audit.append(
        session,
        actor=actor,
        action="document.dispatched",
        subject=f"document:{document.id}",
        chain=document.organisation_id,
        payload={"recipients": list(recipients), "verdict": report.verdict.value},
    )
    return incoming


def deliver(
    session: Session,
    *,
    blobs: BlobStore,
    document: Document,
    recipient: Organisation,
    data: bytes,
    report: VerificationReport,
    request: ReplyRequest | None = None,
    answering: Dispatch | None = None,
) -> tuple[Document, Dispatch]:
    """``document``'s PDF ``data`` (verified as ``report``) arriving at ``recipient`` as an incoming document,
    and the dispatch that records it."""
    dispatcher = Actor.system(recipient.id, f"dispatch:{document.organisation_id}")
    arrived = Document(
        id=new_id(),
        organisation_id=recipient.id,
        kind=document.kind,
        direction=Direction.INCOMING.value,
        title=document.title,
        number=None,
        secrecy=document.secrecy,
        urgency=document.urgency,
        state=DocumentState.ARRIVED.value,
        flagged=not report.valid,
        content=None,
        layout=document.layout,
        created_by=dispatcher.label,
    )
    session.add(arrived)
    session.flush()
    revisions.add(
        session,
        blobs=blobs,
        document=arrived,
        data=data,
        reason=Reason.RECEIVED,
        actor=dispatcher,
        detail={
            "from_organisation": document.organisation_id,
            "from_document": document.id,
            "sender_number": document.number,
            "verdict": report.verdict.value,
        },
        verification=report.model_dump(mode="json"),
    )
    record = Dispatch(
        id=new_id(),
        organisation_id=document.organisation_id,
        document_id=document.id,
        recipient_organisation_id=recipient.id,
        incoming_document_id=arrived.id,
        dispatched_at=now(),
    )
    if request is not None:
        record.reply_kind = request.kind.value
        record.reply_days = request.working_days
        record.reply_due_on = requests.reply_due(
            session, recipient_id=recipient.id, request=request, received_on=calendar.today()
        )
    session.add(record)
    if answering is not None:
        requests.record_reply(session, request=answering, reply=record)
    outbox.emit(
        session,
        organisation_id=recipient.id,
        type="document.received",
        subject=f"document:{arrived.id}",
        payload={
            "document_id": arrived.id,
            "title": arrived.title,
            "sender_number": document.number,
            "from_organisation": document.organisation_id,
            "flagged": arrived.flagged,
            "reply_kind": record.reply_kind,
            "reply_due_on": record.reply_due_on.isoformat() if record.reply_due_on else None,
        },
    )
    return arrived, record


def acknowledge(session: Session, *, actor: Actor, document: Document) -> Dispatch | None:
    """The recipient signed for an incoming document: its receipt goes back to the sender."""
    record = session.scalar(select(Dispatch).where(Dispatch.incoming_document_id == document.id).with_for_update())
    if record is None:
        return None
    if record.received_at is not None:
        raise StateConflict("the receipt was sent already")
    record.received_at = now()
    record.received_by = actor.label
    outbox.emit(
        session,
        organisation_id=record.organisation_id,
        type="receipt.received",
        subject=f"document:{record.document_id}",
        payload={
            "document_id": record.document_id,
            "recipient_organisation_id": record.recipient_organisation_id,
            "received_at": record.received_at.isoformat(),
        },
    )
    audit.append(
        session,
        actor=actor,
        action="document.receipt",
        subject=f"document:{record.document_id}",
        chain=record.organisation_id,
        payload={"recipient_organisation_id": record.recipient_organisation_id, "incoming_document_id": document.id},
    )
    return record
