"""Event-type patterns, and the body and HMAC signature header a receiver gets."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from esign.outbox import OutboxEvent


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


def secret_context(organisation_id: str, subscription_id: str) -> str:
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
        "created_at": utc(event.created_at).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "organisation_id": event.organisation_id,
        "subject": event.subject,
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def utc(at: datetime) -> datetime:
    return at.astimezone(UTC)
