"""Requests between organisations (函询, 征求意见, 送审): a dispatch that expects a reply by a deadline.

A dispatch step sends a request when it names a ``reply_kind``: each recipient must reply within the kind's
working days (徐汇区's rule: 2 for information, 5 for comments, 7 for a review decision, or any number given),
counted from the day the document reaches it, on the recipient's own calendar. A reply is an outgoing
document of the recipient, dispatched with ``in_reply_to`` naming the request it received: it goes back to
the sender only, and is linked to the request. A ``replies`` step on the sender's route waits for them and
completes by itself once enough have come (all of them, or ``replies_needed``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import outbox
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.ids import now

from .. import revisions
from ..errors import StateConflict
from ..records import Document
from . import calendar
from .model import Dispatch, Step, StepKind, StepState


class ReplyKind(enum.StrEnum):
    INFORMATION = "information"
    """提供信息: 2 working days."""
    COMMENTS = "comments"
    """征求意见: 5 working days."""
    REVIEW = "review"
    """审核、决定: 7 working days."""
    OTHER = "other"
    """Any other request, with its own number of days."""


REPLY_DAYS: dict[ReplyKind, int] = {ReplyKind.INFORMATION: 2, ReplyKind.COMMENTS: 5, ReplyKind.REVIEW: 7}


@dataclass(frozen=True)
class ReplyRequest:
    kind: ReplyKind
    days: int | None = None
    """Working days to reply; the kind's if None (an ``other`` request must give them)."""

    @property
    def working_days(self) -> int:
        if self.days is not None:
            return self.days
        if self.kind is ReplyKind.OTHER:
            raise InvalidInput("a request of kind other needs reply_days")
        return REPLY_DAYS[self.kind]


def reply_due(session: Session, *, recipient_id: str, request: ReplyRequest, received_on: date) -> date:
    """The day the recipient must reply by: ``request``'s working days after it received the document, on the
    recipient's calendar (its own overrides on top of the official one)."""
    return calendar.load(session, organisation_id=recipient_id).add_working_days(received_on, request.working_days)


def answered(session: Session, *, actor: Actor, in_reply_to: str, recipients: list[str]) -> Dispatch:
    """The request the actor's organisation received as document ``in_reply_to``, which a reply now answers;
    the reply goes back to the request's sender and nowhere else."""
    incoming: Document = revisions.get_document(session, actor=actor, document_id=in_reply_to)
    request = session.scalar(select(Dispatch).where(Dispatch.incoming_document_id == incoming.id).with_for_update())
    if request is None or request.reply_kind is None:
        raise InvalidInput(f"document {incoming.id} is not a request this organisation received")
    if request.replied_at is not None:
        raise StateConflict(f"the request {incoming.title!r} was replied to already")
    if request.forwarded_to_id is not None:
        raise StateConflict(f"the request {incoming.title!r} was forwarded; the organisation it went to replies")
    if recipients and recipients != [request.organisation_id]:
        raise InvalidInput("a reply goes to the organisation that sent the request, and only to it")
    return request


def record_reply(session: Session, *, request: Dispatch, reply: Dispatch) -> None:
    """Link the reply to its request, tell the sender, and let its waiting ``replies`` step count it."""
    request.replied_at = now()
    request.reply_document_id = reply.incoming_document_id
    reply.in_reply_to_id = request.id
    on_time = calendar.today() <= request.reply_due_on if request.reply_due_on else None
    outbox.emit(
        session,
        organisation_id=request.organisation_id,
        type="request.replied",
        subject=f"document:{request.document_id}",
        payload={
            "document_id": request.document_id,
            "recipient_organisation_id": request.recipient_organisation_id,
            "reply_document_id": reply.incoming_document_id,
            "on_time": on_time,
        },
    )


def waiting_step(session: Session, *, document_id: str) -> Step | None:
    """The sender document's open ``replies`` step, if its route waits on replies now."""
    return session.scalar(
        select(Step)
        .where(
            Step.document_id == document_id,
            Step.kind == StepKind.REPLIES.value,
            Step.state == StepState.OPEN.value,
        )
        .with_for_update()
    )


def enough(session: Session, *, document_id: str, needed: int | None) -> bool:
    """Whether the document's requests have the replies a ``replies`` step waits for (all when ``needed`` is
    None)."""
    requests = session.scalars(
        select(Dispatch).where(
            Dispatch.document_id == document_id,
            Dispatch.reply_kind.is_not(None),
            Dispatch.forwarded_to_id.is_(None),
        )
    ).all()
    replied = sum(r.replied_at is not None for r in requests)
    return replied >= (len(requests) if needed is None else min(needed, len(requests)))


def awaiting_reply(session: Session, *, actor: Actor, limit: int = 200) -> list[tuple[Document, date | None]]:
    """The requests the actor's organisation received and has yet to reply to (not forwarded on), as it received
    them, with the day each reply is due; soonest due first."""
    rows = session.execute(
        select(Document, Dispatch.reply_due_on)
        .join(Dispatch, Dispatch.incoming_document_id == Document.id)
        .where(
            Document.organisation_id == actor.organisation_id,
            Dispatch.recipient_organisation_id == actor.organisation_id,
            Dispatch.reply_kind.is_not(None),
            Dispatch.replied_at.is_(None),
            Dispatch.forwarded_to_id.is_(None),
        )
        .order_by(Dispatch.reply_due_on, Document.id)
        .limit(limit)
    ).all()
    return [(document, due) for document, due in rows]
