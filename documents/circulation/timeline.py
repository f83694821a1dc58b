"""A document's history in one list: steps and opinions, signatures, numbers and seals, dispatches and receipts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from esign.identity import Actor

from .. import revisions
from ..records import Revision
from .model import Dispatch, Step


@dataclass(frozen=True)
class Entry:
    at: datetime
    type: str
    by: str | None
    detail: dict[str, Any] = field(default_factory=dict)


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
        if step.completed_at is not None:
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
    for dispatch in session.scalars(
        select(Dispatch).where(or_(Dispatch.document_id == document.id, Dispatch.incoming_document_id == document.id))
    ):
        detail = {
            "from_document": dispatch.document_id,
            "to_organisation": dispatch.recipient_organisation_id,
            "incoming_document": dispatch.incoming_document_id,
        }
        entries.append(Entry(dispatch.dispatched_at, "dispatch.sent", None, detail))
        if dispatch.received_at is not None:
            entries.append(Entry(dispatch.received_at, "dispatch.receipt", dispatch.received_by, detail))
    return sorted(entries, key=lambda e: (e.at, e.type))
