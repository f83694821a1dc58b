"""Delivery, the worker's job: claim due deliveries, send them signed, record the outcome."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import (
    select,
)

from esign.cipher import SecretCipher
from esign.db import Database
from esign.errors import SecretUnreadable
from esign.ids import new_id, now

from .events import event_body, secret_context, signature_header
from .model import ERROR_LENGTH, EVENT_ID_HEADER, SIGNATURE_HEADER, DeliveryStatus, WebhookDelivery
from .outbound import Resolver, describe, refusal, system_resolver

logger = logging.getLogger("esign.webhooks")


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
        return timedelta(seconds=ceiling.total_seconds() * (rng or random).random())


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
    allow_private: bool = False
    """Deliver to loopback, private, link-local and reserved addresses too (``ESIGN_WEBHOOKS_ALLOW_PRIVATE``);
    otherwise such a delivery fails, unsent, as "refused: private address" (see :mod:`webhooks.outbound`)."""
    resolver: Resolver = field(default=system_resolver, repr=False)
    """Resolves a host name before each attempt, so the addresses it points at can be checked."""

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
                    subscription.encrypted_secret, context=secret_context(subscription.organisation_id, subscription.id)
                )
            except SecretUnreadable as e:
                _failed(delivery, stamp, Outcome(ok=False, error=e.message), options.retry)
                settled += 1
                continue
            delivery.lease_id = new_id()
            delivery.next_attempt_at = stamp + options.lease
            sends.append(
                Claimed(
                    organisation_id=delivery.organisation_id,
                    delivery_id=delivery.id,
                    lease_id=delivery.lease_id,
                    attempt=delivery.attempts,
                    event_id=delivery.event_id,
                    url=subscription.url,
                    secret=secret,
                    body=event_body(delivery.event),
                )
            )
    return ClaimedBatch(sends=sends, settled=settled)


def send(
    client: httpx.Client,
    claimed: Claimed,
    *,
    timestamp: int | None = None,
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> Outcome:
    """POST one event. Never raises for what the network or the receiver does: that is the outcome, told
    in the neutral terms of :func:`webhooks.outbound.describe`.

    Unless ``allow_private``, the URL's host is resolved first and the attempt is refused, unsent, when any
    of its addresses is one a delivery must not reach. (:func:`deliver_due` passes the options' setting.)
    """
    try:
        url = httpx.URL(claimed.url)
    except httpx.InvalidURL:
        return Outcome(ok=False, error="invalid URL")
    refused = refusal(url, allow_private=allow_private, resolve=resolve)
    if refused is not None:
        return Outcome(ok=False, error=refused)
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
        logger.info("delivery %s failed: %s: %s", claimed.delivery_id, type(e).__name__, e)
        return Outcome(ok=False, error=describe(e)[:ERROR_LENGTH])
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
            timeout=timeout,
            follow_redirects=False,
            trust_env=options.trust_env,
            headers={"User-Agent": options.user_agent},
        ) as client,
        ThreadPoolExecutor(max_workers=len(batch.sends), thread_name_prefix="esign-webhook") as pool,
    ):
        attempts = {
            pool.submit(send, client, claimed, allow_private=options.allow_private, resolve=options.resolver): claimed
            for claimed in batch.sends
        }
        for done in as_completed(attempts):
            record(database, attempts[done], done.result(), options)
    return len(batch.sends) + batch.settled


def delivery_job(options: DeliveryOptions) -> Callable[[Database], int]:
    """The worker job that delivers webhooks (see :mod:`esign.worker`)."""

    def deliver_webhooks(database: Database) -> int:
        return deliver_due(database, options)

    return deliver_webhooks
