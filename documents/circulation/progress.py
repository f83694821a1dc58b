"""What the sender of a dispatched document learns of its handling at each recipient: received, registered,
assigned, handled and closed, as webhooks to the sender's organisation and on the sender's timeline. Only the
kind of step and its time cross over, never who acted or their opinion: those stay the recipient's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import outbox

from ..records import Direction, Document
from .model import Dispatch, Step, StepKind, StepState

EVENTS: dict[StepKind, str] = {
    StepKind.REGISTRATION: "registered",
    StepKind.INSTRUCTION: "assigned",
    StepKind.HANDLING: "handled",
    StepKind.CLOSURE: "closed",
}
"""The recipient's steps whose completion the sender sees, and the event each is (``recipient.<event>``). The
receipt (签收) has its own: ``receipt.received`` and the timeline's ``dispatch.receipt``."""


def report(session: Session, *, step: Step, document: Document) -> None:
    """Tell the sender, if ``document`` came by dispatch and the done ``step`` is one the sender sees."""
    event = EVENTS.get(StepKind(step.kind))
    if event is None or document.direction != Direction.INCOMING.value:
        return
    dispatch = session.scalar(select(Dispatch).where(Dispatch.incoming_document_id == document.id))
    if dispatch is None:
        return
    outbox.emit(
        session,
        organisation_id=dispatch.organisation_id,
        type=f"recipient.{event}",
        subject=f"document:{dispatch.document_id}",
        payload={
            "document_id": dispatch.document_id,
            "recipient_organisation_id": dispatch.recipient_organisation_id,
            "at": step.completed_at.isoformat() if step.completed_at else None,
        },
    )


def seen_by_sender(session: Session, dispatches: Sequence[Dispatch]) -> list[tuple[datetime, str, Dispatch]]:
    """(when, ``recipient.<event>``, dispatch) for every step of the recipients' copies the sender sees."""
    by_incoming = {d.incoming_document_id: d for d in dispatches}
    if not by_incoming:
        return []
    done = session.scalars(
        select(Step).where(
            Step.document_id.in_(by_incoming),
            Step.state == StepState.DONE.value,
            Step.kind.in_([k.value for k in EVENTS]),
        )
    )
    return [
        (step.completed_at, f"recipient.{EVENTS[StepKind(step.kind)]}", by_incoming[step.document_id])
        for step in done
        if step.completed_at is not None
    ]
