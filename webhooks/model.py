"""The tables of webhook subscriptions and their deliveries, and the states a delivery goes through."""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from esign.db import Base
from esign.ids import new_id, now
from esign.outbox import OutboxEvent

SIGNATURE_HEADER = "Esign-Signature"
EVENT_ID_HEADER = "Esign-Event-Id"
TEST_EVENT = "webhook.test"
MAX_URL_LENGTH = 2000
MAX_PATTERNS = 50
MAX_ACTIVE_SUBSCRIPTIONS = 50
"""Per organisation: every event is matched against each of them in the emitting transaction."""
SECRET_REPLAY_WINDOW = timedelta(hours=24)
"""How long a replayed creation (same ``Idempotency-Key``) still shows the secret, as the first answer did;
an older replay answers the same but with the secret left out (``api/routes/webhooks.py``)."""
ERROR_LENGTH = 500

_SEGMENT = r"[a-z][a-z0-9_]*"
PATTERN = re.compile(rf"\*|{_SEGMENT}(\.{_SEGMENT})*\.\*|{_SEGMENT}(\.{_SEGMENT})+")
"""``*`` (every type), ``prefix.*`` (every type under prefix) or an exact dotted type."""


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for ``next_attempt_at``, or in flight until then (its lease)."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Gave up: the attempts ran out, or the subscription was disabled. A manual redelivery revives it."""


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
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    event: Mapped[OutboxEvent] = relationship(OutboxEvent, viewonly=True)
    subscription: Mapped[WebhookSubscription] = relationship(WebhookSubscription, viewonly=True)
