"""The transactional outbox: events written in the same transaction as the change they announce.

A service that changes something calls :func:`emit` (or :func:`emit_many`) with the caller's session. The
event row and, through the fan-outs registered with :func:`subscribe`, one webhook delivery per matching
subscription are added to that session and nothing is committed here, so the change, its event and its
deliveries commit together or not at all: an event of a transaction that rolls back never existed, and a
committed change always has its event.

Fan-out happens here, in the emitting transaction, rather than in a later pass over the outbox, because it
fixes who receives an event without a cursor or a clock: the subscriptions that are active and committed
when the event is written receive it, and a subscription created afterwards never does. (A poller that
derives deliveries later would have to follow commit order, which PostgreSQL ids and timestamps do not
give.) Delivery itself happens later, in the worker (:mod:`webhooks.delivery`).

The kernel knows nothing of webhooks: the ``webhooks`` package registers its fan-out when it is imported,
as every entry point that serves or works does (``api.app``, ``api.cli``).

Event types are dotted names (``document.signed``, ``step.overdue``); any such name can be emitted, and
subscribers pick types with patterns (see :func:`webhooks.events.matches`). Every table is keyed by
(organisation_id, id), so that it can be distributed by organisation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Insert, Select, String, func, insert, literal, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign.db import Base, table_of
from esign.ids import new_id, now

EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
"""Dotted lowercase names with at least two parts, e.g. ``document.signed``."""
MAX_TYPE_LENGTH = 100


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id, doc="also the public event id")
    type: Mapped[str] = mapped_column(String(MAX_TYPE_LENGTH))
    subject: Mapped[str] = mapped_column(String(255), doc="what the event is about, e.g. document:<id>")
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)


@dataclass(frozen=True)
class Event:
    """An event to emit; :func:`emit_many` writes several in one go."""

    organisation_id: str
    type: str
    """A dotted name such as ``document.signed``."""
    subject: str
    """What the event is about, as ``kind:id`` (``document:<id>``, ``step:<id>``)."""
    payload: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts; receivers get them as ``data``."""
    subscription_id: str | None = None
    """Deliver to this subscription only, whatever types it chose (``webhook.test``); None: every match."""


@dataclass(frozen=True, slots=True)
class Emitted:
    """An event as written to the outbox: what :func:`emit` and :func:`emit_many` return."""

    organisation_id: str
    id: str
    type: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime


def emit(
    session: Session,
    *,
    organisation_id: str,
    type: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    subscription_id: str | None = None,
) -> Emitted:
    """Add an event and its webhook deliveries to the caller's transaction (flushed, never committed).

    ``subscription_id`` restricts delivery to that one subscription (of the same organisation); it is
    how ``webhook.test`` reaches only the endpoint being tried.
    """
    event = Event(
        organisation_id=organisation_id,
        type=type,
        subject=subject,
        payload=payload or {},
        subscription_id=subscription_id,
    )
    return emit_many(session, [event])[0]


def emit_many(session: Session, events: Sequence[Event]) -> list[Emitted]:
    """:func:`emit` for a batch (a sweep's reminders): one query for the subscriptions of all of them.

    Written with a Core ``INSERT`` of plain rows, not ORM objects: a sweep emits thousands a second, and the
    unit of work's bookkeeping per object cost more than everything else the event needs."""
    stamp = now()
    rows = [_row(event, stamp) for event in events]
    if not rows:
        return []
    session.execute(
        insert(table_of(OutboxEvent)),
        [
            {
                "organisation_id": r.organisation_id,
                "id": r.id,
                "type": r.type,
                "subject": r.subject,
                "payload": r.payload,
                "created_at": r.created_at,
            }
            for r in rows
        ],
    )
    emitted = [(row, event.subscription_id) for row, event in zip(rows, events, strict=True)]
    for fan_out in _fan_outs:
        fan_out.rows(session, emitted)
    return rows


def emit_selected(
    session: Session, *, type: str, rows: Select[Any], also: Callable[[CTE], Insert] | None = None
) -> int:
    """:func:`emit_many` for events the database can describe itself: one event of ``type`` per row of
    ``rows``, whose columns are ``organisation_id``, ``subject`` and ``payload`` (a JSON object built in the
    query, see :mod:`esign.sqljson`); the number of events.

    On PostgreSQL this is one ``INSERT ... SELECT`` that also fans the events out to their deliveries
    (:attr:`FanOut.selected`), so a sweep's thousands of events never travel to Python and
    back. Elsewhere the rows are read and emitted as :func:`emit_many` does.

    ``also`` (PostgreSQL only): another INSERT made from the same rows in the same statement, so that what
    they are read from is read once.
    """
    _check_type(type)
    if session.get_bind().dialect.name != "postgresql":
        found = session.execute(rows).all()
        events = [
            Event(organisation_id=r.organisation_id, type=type, subject=r.subject, payload=r.payload) for r in found
        ]
        return len(emit_many(session, events))
    table = table_of(OutboxEvent)
    source = rows.cte("source")
    stamp = now()
    written = (
        insert(table)
        .from_select(
            ["organisation_id", "id", "type", "subject", "payload", "created_at"],
            select(
                source.c.organisation_id,
                func.gen_random_uuid().cast(String),
                literal(type, String),
                source.c.subject,
                source.c.payload,
                literal(stamp, table.c.created_at.type),
            ),
        )
        .returning(table.c.organisation_id, table.c.id, table.c.subject, table.c.payload)
        .cte("events")
    )
    counted = select(func.count()).select_from(written)
    for n, fan_out in enumerate(_fan_outs):
        selected = fan_out.selected(written, event_type=type, stamp=stamp)
        if selected is not None:
            counted = counted.add_cte(selected.cte(f"fan_out_{n}"))
    if also is not None:
        counted = counted.add_cte(also(source).cte("also"))
    return int(session.execute(counted).scalar_one())


@dataclass(frozen=True)
class FanOut:
    """What turns freshly written events into deliveries, in the emitting transaction.

    ``rows`` takes the events (each with the one subscription it is meant for, or None for every match) and
    writes their deliveries; ``selected`` builds the same as one ``INSERT ... SELECT`` over a CTE of the new
    events' ``organisation_id``, ``id``, ``subject`` and ``payload``, all of ``event_type`` (PostgreSQL), or None
    when no event of that type fans out there."""

    rows: Callable[[Session, Sequence[tuple[Emitted, str | None]]], int]
    selected: Callable[..., Insert | None]


_fan_outs: list[FanOut] = []


def subscribe(fan_out: FanOut) -> None:
    """Register a fan-out; registering the same one again changes nothing."""
    if fan_out not in _fan_outs:
        _fan_outs.append(fan_out)


def _check_type(type: str) -> None:
    if len(type) > MAX_TYPE_LENGTH or not EVENT_TYPE.fullmatch(type):
        raise ValueError(f"event type {type!r} is not a dotted lowercase name such as document.signed")


def _row(event: Event, stamp: datetime) -> Emitted:
    _check_type(event.type)
    if not event.organisation_id or not event.subject:
        raise ValueError("an event needs an organisation and a subject")
    try:
        # A round trip through JSON stores exactly what receivers will be sent, and fails here, inside the
        # emitting transaction, rather than in the worker.
        payload = json.loads(json.dumps(dict(event.payload), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"the payload of {event.type} is not JSON: {e}") from None
    return Emitted(
        organisation_id=event.organisation_id,
        id=new_id(),
        type=event.type,
        subject=event.subject,
        payload=payload,
        created_at=stamp,
    )
