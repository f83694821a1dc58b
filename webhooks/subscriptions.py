"""Subscriptions: create, list, disable; the delivery log, redelivery and test events.

Every query is scoped by the actor's organisation: another organisation's id is simply not found. Idempotent
creation is the caller's (``api/idempotent.py``): these functions know nothing of keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session, selectinload

from esign import audit, outbox
from esign.cipher import SecretCipher
from esign.errors import NotFound
from esign.identity import Actor
from esign.ids import new_id, now
from esign.scoped import get_scoped

from .errors import DeliveryPending, InvalidWebhook, SubscriptionDisabled
from .events import new_secret, secret_context
from .model import (
    MAX_ACTIVE_SUBSCRIPTIONS,
    MAX_PATTERNS,
    MAX_URL_LENGTH,
    PATTERN,
    TEST_EVENT,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from .outbound import check_host


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str
    """The signing secret, shown at creation only; not retrievable later."""


def create_subscription(
    session: Session,
    *,
    actor: Actor,
    url: str,
    event_types: Sequence[str],
    cipher: SecretCipher,
    allow_private: bool = False,
) -> CreatedSubscription:
    """Subscribe ``url`` to events matching ``event_types``; the returned secret is not retrievable later.

    A URL whose host is a loopback, private, link-local or reserved address is refused unless
    ``allow_private`` (the operator's ``webhooks_allow_private``): see :mod:`webhooks.outbound`."""
    actor.require_admin()
    organisation_id = actor.organisation_id
    url = _valid_url(url, allow_private=allow_private)
    patterns = _valid_patterns(event_types)
    active = session.scalar(
        select(func.count()).where(
            WebhookSubscription.organisation_id == organisation_id, WebhookSubscription.active.is_(True)
        )
    )
    if (active or 0) >= MAX_ACTIVE_SUBSCRIPTIONS:
        raise InvalidWebhook(f"an organisation has at most {MAX_ACTIVE_SUBSCRIPTIONS} active subscriptions")
    secret = new_secret()
    subscription = WebhookSubscription(
        organisation_id=organisation_id,
        id=new_id(),
        url=url,
        event_types=patterns,
        active=True,
        created_by=actor.label,
        created_at=now(),
    )
    subscription.encrypted_secret = cipher.encrypt(secret, context=secret_context(organisation_id, subscription.id))
    session.add(subscription)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="webhook.created",
        subject=f"webhook:{subscription.id}",
        chain=organisation_id,
        payload={"url": url, "event_types": patterns},
    )
    return CreatedSubscription(subscription=subscription, secret=secret)


def list_subscriptions(session: Session, *, actor: Actor) -> list[WebhookSubscription]:
    actor.require_admin()
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.organisation_id == actor.organisation_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return list(session.scalars(query))


def get_subscription(session: Session, *, actor: Actor, subscription_id: str) -> WebhookSubscription:
    """Administrators only, as everything here that reads or changes a subscription goes through this."""
    actor.require_admin()
    return get_scoped(
        session,
        WebhookSubscription,
        scope=actor,
        id=(actor.organisation_id, subscription_id),
        what="webhook subscription",
    )


def disable_subscription(session: Session, *, actor: Actor, subscription_id: str) -> WebhookSubscription:
    """Stop delivering to it: no attempt starts after this commits (one already in flight may still land).
    Its pending deliveries are dead-lettered when next due. Disabling twice changes nothing."""
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    if not subscription.active:
        return subscription
    subscription.active = False
    subscription.disabled_at = now()
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="webhook.disabled",
        subject=f"webhook:{subscription.id}",
        chain=actor.organisation_id,
    )
    return subscription


def list_deliveries(
    session: Session,
    *,
    actor: Actor,
    subscription_id: str,
    status: DeliveryStatus | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest first, with their events loaded."""
    get_subscription(session, actor=actor, subscription_id=subscription_id)
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.organisation_id == actor.organisation_id, WebhookDelivery.subscription_id == subscription_id
        )
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .options(selectinload(WebhookDelivery.event))
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    return list(session.scalars(query))


def redeliver(session: Session, *, actor: Actor, subscription_id: str, delivery_id: str) -> WebhookDelivery:
    """Queue a dead (or delivered) delivery again, now, with a fresh budget of attempts."""
    organisation_id = actor.organisation_id
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    delivery = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.organisation_id == organisation_id,
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.subscription_id == subscription_id,
        )
        .with_for_update()
        .options(selectinload(WebhookDelivery.event))
    ).one_or_none()
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id} of webhook subscription {subscription_id}")
    if not subscription.active:
        raise SubscriptionDisabled("the subscription is disabled")
    if delivery.status == DeliveryStatus.PENDING:
        raise DeliveryPending("the delivery is already queued or in flight")
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now()
    delivery.lease_id = None
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="webhook.redelivered",
        subject=f"webhook:{subscription_id}",
        chain=organisation_id,
        payload={"delivery_id": delivery.id, "event_id": delivery.event_id},
    )
    return delivery


def send_test(session: Session, *, actor: Actor, subscription_id: str) -> WebhookDelivery:
    """Emit a ``webhook.test`` event to this subscription alone, whatever types it chose."""
    organisation_id = actor.organisation_id
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    if not subscription.active:
        raise SubscriptionDisabled("the subscription is disabled")
    event = outbox.emit(
        session,
        organisation_id=organisation_id,
        type=TEST_EVENT,
        subject=f"webhook:{subscription.id}",
        payload={"subscription_id": subscription.id, "requested_by": actor.label},
        subscription_id=subscription.id,
    )
    return session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.organisation_id == organisation_id,
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.event_id == event.id,
        )
        .options(selectinload(WebhookDelivery.event))
    ).one()


def _valid_url(url: str, *, allow_private: bool) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhook(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:
        raise InvalidWebhook(f"the URL is not valid: {e}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidWebhook("the URL must be absolute, with http or https")
    if parsed.fragment:
        raise InvalidWebhook("the URL must not have a fragment")
    check_host(parsed.host, allow_private=allow_private)
    return url


def _valid_patterns(event_types: Sequence[str]) -> list[str]:
    patterns = list(dict.fromkeys(p.strip() for p in event_types))
    if not patterns or len(patterns) > MAX_PATTERNS:
        raise InvalidWebhook(f"give 1 to {MAX_PATTERNS} event types")
    for pattern in patterns:
        if len(pattern) > outbox.MAX_TYPE_LENGTH or not PATTERN.fullmatch(pattern):
            raise InvalidWebhook(
                f"event type {pattern!r}: use a dotted type (document.signed), a prefix (document.*) or *"
            )
    return patterns
