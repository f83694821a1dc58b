"""The document register (公文登记簿): an organisation's documents, filtered and a page at a time.

Each entry carries what a clerk reads in a register: title, number, kind, direction, state, urgency, and for
an incoming document the sender's organisation and the number the sender gave it (the receiving
organisation's own ``number`` stays null until it registers one). ``overdue`` and ``next_due_on`` come from
the document's open steps, on the official calendar's today. Newest first, with a cursor over
(created_at, id), so a page costs the same however deep it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from esign.db import among
from esign.errors import InvalidInput
from esign.identity import Actor
from keys.identities import Organisation

from .. import paging
from ..records import Direction, Document, Kind
from ..states import DocumentState
from .calendar import start_of
from .calendar import today as calendar_today
from .model import Dispatch, Step, StepState

MAX_PAGE = 200
MAX_WORDS = 5


@dataclass(frozen=True)
class Filters:
    """What a register query keeps; every filter given must hold (AND)."""

    direction: Direction | None = None
    state: DocumentState | None = None
    kind: Kind | None = None
    number: str | None = None
    """The organisation's own number, or for an incoming document the sender's, exactly."""
    words: tuple[str, ...] = ()
    """Each must occur in the title."""
    sender_organisation_id: str | None = None
    created_from: date | None = None
    """Created on or after this day (Beijing time)."""
    created_to: date | None = None
    """Created on or before this day (Beijing time)."""
    overdue: bool | None = None
    """True: an open step is past its due day; False: none is."""


@dataclass(frozen=True)
class Sender:
    organisation_id: str
    organisation_name: str
    number: str | None
    reply_kind: str | None = None
    """The sender asked for a reply (``requests.ReplyKind``) ..."""
    reply_due_on: date | None = None
    """... by this day."""
    replied_at: datetime | None = None


@dataclass(frozen=True)
class Entry:
    document: Document
    sender: Sender | None
    next_due_on: date | None
    overdue: bool


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None


_source = aliased(Document, name="source")
_sender = aliased(Organisation, name="sender")


def _next_due() -> Any:
    return (
        select(func.min(Step.due_on))
        .where(Step.document_id == Document.id, Step.state == StepState.OPEN.value)
        .correlate(Document)
        .scalar_subquery()
    )


def _query(actor: Actor, filters: Filters, today: date) -> Select[Any]:
    next_due = _next_due().label("next_due_on")
    query = (
        select(
            Document,
            _source.number,
            _sender.id,
            _sender.name,
            Dispatch.reply_kind,
            Dispatch.reply_due_on,
            Dispatch.replied_at,
            next_due,
        )
        .outerjoin(Dispatch, Dispatch.incoming_document_id == Document.id)
        .outerjoin(_source, _source.id == Dispatch.document_id)
        .outerjoin(_sender, _sender.id == _source.organisation_id)
        .where(Document.organisation_id == actor.organisation_id)
    )
    if filters.direction is not None:
        query = query.where(Document.direction == filters.direction.value)
    if filters.state is not None:
        query = query.where(Document.state == filters.state.value)
    if filters.kind is not None:
        query = query.where(Document.kind == filters.kind.value)
    if filters.number is not None:
        query = query.where((Document.number == filters.number) | (_source.number == filters.number))
    for word in filters.words:
        query = query.where(Document.title.contains(word, autoescape=True))
    if filters.sender_organisation_id is not None:
        query = query.where(_source.organisation_id == filters.sender_organisation_id)
    if filters.created_from is not None:
        query = query.where(Document.created_at >= start_of(filters.created_from))
    if filters.created_to is not None:
        query = query.where(Document.created_at < start_of(filters.created_to + timedelta(days=1)))
    if filters.overdue is True:
        query = query.where(_next_due() < today)
    elif filters.overdue is False:
        query = query.where((_next_due().is_(None)) | (_next_due() >= today))
    return query


def search(
    session: Session,
    *,
    actor: Actor,
    filters: Filters = Filters(),
    limit: int = 50,
    cursor: str | None = None,
    today: date | None = None,
) -> Page:
    """The actor's organisation's documents that pass ``filters``, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    if len(filters.words) > MAX_WORDS:
        raise InvalidInput(f"search the title for at most {MAX_WORDS} words")
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        raise InvalidInput("created_from is after created_to")
    day = today or calendar_today()
    query = _query(actor, filters, day)
    if cursor is not None:
        created, document_id = paging.decode(cursor, datetime.fromisoformat, str)
        query = query.where(tuple_(Document.created_at, Document.id) < tuple_(created, document_id))
    rows = session.execute(query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit + 1)).all()
    entries = [
        Entry(
            document=document,
            sender=Sender(sender_id, name, number, kind, reply_due, replied) if sender_id is not None else None,
            next_due_on=next_due,
            overdue=next_due is not None and next_due < day,
        )
        for document, number, sender_id, name, kind, reply_due, replied, next_due in rows[:limit]
    ]
    last = entries[-1].document if len(rows) > limit else None
    return Page(entries, paging.encode(last.created_at.isoformat(), last.id) if last else None)


def senders_of(session: Session, document_ids: Sequence[str]) -> dict[str, Sender]:
    """Who sent each of the incoming documents among ``document_ids``, and the number they gave it."""
    rows = session.execute(
        select(
            Dispatch.incoming_document_id,
            _sender.id,
            _sender.name,
            _source.number,
            Dispatch.reply_kind,
            Dispatch.reply_due_on,
            Dispatch.replied_at,
        )
        .join(_source, _source.id == Dispatch.document_id)
        .join(_sender, _sender.id == _source.organisation_id)
        .where(among(session, Dispatch.incoming_document_id, document_ids))
    )
    return {
        incoming: Sender(sender_id, name, number, kind, due, replied)
        for incoming, sender_id, name, number, kind, due, replied in rows
    }


def sender_of(session: Session, document: Document) -> Sender | None:
    """Who sent an incoming document; None for one that was not dispatched here."""
    return senders_of(session, [document.id]).get(document.id)
