"""Notifications (通知): what an official is told about their steps, in the app (the bell) and, when SMTP is
configured, by e-mail (:mod:`documents.circulation.mail`).

They are made by a fan-out of the transactional outbox (:func:`esign.outbox.subscribe`), in the transaction of
the change they announce: a step assigned to an official, one returned to them, an urge (催办), a reminder that a
step falls due soon, its escalation once overdue, and a reply to a request the official drafted. So nothing
announced is lost, and nothing is announced for a change that rolled back. A step assigned to a department or
a role (no official yet) notifies no one.

Every query is scoped by the actor's organisation and the actor's own official id: an official sees and marks
only their own.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ForeignKey,
    Index,
    Insert,
    Integer,
    String,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from documents.records import Document
from esign import outbox
from esign.db import Base, table_of
from esign.errors import Forbidden
from esign.identity import Actor
from esign.ids import new_id, now
from esign.outbox import Emitted

MAX_MESSAGE = 500
PAGE = 50


class NotificationKind(enum.StrEnum):
    ASSIGNED = "assigned"
    RETURNED = "returned"
    URGED = "urged"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    REPLIED = "replied"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient", "recipient_id", "created_at"),
        Index(
            "ix_notifications_unread",
            "recipient_id",
            postgresql_where=text("read_at IS NULL"),
            sqlite_where=text("read_at IS NULL"),
        ),
        Index(
            "ix_notifications_email_due",
            "email_next_at",
            postgresql_where=text("email_next_at IS NOT NULL"),
            sqlite_where=text("email_next_at IS NOT NULL"),
        ),
    )

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(String(36), doc="the official told")
    kind: Mapped[str] = mapped_column(String(20), doc="a NotificationKind")
    document_id: Mapped[str] = mapped_column(String(36))
    step_id: Mapped[str | None] = mapped_column(String(36))
    message: Mapped[str | None] = mapped_column(String(MAX_MESSAGE), doc="an urge's words")
    event_id: Mapped[str] = mapped_column(String(36), doc="the outbox event it came from")
    created_at: Mapped[datetime] = mapped_column(default=now)
    read_at: Mapped[datetime | None]
    email_next_at: Mapped[datetime | None] = mapped_column(doc="when to (re)try the e-mail; None: sent or given up")
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    emailed_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(String(500))


_TABLE = table_of(Notification)
_DOCUMENTS = table_of(Document)

_STEP_EVENTS: dict[str, tuple[NotificationKind, str]] = {
    "step.assigned": (NotificationKind.ASSIGNED, "official_id"),
    "step.urged": (NotificationKind.URGED, "assignee_official_id"),
    "step.due_soon": (NotificationKind.DUE_SOON, "official_id"),
    "step.overdue": (NotificationKind.OVERDUE, "official_id"),
}
"""The step events that notify, and the payload field naming the official told."""
_REPLIED = "request.replied"
_OFFICIAL = "official:"


def _kind(event: Emitted) -> tuple[NotificationKind, str | None] | None:
    found = _STEP_EVENTS.get(event.type)
    if found is None:
        return None
    kind, field = found
    if kind is NotificationKind.ASSIGNED and event.payload.get("returned"):
        kind = NotificationKind.RETURNED
    recipient = event.payload.get(field)
    return kind, recipient if isinstance(recipient, str) else None


def fan_out(session: Session, events: Sequence[tuple[Emitted, str | None]]) -> int:
    """One notification per event that tells an official something (called by :func:`esign.outbox.emit_many`)."""
    stamp = now()
    rows: list[dict[str, Any]] = []
    replied: list[Emitted] = []
    for event, only in events:
        if only is not None:
            continue
        if event.type == _REPLIED:
            replied.append(event)
            continue
        found = _kind(event)
        if found is None or found[1] is None:
            continue
        kind, recipient = found
        message = event.payload.get("message")
        rows.append(
            _values(event, kind=kind, recipient=recipient, step_id=event.payload.get("step_id"), stamp=stamp)
            | {"message": message[:MAX_MESSAGE] if isinstance(message, str) else None}
        )
    if replied:
        authors = dict(
            session.execute(
                select(Document.id, Document.created_by).where(
                    Document.id.in_({str(e.payload.get("document_id")) for e in replied})
                )
            ).all()
        )
        for event in replied:
            author = authors.get(str(event.payload.get("document_id")), "")
            if author.startswith(_OFFICIAL):
                recipient = author[len(_OFFICIAL) :]
                told = _values(event, kind=NotificationKind.REPLIED, recipient=recipient, step_id=None, stamp=stamp)
                rows.append(told | {"message": None})
    if rows:
        session.execute(insert(_TABLE), rows)
    return len(rows)


def _values(
    event: Emitted, *, kind: NotificationKind, recipient: str | None, step_id: Any, stamp: datetime
) -> dict[str, Any]:
    return {
        "organisation_id": event.organisation_id,
        "id": new_id(),
        "recipient_id": recipient,
        "kind": kind.value,
        "document_id": str(event.payload.get("document_id")),
        "step_id": step_id if isinstance(step_id, str) else None,
        "event_id": event.id,
        "created_at": stamp,
        "email_next_at": stamp,
        "email_attempts": 0,
    }


def fan_out_selected(events: CTE, *, event_type: str, stamp: datetime) -> Insert | None:
    """:func:`fan_out` as one ``INSERT ... SELECT`` over the freshly written events (PostgreSQL: the sweeps'
    reminders and escalations); None for a type that notifies no one that way."""
    found = _STEP_EVENTS.get(event_type)
    if found is None:
        return None
    kind, field = found
    payload = events.c.payload
    recipient = payload[field].as_string()
    return insert(_TABLE).from_select(
        [
            "organisation_id",
            "id",
            "recipient_id",
            "kind",
            "document_id",
            "step_id",
            "event_id",
            "created_at",
            "email_next_at",
            "email_attempts",
        ],
        select(
            events.c.organisation_id,
            func.gen_random_uuid().cast(String),
            recipient,
            literal(kind.value, String),
            payload["document_id"].as_string(),
            payload["step_id"].as_string(),
            events.c.id,
            literal(stamp, _TABLE.c.created_at.type),
            literal(stamp, _TABLE.c.created_at.type),
            literal(0),
        ).where(recipient.is_not(None)),
    )


outbox.subscribe(outbox.FanOut(rows=fan_out, selected=fan_out_selected))


# --- reading and marking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    notification: Notification
    title: str


def _official(actor: Actor) -> str:
    if actor.official_id is None:
        raise Forbidden("notifications are an official's own")
    return actor.official_id


def _own(actor: Actor) -> list[Any]:
    return [Notification.organisation_id == actor.organisation_id, Notification.recipient_id == _official(actor)]


def list_notifications(session: Session, *, actor: Actor, unread_only: bool = False, limit: int = PAGE) -> list[Listed]:
    """The actor's notifications, newest first, each with its document's title."""
    query = (
        select(Notification, Document.title)
        .outerjoin(
            Document,
            (Document.id == Notification.document_id) & (Document.organisation_id == Notification.organisation_id),
        )
        .where(*_own(actor))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return [Listed(notification=n, title=title or "") for n, title in session.execute(query).all()]


def unread_count(session: Session, *, actor: Actor) -> int:
    if actor.official_id is None:
        return 0
    unread = select(func.count()).select_from(Notification).where(*_own(actor), Notification.read_at.is_(None))
    return int(session.scalar(unread) or 0)


def mark_read(session: Session, *, actor: Actor, ids: Sequence[str] | None) -> int:
    """Mark the actor's notifications ``ids`` (all of them when None) read; how many were unread. Ids that are
    not the actor's are ignored, as are those read already."""
    query = update(Notification).where(*_own(actor), Notification.read_at.is_(None)).values(read_at=now())
    if ids is not None:
        # An id with a NUL names nothing, and PostgreSQL would refuse the statement that looked for it.
        wanted = [i for i in ids if "\x00" not in i][: PAGE * 4]
        if not wanted:
            return 0
        query = query.where(Notification.id.in_(wanted))
    return int(session.execute(query.execution_options(synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]
