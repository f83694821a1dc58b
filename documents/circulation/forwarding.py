"""回流 between organisations: a recipient that is not competent for a dispatched document sends it on to the
organisation that is, with a reason, instead of letting it die in its inbox.

The competent organisation receives the sender's PDF byte for byte, with the verification made on the first
arrival, as if the sender had dispatched it there: it is the sender's dispatch that moves. A request's clock
restarts at the new recipient, on its calendar. The forwarding organisation's copy closes (``forwarded``, its
open steps cancelled); the sender sees where the document went and why (``request.forwarded``, and its
timeline). A coordinating body — any body above the recipient (``keys.hierarchy``), such as the district
government over its bureaus or a joint-meeting body placed above its members — may do the same for a
document stuck at one of them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit, outbox
from esign.blobs import BlobStore
from esign.errors import Forbidden, InvalidInput, NotFound
from esign.identity import Actor, Role
from esign.report import VerificationReport
from keys import hierarchy, identities

from .. import revisions
from ..errors import StateConflict
from ..records import Document, Revision
from ..states import DocumentState, RouteState, move_document, move_route
from .exchange import deliver
from .model import Dispatch, Route, Step, StepState
from .requests import ReplyKind, ReplyRequest
from .starting import start_incoming

MAX_REASON = 2000
_CLOSED = frozenset({DocumentState.CLOSED, DocumentState.ARCHIVED, DocumentState.FORWARDED})


def _dispatch_of(session: Session, *, actor: Actor, document_id: str) -> Dispatch:
    """The dispatch that brought ``document_id`` to its organisation: the actor's own, or for a coordinating
    body one of its subordinates'."""
    record = session.scalar(select(Dispatch).where(Dispatch.incoming_document_id == document_id).with_for_update())
    if record is None:
        raise NotFound(f"no document {document_id}")
    holder = record.recipient_organisation_id
    if holder != actor.organisation_id and holder not in hierarchy.subordinates(session, actor.organisation_id):
        raise NotFound(f"no document {document_id}")
    return record


def authorise(session: Session, *, actor: Actor, document_id: str) -> Dispatch:
    """Whether the actor may forward the document (checked before a replay too); the dispatch that brought it."""
    if not (actor.has_role(Role.CLERK) or actor.has_role(Role.LEADER)):
        raise Forbidden("forwarding a document to another organisation is for clerks and leaders")
    return _dispatch_of(session, actor=actor, document_id=document_id)


def forward(
    session: Session, *, actor: Actor, blobs: BlobStore, document_id: str, organisation_id: str, reason: str
) -> Dispatch:
    """Send the incoming document on to ``organisation_id``; the new dispatch."""
    why = reason.strip()
    if not why or len(why) > MAX_REASON:
        raise InvalidInput(f"reason is required, at most {MAX_REASON} characters")
    record = authorise(session, actor=actor, document_id=document_id)
    incoming = session.get_one(Document, record.incoming_document_id, with_for_update=True)
    if DocumentState(incoming.state) in _CLOSED:
        raise StateConflict(f"document {incoming.id} is {incoming.state}; there is nothing to forward")
    if record.replied_at is not None:
        raise StateConflict(f"document {incoming.id} was replied to already")
    source = session.get_one(Document, record.document_id)
    target = identities.get_organisation(session, organisation_id)
    if target.disabled or target.id in (source.organisation_id, record.recipient_organisation_id):
        raise InvalidInput("forward to another active organisation, neither the sender nor the current recipient")
    if session.scalar(
        select(Dispatch.id).where(Dispatch.document_id == source.id, Dispatch.recipient_organisation_id == target.id)
    ):
        raise StateConflict(f"{target.name} has this document already")
    original = session.scalar(select(Revision).where(Revision.document_id == incoming.id, Revision.seq == 1))
    if original is None or original.verification is None:
        raise StateConflict(f"document {incoming.id} did not arrive by dispatch")
    request = ReplyRequest(ReplyKind(record.reply_kind), record.reply_days) if record.reply_kind is not None else None
    arrived, moved = deliver(
        session,
        blobs=blobs,
        document=source,
        recipient=target,
        data=revisions.pdf(blobs, original),
        report=VerificationReport.model_validate(original.verification),
        request=request,
    )
    record.forwarded_to_id = moved.id
    record.forward_reason = why
    _close(session, incoming)
    start_incoming(session, document=arrived)
    audit.append(
        session,
        actor=actor,
        action="document.forwarded",
        subject=f"document:{incoming.id}",
        chain=record.recipient_organisation_id,
        payload={"to_organisation": target.id, "reason": why, "by_organisation": actor.organisation_id},
    )
    outbox.emit(
        session,
        organisation_id=source.organisation_id,
        type="request.forwarded",
        subject=f"document:{source.id}",
        payload={
            "document_id": source.id,
            "from_organisation_id": record.recipient_organisation_id,
            "to_organisation_id": target.id,
            "reason": why,
            "reply_due_on": moved.reply_due_on.isoformat() if moved.reply_due_on else None,
        },
    )
    return moved


def _close(session: Session, incoming: Document) -> None:
    """The forwarding organisation's copy: open steps cancelled, route completed, the document ``forwarded``."""
    for step in session.scalars(
        select(Step).where(Step.document_id == incoming.id, Step.state == StepState.OPEN.value).with_for_update()
    ):
        step.state = StepState.CANCELLED.value
    for route in session.scalars(
        select(Route).where(Route.document_id == incoming.id, Route.state == RouteState.ACTIVE.value)
    ):
        move_route(route, RouteState.COMPLETED)
    move_document(incoming, DocumentState.FORWARDED)
