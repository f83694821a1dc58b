"""Webhook subscriptions of the caller's organisation, their delivery log, redelivery and test events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

import webhooks
from api.deps import AdminOf, CipherDep, DatabaseDep, SettingsDep
from api.idempotent import IdempotencyKey, once
from webhooks import DeliveryStatus, WebhookDelivery, WebhookSubscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _utc(at: datetime) -> datetime:
    """Answers give times in UTC, on every database."""
    return at.astimezone(UTC)


Utc = Annotated[datetime, AfterValidator(_utc)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=webhooks.MAX_URL_LENGTH, description="http or https endpoint")
    event_types: list[str] = Field(
        min_length=1,
        max_length=webhooks.MAX_PATTERNS,
        description="Dotted types (document.signed), prefixes (document.*) or * for every type",
        examples=[["document.*", "receipt.received"]],
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organisation_id: str
    url: str
    event_types: list[str]
    active: bool
    created_by: str
    created_at: Utc
    disabled_at: Utc | None


class WebhookCreatedOut(WebhookOut):
    secret: str | None = Field(
        description="Signs every delivery (Esign-Signature). Shown in this answer only (and to a retry with the "
        "same Idempotency-Key within a day); store it now."
    )


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts started since it was queued (or requeued)")
    next_attempt_at: Utc | None
    last_attempt_at: Utc | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: Utc | None
    created_at: Utc


def _out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut.model_validate(subscription)


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        event_type=delivery.event.type,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


@router.post(
    "",
    response_model=WebhookCreatedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe an endpoint to events; the answer carries the signing secret, once",
    responses={200: {"description": "Replayed: the subscription an earlier request with this Idempotency-Key made"}},
)
def create(
    body: WebhookIn,
    actor: AdminOf,
    database: DatabaseDep,
    cipher: CipherDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> Response:
    """The answer shows the secret, so ``once`` keeps it sealed under the cipher. A replay answers what the first
    request got, secret included, within ``SECRET_REPLAY_WINDOW`` of it; later, the same answer without it."""

    def create(session: Session) -> WebhookCreatedOut:
        made = webhooks.create_subscription(
            session,
            actor=actor,
            url=body.url,
            event_types=body.event_types,
            cipher=cipher,
            allow_private=settings.webhooks_allow_private,
        )
        return WebhookCreatedOut(**_out(made.subscription).model_dump(), secret=made.secret)

    def aged(answer: WebhookCreatedOut, age: timedelta) -> WebhookCreatedOut:
        return answer if age <= webhooks.SECRET_REPLAY_WINDOW else answer.model_copy(update={"secret": None})

    return once(
        database,
        actor=actor,
        key=key,
        operation="webhook.create",
        request=body,
        authorise=None,
        create=create,
        model=WebhookCreatedOut,
        sealed=cipher,
        on_replay=aged,
    )


@router.get("", response_model=list[WebhookOut])
def list_subscriptions(actor: AdminOf, database: DatabaseDep) -> list[WebhookOut]:
    with database.transaction() as session:
        return [_out(s) for s in webhooks.list_subscriptions(session, actor=actor)]


@router.get("/{subscription_id}", response_model=WebhookOut)
def get_subscription(subscription_id: str, actor: AdminOf, database: DatabaseDep) -> WebhookOut:
    with database.transaction() as session:
        return _out(webhooks.get_subscription(session, actor=actor, subscription_id=subscription_id))


@router.post("/{subscription_id}/disable", response_model=WebhookOut, summary="Stop delivering to this endpoint")
def disable(subscription_id: str, actor: AdminOf, database: DatabaseDep) -> WebhookOut:
    with database.transaction() as session:
        subscription = webhooks.disable_subscription(session, actor=actor, subscription_id=subscription_id)
        return _out(subscription)


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut], summary="The delivery log, newest first")
def list_deliveries(
    subscription_id: str,
    actor: AdminOf,
    database: DatabaseDep,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    with database.transaction() as session:
        found = webhooks.list_deliveries(
            session,
            actor=actor,
            subscription_id=subscription_id,
            status=status_filter,
            limit=limit,
        )
        return [_delivery_out(d) for d in found]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a dead or delivered delivery again, now",
)
def redeliver(subscription_id: str, delivery_id: str, actor: AdminOf, database: DatabaseDep) -> DeliveryOut:
    with database.transaction() as session:
        delivery = webhooks.redeliver(session, actor=actor, subscription_id=subscription_id, delivery_id=delivery_id)
        return _delivery_out(delivery)


@router.post(
    "/{subscription_id}/test",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a webhook.test event to this endpoint alone",
)
def send_test(subscription_id: str, actor: AdminOf, database: DatabaseDep) -> DeliveryOut:
    with database.transaction() as session:
        delivery = webhooks.send_test(session, actor=actor, subscription_id=subscription_id)
        return _delivery_out(delivery)
