"""The deliveries of freshly emitted outbox events, added in the emitting transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    CTE,
    Insert,
    String,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from esign import outbox
from esign.db import table_of
from esign.ids import new_id, now
from esign.outbox import Emitted

from .events import matches, patterns_for
from .model import DeliveryStatus, WebhookDelivery, WebhookSubscription


def fan_out(session: Session, events: Sequence[tuple[Emitted, str | None]]) -> int:
    """Add the deliveries of freshly emitted events (called by :func:`esign.outbox.emit_many`).

    Each event goes to the active subscriptions of its organisation whose patterns match it, or, when
    a subscription id comes with it, to that subscription alone. Only subscriptions committed before this
    query can match, so one created after the event never receives it.
    """
    organisations = {event.organisation_id for event, _ in events}
    subscriptions = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.organisation_id.in_(organisations), WebhookSubscription.active.is_(True)
        )
    ).all()
    by_organisation: dict[str, list[WebhookSubscription]] = {}
    for subscription in subscriptions:
        by_organisation.setdefault(subscription.organisation_id, []).append(subscription)
    stamp = now()
    rows = []
    for event, only in events:
        for subscription in by_organisation.get(event.organisation_id, ()):
            wanted = (
                subscription.id == only
                if only is not None
                else any(matches(p, event.type) for p in subscription.event_types)
            )
            if wanted:
                rows.append(
                    {
                        "organisation_id": event.organisation_id,
                        "id": new_id(),
                        "subscription_id": subscription.id,
                        "event_id": event.id,
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": stamp,
                        "created_at": stamp,
                    }
                )
    if rows:
        session.execute(insert(table_of(WebhookDelivery)), rows)
    return len(rows)


def fan_out_selected(events: CTE, *, event_type: str, stamp: datetime) -> Insert:
    """:func:`fan_out` as one ``INSERT ... SELECT`` (PostgreSQL): the deliveries of ``events``, a CTE of the
    freshly inserted events' ``organisation_id`` and ``id``, all of type ``event_type``, to the active
    subscriptions of their organisations with a pattern among :func:`patterns_for` the type. A subscription's
    patterns are stored as a JSON array of validated names (no quotes, no escapes), so a pattern is among
    them exactly when its quoted form is in the array's text."""
    subscriptions = table_of(WebhookSubscription)
    listed = cast(subscriptions.c.event_types, String)
    table = table_of(WebhookDelivery)
    return insert(table).from_select(
        ["organisation_id", "id", "subscription_id", "event_id", "status", "attempts", "next_attempt_at", "created_at"],
        select(
            events.c.organisation_id,
            func.gen_random_uuid().cast(String),
            subscriptions.c.id,
            events.c.id,
            literal(DeliveryStatus.PENDING.value, String),
            literal(0),
            literal(stamp, table.c.created_at.type),
            literal(stamp, table.c.created_at.type),
        )
        .join(subscriptions, subscriptions.c.organisation_id == events.c.organisation_id)
        .where(
            subscriptions.c.active.is_(True),
            or_(*(listed.contains(f'"{p}"', autoescape=True) for p in patterns_for(event_type))),
        ),
    )


outbox.subscribe(outbox.FanOut(rows=fan_out, selected=fan_out_selected))
