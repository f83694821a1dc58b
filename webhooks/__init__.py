"""Webhook subscriptions, and at-least-once delivery of outbox events signed with HMAC-SHA256.

An organisation subscribes a URL to event types (``document.signed``) or patterns (``document.*``, ``*``).
:func:`esign.outbox.emit` adds one :class:`WebhookDelivery` per matching active subscription in the
emitting transaction (through the fan-out this package registers with the outbox when imported); the
worker then delivers them with :func:`deliver_due`:

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
derived with HKDF from a server secret; see :class:`esign.cipher.SecretCipher`), because the worker needs them in clear
to sign. Every query is scoped by organisation: another organisation's id is simply not found.
"""

from .delivery import (
    Claimed,
    ClaimedBatch,
    DeliveryOptions,
    Outcome,
    RetryPolicy,
    claim,
    deliver_due,
    delivery_job,
    record,
    send,
)
from .errors import DeliveryPending, InvalidWebhook, SubscriptionDisabled
from .events import event_body, matches, patterns_for, signature_header
from .fanout import fan_out, fan_out_selected
from .model import (
    EVENT_ID_HEADER,
    MAX_ACTIVE_SUBSCRIPTIONS,
    MAX_PATTERNS,
    MAX_URL_LENGTH,
    SECRET_REPLAY_WINDOW,
    SIGNATURE_HEADER,
    TEST_EVENT,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from .subscriptions import (
    CreatedSubscription,
    create_subscription,
    disable_subscription,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    redeliver,
    send_test,
)

__all__ = [
    "EVENT_ID_HEADER",
    "MAX_ACTIVE_SUBSCRIPTIONS",
    "MAX_PATTERNS",
    "MAX_URL_LENGTH",
    "SECRET_REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "TEST_EVENT",
    "Claimed",
    "ClaimedBatch",
    "CreatedSubscription",
    "DeliveryOptions",
    "DeliveryPending",
    "DeliveryStatus",
    "InvalidWebhook",
    "Outcome",
    "RetryPolicy",
    "SubscriptionDisabled",
    "WebhookDelivery",
    "WebhookSubscription",
    "claim",
    "create_subscription",
    "deliver_due",
    "delivery_job",
    "disable_subscription",
    "event_body",
    "fan_out",
    "fan_out_selected",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "matches",
    "patterns_for",
    "record",
    "redeliver",
    "send",
    "send_test",
    "signature_header",
]
