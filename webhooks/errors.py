"""Errors of webhook subscriptions and deliveries; ``api/`` maps them to HTTP statuses.

An unknown subscription or delivery is the kernel's :class:`esign.errors.NotFound`."""

from __future__ import annotations

from esign.errors import Conflict, InvalidInput


class InvalidWebhook(InvalidInput):
    code = "invalid_request"


class SubscriptionDisabled(Conflict):
    code = "subscription_disabled"


class DeliveryPending(Conflict):
    """A redelivery was asked for while the delivery is still queued or in flight."""

    code = "delivery_pending"
