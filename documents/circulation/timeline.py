"""A document's history in one list: steps and opinions, signatures, numbers and seals, dispatches and receipts,
and what each recipient has done with a dispatched copy (``progress``). Entries name people and bodies: ``by``
is the audit label (``official:<id>``), ``by_name`` the official's name; details carry the names of assignees
and organisations beside their ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from esign.identity import Actor
from keys import identities
from keys.identities import Department, Official, Organisation

from .. import revisions
from ..records import CHINA, Document, Revision
from . import progress
from .model import Dispatch, Step, StepEvent, StepState


@dataclass(frozen=True)
class Entry:
    at: datetime
    type: str
    by: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    by_name: str | None = None


_OFFICIAL = "official:"


def _named(session: Session, entries: list[Entry]) -> list[Entry]:
    """``entries`` with officials', departments' and organisations' names beside their ids."""
    officials = {e.by.removeprefix(_OFFICIAL) for e in entries if e.by and e.by.startswith(_OFFICIAL)}
    officials |= {e.detail["official_id"] for e in entries if e.detail.get("official_id")}
    departments = {e.detail["department_id"] for e in entries if e.detail.get("department_id")}
    organisations = {e.detail["to_organisation"] for e in entries if e.detail.get("to_organisation")}
    names = {
        **identities.names(session, Official, officials),
        **identities.names(session, Department, departments),
        **identities.names(session, Organisation, organisations),
    }
    named = []
    for e in entries:
        detail = dict(e.detail)
        for key in ("official_id", "department_id", "to_organisation"):
            if detail.get(key):
                detail[key.removesuffix("_id") + "_name"] = names.get(detail[key])
        by_name = names.get(e.by.removeprefix(_OFFICIAL)) if e.by and e.by.startswith(_OFFICIAL) else None
        named.append(Entry(e.at, e.type, e.by, detail, by_name))
    return named


def timeline(session: Session, *, actor: Actor, document_id: str) -> list[Entry]:
    document = revisions.get_document(session, actor=actor, document_id=document_id)
    entries: list[Entry] = []
    for revision in session.scalars(select(Revision).where(Revision.document_id == document.id)):
        entries.append(
            Entry(
                revision.created_at,
                f"revision.{revision.reason}",
                revision.created_by,
                {"seq": revision.seq, "sha256": revision.sha256, **revision.detail},
            )
        )
    for step in session.scalars(select(Step).where(Step.document_id == document.id)):
        assigned = {
            "official_id": step.assignee_official_id,
            "department_id": step.assignee_department_id,
            "role": step.assignee_role,
        }
        entries.append(
            Entry(
                step.opened_at,
                "step.opened",
                None,
                {
                    "step_id": step.id,
                    "kind": step.kind,
                    "stage": step.stage,
                    "due_on": step.due_on.isoformat(),
                    **assigned,
                },
            )
        )
        if step.completed_at is not None and step.state != StepState.REASSIGNED.value:
            entries.append(
                Entry(
                    step.completed_at,
                    f"step.{step.outcome}",
                    step.completed_by,
                    {
                        "step_id": step.id,
                        "kind": step.kind,
                        "stage": step.stage,
                        "opinion": step.opinion,
                        "revision": step.revision_seq,
                        "state": step.state,
                        "on_time": step.completed_on <= step.due_on if step.completed_on else None,
                    },
                )
            )
    for event in session.scalars(select(StepEvent).where(StepEvent.document_id == document.id)):
        detail = {"step_id": event.step_id, "text": event.text, **event.detail}
        entries.append(Entry(event.at, f"step.{event.kind}", event.by, detail))
    dispatches = session.scalars(
        select(Dispatch).where(or_(Dispatch.document_id == document.id, Dispatch.incoming_document_id == document.id))
    ).all()
    for dispatch in dispatches:
        entries.append(Entry(dispatch.dispatched_at, "dispatch.sent", None, _dispatch_detail(dispatch)))
        if dispatch.received_at is not None:
            entries.append(
                Entry(dispatch.received_at, "dispatch.receipt", dispatch.received_by, _dispatch_detail(dispatch))
            )
    for dispatch in dispatches:
        if dispatch.forwarded_to_id is not None:
            moved = session.get_one(Dispatch, dispatch.forwarded_to_id)
            forwarded = _dispatch_detail(dispatch) | {
                "forwarded_to": moved.recipient_organisation_id,
                "forwarded_to_name": identities.names(session, Organisation, [moved.recipient_organisation_id]).get(
                    moved.recipient_organisation_id
                ),
                "reason": dispatch.forward_reason,
            }
            entries.append(Entry(moved.dispatched_at, "dispatch.forwarded", None, forwarded))
    sent = [d for d in dispatches if d.document_id == document.id]
    for dispatch in sent:
        if dispatch.replied_at is not None:
            on_time = (
                dispatch.reply_due_on is None or dispatch.replied_at.astimezone(CHINA).date() <= dispatch.reply_due_on
            )
            reply = {"reply_document": dispatch.reply_document_id, "on_time": on_time}
            entries.append(Entry(dispatch.replied_at, "request.replied", None, _dispatch_detail(dispatch) | reply))
    answer = session.scalar(select(Document).where(Document.answer_to_id == document.id))
    if answer is not None:
        detail = {"answer_document_id": answer.id, "title": answer.title}
        entries.append(Entry(answer.created_at, "request.answered", answer.created_by, detail))
    for at, kind, dispatch in progress.seen_by_sender(session, sent):
        entries.append(Entry(at, kind, None, _dispatch_detail(dispatch)))
    return _named(session, sorted(entries, key=lambda e: (e.at, e.type)))


def _dispatch_detail(dispatch: Dispatch) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "from_document": dispatch.document_id,
        "to_organisation": dispatch.recipient_organisation_id,
        "incoming_document": dispatch.incoming_document_id,
    }
    if dispatch.reply_kind is not None:
        detail |= {
            "reply_kind": dispatch.reply_kind,
            "reply_due_on": dispatch.reply_due_on.isoformat() if dispatch.reply_due_on else None,
        }
    return detail
