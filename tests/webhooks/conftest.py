from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import webhooks
from esign.cipher import SecretCipher
from esign.db import Database
from esign.identity import Actor
from esign.settings import Settings
from tests.webhooks.receiver import Receiver
from webhooks import DeliveryOptions, RetryPolicy, WebhookDelivery

SERVER_SECRET = b"test server secret"
FAST = RetryPolicy(max_attempts=4, base=timedelta(milliseconds=20), cap=timedelta(milliseconds=80))


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher.derive(SERVER_SECRET)


@pytest.fixture
def options(cipher: SecretCipher) -> DeliveryOptions:
    """Retries within a fraction of a second; a lease long enough that no test attempt outlives it. The
    receivers listen on 127.0.0.1, so private addresses are allowed, as an operator would allow them."""
    return DeliveryOptions(
        cipher=cipher, retry=FAST, timeout=timedelta(seconds=5), lease=timedelta(seconds=30), allow_private=True
    )


@pytest.fixture
def db_settings(db_settings: Settings) -> Settings:
    """The served API of these tests subscribes receivers on 127.0.0.1: ``ESIGN_WEBHOOKS_ALLOW_PRIVATE``."""
    return db_settings.model_copy(update={"webhooks_allow_private": True})


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def organisation() -> str:
    return str(uuid.uuid4())


def subscribe(
    db: Database, cipher: SecretCipher, *, organisation_id: str, url: str, event_types: list[str]
) -> tuple[str, str]:
    """A subscription's id and secret."""
    with db.transaction() as session:
        made = webhooks.create_subscription(
            session,
            actor=Actor.operator(organisation_id),
            url=url,
            event_types=event_types,
            cipher=cipher,
            allow_private=True,
        )
        assert made.secret is not None
        return made.subscription.id, made.secret


def deliveries(db: Database) -> list[WebhookDelivery]:
    with db.transaction() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at)))


def settled(db: Database) -> bool:
    return all(d.status != webhooks.DeliveryStatus.PENDING for d in deliveries(db))


def drain(
    db: Database, options: DeliveryOptions, *, until: Callable[[], bool] | None = None, timeout: float = 20.0
) -> None:
    """Run delivery rounds, as the worker does, until ``until()`` (default: nothing pending)."""
    done = until or (lambda: settled(db))
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "deliveries did not settle in time"
        if webhooks.deliver_due(db, options) == 0:
            time.sleep(0.01)
