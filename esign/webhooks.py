"""Webhook subscriptions, and at-least-once delivery of outbox events signed with HMAC-SHA256.

An organisation subscribes a URL to event types (``document.signed``) or patterns (``document.*``, ``*``).
:func:`esign.outbox.emit` adds one :class:`WebhookDelivery` per matching active subscription in the
emitting transaction; the worker then delivers them with :func:`deliver_due`:

1. **claim**: in a short transaction, pick due pending deliveries with ``SELECT ... FOR UPDATE SKIP LOCKED``
   (PostgreSQL; SQLite's write lock serialises instead), count the attempt, give it a fresh lease id and
   move ``next_attempt_at`` one lease ahead, and commit. Nothing is held open during the HTTP call.
2. **send**: POST the event (``{"id", "type", "created_at", "organisation_id", "subject", "data"}``) with
   ``Esign-Event-Id`` and ``Esign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
   Any 2xx is success; anything else (another status, a redirect, a timeout, a refused connection) fails.
3. **record**: in a new transaction, mark it delivered, or schedule the next attempt with exponential
   backoff and full jitter, or dead-letter it once :attr:`RetryPolicy.max_attempts` have failed.

A worker that dies between 1 and 3 leaves the delivery pending with ``next_attempt_at`` at the end of its
lease, so another worker retries it then: nothing is lost, and the receiver may see the event twice. That
is the at-least-once rule: receivers dedupe by event id. A failure is only recorded by the claim that made
the attempt (its lease id), so a late failure cannot undo a newer attempt; a success is recorded whoever
reports it, since the receiver has the event either way.

Subscription secrets are generated here, shown once, and stored encrypted (AES-256-GCM under a key
derived with HKDF from a server secret; see :class:`SecretCipher`), because the worker needs them in clear
to sign. Every query is scoped by organisation: another organisation's id is simply not found.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    CTE,
    JSON,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Insert,
    Integer,
    String,
    UniqueConstraint,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from esign import audit, idempotency, outbox
from esign.db import Base, Database, table_of
from esign.errors import EsignError
from esign.outbox import Emitted, OutboxEvent, new_id, now

logger = logging.getLogger("esign.webhooks")

SIGNATURE_HEADER = "Esign-Signature"
EVENT_ID_HEADER = "Esign-Event-Id"
TEST_EVENT = "webhook.test"
MAX_URL_LENGTH = 2000
MAX_PATTERNS = 50
MAX_ACTIVE_SUBSCRIPTIONS = 50
"""Per organisation: every event is matched against each of them in the emitting transaction."""
SECRET_REPLAY_WINDOW = timedelta(hours=24)
"""How long a replayed creation (same ``Idempotency-Key``) still returns the secret, as the first answer did."""
_ERROR_LENGTH = 500

_SEGMENT = r"[a-z][a-z0-9_]*"
PATTERN = re.compile(rf"\*|{_SEGMENT}(\.{_SEGMENT})*\.\*|{_SEGMENT}(\.{_SEGMENT})+")
"""``*`` (every type), ``prefix.*`` (every type under prefix) or an exact dotted type."""


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for ``next_attempt_at``, or in flight until then (its lease)."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Gave up: the attempts ran out, or the subscription was disabled. A manual redelivery revives it."""


# --- errors -----------------------------------------------------------------------------------------


class WebhookError(EsignError):
    code = "webhook_error"


class WebhookNotFound(WebhookError):
    """Unknown id, or one of another organisation: the caller cannot tell the two apart."""

    code = "not_found"


class InvalidWebhook(WebhookError):
    code = "invalid_request"


class SubscriptionDisabled(WebhookError):
    code = "subscription_disabled"


class DeliveryPending(WebhookError):
    """A redelivery was asked for while the delivery is still queued or in flight."""

    code = "delivery_pending"


class SecretUnreadable(WebhookError):
    """A stored secret does not decrypt: the server secret it was encrypted under has changed."""

    code = "webhook_secret_unreadable"


# --- tables -----------------------------------------------------------------------------------------


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    event_types: Mapped[list[str]] = mapped_column(JSON, doc="types or patterns: document.signed, document.*, *")
    encrypted_secret: Mapped[str] = mapped_column(String(200), doc="see SecretCipher")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one subscription: its state, and the outcome of its last attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organisation_id", "subscription_id"],
            ["webhook_subscriptions.organisation_id", "webhook_subscriptions.id"],
            name="fk_webhook_deliveries_subscription",
        ),
        ForeignKeyConstraint(
            ["organisation_id", "event_id"],
            ["outbox_events.organisation_id", "outbox_events.id"],
            name="fk_webhook_deliveries_event",
        ),
        UniqueConstraint("organisation_id", "subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "organisation_id", "subscription_id", "created_at"),
    )

    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, doc="started since it was (re)queued")
    next_attempt_at: Mapped[datetime | None] = mapped_column(doc="due time; while in flight, the lease's end")
    lease_id: Mapped[str | None] = mapped_column(String(36), doc="the claim of the attempt in flight")
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(_ERROR_LENGTH))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    event: Mapped[OutboxEvent] = relationship(OutboxEvent, viewonly=True)
    subscription: Mapped[WebhookSubscription] = relationship(WebhookSubscription, viewonly=True)


# --- event types, secrets and signatures --------------------------------------------------------------


def patterns_for(event_type: str) -> list[str]:
    """Every pattern that selects an event type: ``*``, each of its prefixes with ``.*`` (``document.*``),
    and the type itself."""
    parts = event_type.split(".")
    return ["*", *(".".join(parts[:n]) + ".*" for n in range(1, len(parts))), event_type]


def matches(pattern: str, event_type: str) -> bool:
    """Whether a subscription's pattern selects an event type: ``*``, ``document.*`` or an exact type."""
    return pattern in patterns_for(event_type)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SecretCipher:
    """Encrypts subscription secrets at rest: AES-256-GCM under a key derived with HKDF-SHA256 (RFC 5869)
    from a server secret, with the subscription's identity as associated data, so a ciphertext copied to
    another row does not open. The worker must decrypt to sign, so a one-way hash would not do."""

    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, server_secret: bytes) -> SecretCipher:
        if not server_secret:
            raise ValueError("the server secret is empty")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"esign/webhook-secrets/v1")
        return cls(hkdf.derive(server_secret))

    def encrypt(self, secret: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), context.encode())
        return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, *, context: str) -> str:
        version, _, encoded = token.partition(":")
        if version != "v1":
            raise SecretUnreadable(f"unknown secret format {version!r}")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            return AESGCM(self.key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise SecretUnreadable("the webhook secret does not decrypt: has the server secret changed?") from None


def _secret_context(organisation_id: str, subscription_id: str) -> str:
    return f"webhook:{organisation_id}:{subscription_id}"


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 over "<timestamp>.<body>">``, keyed with the secret's UTF-8 bytes."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(event: OutboxEvent) -> bytes:
    """The JSON a receiver gets; the same bytes at every attempt, since they are built from the stored event."""
    document = {
        "id": event.id,
        "type": event.type,
        "created_at": _utc(event.created_at).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "organisation_id": event.organisation_id,
        "subject": event.subject,
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


# --- subscriptions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str | None
    """The signing secret, shown at creation only (and to a replay of it within a day); None afterwards."""
    created: bool
    """False when an ``Idempotency-Key`` replayed an earlier creation."""


def create_subscription(
    session: Session,
    *,
    organisation_id: str,
    url: str,
    event_types: Sequence[str],
    cipher: SecretCipher,
    by: str,
    idempotency_key: str | None = None,
) -> CreatedSubscription:
    """Subscribe ``url`` to events matching ``event_types``; the returned secret is not retrievable later."""
    url = _valid_url(url)
    patterns = _valid_patterns(event_types)
    claim = None
    if idempotency_key is not None:
        claim = idempotency.claim(
            session, scope=f"{organisation_id}:webhooks", key=idempotency_key,
            request_fingerprint=idempotency.fingerprint("webhook", url, json.dumps(patterns)),
        )
        if claim.replay is not None:
            return _replayed(session, organisation_id=organisation_id, resource=claim.replay, cipher=cipher)
    active = session.scalar(
        select(func.count()).where(
            WebhookSubscription.organisation_id == organisation_id, WebhookSubscription.active.is_(True)
        )
    )
    if (active or 0) >= MAX_ACTIVE_SUBSCRIPTIONS:
        raise InvalidWebhook(f"an organisation has at most {MAX_ACTIVE_SUBSCRIPTIONS} active subscriptions")
    secret = new_secret()
    subscription = WebhookSubscription(
        organisation_id=organisation_id, id=new_id(), url=url, event_types=patterns, active=True,
        created_by=by, created_at=now(),
    )
    subscription.encrypted_secret = cipher.encrypt(secret, context=_secret_context(organisation_id, subscription.id))
    session.add(subscription)
    session.flush()
    audit.append(
        session, actor=by, action="webhook.created", subject=f"webhook:{subscription.id}", chain=organisation_id,
        payload={"url": url, "event_types": patterns},
    )
    if claim is not None:
        idempotency.complete(session, claim, f"webhook:{subscription.id}")
    return CreatedSubscription(subscription=subscription, secret=secret, created=True)


def _replayed(session: Session, *, organisation_id: str, resource: str, cipher: SecretCipher) -> CreatedSubscription:
    subscription = get_subscription(
        session, organisation_id=organisation_id, subscription_id=resource.removeprefix("webhook:")
    )
    secret = None
    if now() - _utc(subscription.created_at) <= SECRET_REPLAY_WINDOW:
        secret = cipher.decrypt(
            subscription.encrypted_secret, context=_secret_context(organisation_id, subscription.id)
        )
    return CreatedSubscription(subscription=subscription, secret=secret, created=False)


def list_subscriptions(session: Session, *, organisation_id: str) -> list[WebhookSubscription]:
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.organisation_id == organisation_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return list(session.scalars(query))


def get_subscription(session: Session, *, organisation_id: str, subscription_id: str) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, (organisation_id, subscription_id))
    if subscription is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    return subscription


def disable_subscription(
    session: Session, *, organisation_id: str, subscription_id: str, by: str
) -> WebhookSubscription:
    """Stop delivering to it: no attempt starts after this commits (one already in flight may still land).
    Its pending deliveries are dead-lettered when next due. Disabling twice changes nothing."""
    subscription = get_subscription(session, organisation_id=organisation_id, subscription_id=subscription_id)
    if not subscription.active:
        return subscription
    subscription.active = False
    subscription.disabled_at = now()
    session.flush()
    audit.append(
        session, actor=by, action="webhook.disabled", subject=f"webhook:{subscription.id}", chain=organisation_id
    )
    return subscription


# --- the delivery log, redelivery, test events --------------------------------------------------------


def list_deliveries(
    session: Session,
    *,
    organisation_id: str,
    subscription_id: str,
    status: DeliveryStatus | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest first, with their events loaded."""
    get_subscription(session, organisation_id=organisation_id, subscription_id=subscription_id)
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.organisation_id == organisation_id, WebhookDelivery.subscription_id == subscription_id
        )
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .options(selectinload(WebhookDelivery.event))
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    return list(session.scalars(query))


def redeliver(
    session: Session, *, organisation_id: str, subscription_id: str, delivery_id: str, by: str
) -> WebhookDelivery:
    """Queue a dead (or delivered) delivery again, now, with a fresh budget of attempts."""
    subscription = get_subscription(session, organisation_id=organisation_id, subscription_id=subscription_id)
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
        raise WebhookNotFound(f"no delivery {delivery_id} of webhook subscription {subscription_id}")
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
        session, actor=by, action="webhook.redelivered", subject=f"webhook:{subscription_id}", chain=organisation_id,
        payload={"delivery_id": delivery.id, "event_id": delivery.event_id},
    )
    return delivery


def send_test(session: Session, *, organisation_id: str, subscription_id: str, by: str) -> WebhookDelivery:
    """Emit a ``webhook.test`` event to this subscription alone, whatever types it chose."""
    subscription = get_subscription(session, organisation_id=organisation_id, subscription_id=subscription_id)
    if not subscription.active:
        raise SubscriptionDisabled("the subscription is disabled")
    event = outbox.emit(
        session, organisation_id=organisation_id, type=TEST_EVENT, subject=f"webhook:{subscription.id}",
        payload={"subscription_id": subscription.id, "requested_by": by}, subscription_id=subscription.id,
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
                rows.append({
                    "organisation_id": event.organisation_id, "id": new_id(), "subscription_id": subscription.id,
                    "event_id": event.id, "status": DeliveryStatus.PENDING.value, "attempts": 0,
                    "next_attempt_at": stamp, "created_at": stamp,
                })
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
            events.c.organisation_id, func.gen_random_uuid().cast(String), subscriptions.c.id, events.c.id,
            literal(DeliveryStatus.PENDING.value, String), literal(0), literal(stamp, table.c.created_at.type),
            literal(stamp, table.c.created_at.type),
        )
        .join(subscriptions, subscriptions.c.organisation_id == events.c.organisation_id)
        .where(
            subscriptions.c.active.is_(True),
            or_(*(listed.contains(f'"{p}"', autoescape=True) for p in patterns_for(event_type))),
        ),
    )


def _valid_url(url: str) -> str:
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


# --- delivery (the worker's job) ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: after failed attempt n, wait a random time in [0, min(cap, base * 2**(n-1))]
    ("full jitter"), and give up after ``max_attempts``. The defaults spread 8 attempts over about an hour
    on average (at most about two)."""

    max_attempts: int = 8
    """Attempts before the delivery is dead-lettered. A worker that dies during an attempt used it up."""
    base: timedelta = timedelta(minutes=1)
    """Upper bound of the first wait; it doubles with every further failure."""
    cap: timedelta = timedelta(hours=1)
    """Upper bound of any wait."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("a retry policy needs max_attempts >= 1 and 0 < base <= cap")

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** min(attempt - 1, 32))
        return ceiling * (rng or random).random()


@dataclass(frozen=True)
class DeliveryOptions:
    cipher: SecretCipher = field(repr=False)
    """Opens the subscriptions' secrets; built from the same server secret as the API's."""
    retry: RetryPolicy = RetryPolicy()
    timeout: timedelta = timedelta(seconds=10)
    """For connecting, and for each read and write of one attempt."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claimed attempt is reserved; after that another worker may retry it. Keep it well above
    ``timeout``: an attempt still running when its lease ends may be sent twice."""
    batch_size: int = 10
    """Deliveries claimed together; they are sent in parallel."""
    trust_env: bool = True
    """Honour ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` for outgoing calls."""
    user_agent: str = "esign-webhooks/1"

    def __post_init__(self) -> None:
        if self.lease <= self.timeout:
            raise ValueError("the lease must be longer than the timeout")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


@dataclass(frozen=True)
class Claimed:
    """One attempt, reserved by :func:`claim`: everything :func:`send` needs, read before the commit."""

    organisation_id: str
    delivery_id: str
    lease_id: str
    attempt: int
    event_id: str
    url: str
    secret: str = field(repr=False)
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class ClaimedBatch:
    sends: list[Claimed]
    settled: int
    """Deliveries finished without a call: dead-lettered because their subscription was disabled, or
    their attempt failed before sending (a secret that does not decrypt)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def claim(database: Database, options: DeliveryOptions, *, limit: int | None = None) -> ClaimedBatch:
    """Reserve up to ``limit`` (default ``batch_size``) due deliveries in one short transaction.

    Like every function of this section it owns its transactions: it is the worker's step, not a service.
    """
    stamp = now()
    sends: list[Claimed] = []
    settled = 0
    with database.transaction() as session:
        due = session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.next_attempt_at <= stamp,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit or options.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        for delivery in due:
            subscription = delivery.subscription
            if not subscription.active:
                _settle(delivery, DeliveryStatus.DEAD, error="the subscription was disabled")
                settled += 1
                continue
            if delivery.attempts >= options.retry.max_attempts:
                # The previous holder's lease ran out on the last attempt without an outcome (a worker died).
                _settle(delivery, DeliveryStatus.DEAD, error="no outcome was recorded for the last attempt")
                settled += 1
                continue
            delivery.attempts += 1
            delivery.last_attempt_at = stamp
            try:
                secret = options.cipher.decrypt(
                    subscription.encrypted_secret, context=_secret_context(subscription.organisation_id, subscription.id)
                )
            except SecretUnreadable as e:
                _failed(delivery, stamp, Outcome(ok=False, error=e.message), options.retry)
                settled += 1
                continue
            delivery.lease_id = new_id()
            delivery.next_attempt_at = stamp + options.lease
            sends.append(Claimed(
                organisation_id=delivery.organisation_id, delivery_id=delivery.id, lease_id=delivery.lease_id,
                attempt=delivery.attempts, event_id=delivery.event_id, url=subscription.url, secret=secret,
                body=event_body(delivery.event),
            ))
    return ClaimedBatch(sends=sends, settled=settled)


def send(client: httpx.Client, claimed: Claimed, *, timestamp: int | None = None) -> Outcome:
    """POST one event. Never raises for what the network or the receiver does: that is the outcome."""
    t = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: claimed.event_id,
        SIGNATURE_HEADER: signature_header(claimed.secret, claimed.body, t),
        "Esign-Delivery-Attempt": str(claimed.attempt),
    }
    try:
        # Streamed and closed unread: the receiver's body is not needed, however large it is.
        with client.stream("POST", claimed.url, content=claimed.body, headers=headers) as response:
            code = response.status_code
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        return Outcome(ok=False, error=f"{type(e).__name__}: {e}"[:_ERROR_LENGTH])
    if 200 <= code < 300:
        return Outcome(ok=True, status_code=code)
    return Outcome(ok=False, status_code=code, error=f"the receiver answered HTTP {code}")


def record(database: Database, claimed: Claimed, outcome: Outcome, options: DeliveryOptions) -> DeliveryStatus | None:
    """Store an attempt's outcome in a new transaction; the delivery's new status, or None when the
    outcome no longer applies (a failure from a claim that was superseded, a success already recorded)."""
    stamp = now()
    with database.transaction() as session:
        delivery = session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.organisation_id == claimed.organisation_id, WebhookDelivery.id == claimed.delivery_id
            )
            .with_for_update()
        ).one_or_none()
        if delivery is None:
            return None
        if outcome.ok:
            if delivery.status == DeliveryStatus.DELIVERED:
                return None
            if delivery.lease_id != claimed.lease_id:
                logger.info("delivery %s: a superseded attempt succeeded; recorded", delivery.id)
            delivery.last_status_code = outcome.status_code
            delivery.delivered_at = stamp
            _settle(delivery, DeliveryStatus.DELIVERED, error=None)
            return DeliveryStatus.DELIVERED
        if delivery.status != DeliveryStatus.PENDING or delivery.lease_id != claimed.lease_id:
            logger.info("delivery %s: the failure of a superseded attempt is not recorded", delivery.id)
            return None
        _failed(delivery, stamp, outcome, options.retry)
        return DeliveryStatus(delivery.status)


def _failed(delivery: WebhookDelivery, stamp: datetime, outcome: Outcome, retry: RetryPolicy) -> None:
    delivery.last_status_code = outcome.status_code
    if delivery.attempts >= retry.max_attempts:
        _settle(delivery, DeliveryStatus.DEAD, error=outcome.error)
        logger.warning("delivery %s dead after %d attempts: %s", delivery.id, delivery.attempts, outcome.error)
        return
    delivery.last_error = outcome.error
    delivery.lease_id = None
    delivery.next_attempt_at = stamp + retry.delay(delivery.attempts)


def _settle(delivery: WebhookDelivery, status: DeliveryStatus, *, error: str | None) -> None:
    delivery.status = status.value
    delivery.last_error = error
    delivery.lease_id = None
    delivery.next_attempt_at = None


def deliver_due(database: Database, options: DeliveryOptions) -> int:
    """One round: claim a batch, send it in parallel, record each outcome as it comes; the number handled."""
    batch = claim(database, options)
    if not batch.sends:
        return batch.settled
    timeout = options.timeout.total_seconds()
    with (
        httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=options.trust_env,
            headers={"User-Agent": options.user_agent},
        ) as client,
        ThreadPoolExecutor(max_workers=len(batch.sends), thread_name_prefix="esign-webhook") as pool,
    ):
        attempts = {pool.submit(send, client, claimed): claimed for claimed in batch.sends}
        for done in as_completed(attempts):
            record(database, attempts[done], done.result(), options)
    return len(batch.sends) + batch.settled


def delivery_job(options: DeliveryOptions) -> Callable[[Database], int]:
    """The worker job that delivers webhooks (see :mod:`esign.worker`)."""

    def deliver_webhooks(database: Database) -> int:
        return deliver_due(database, options)

    return deliver_webhooks
