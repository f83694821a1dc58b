"""Retries, dead letters, redelivery, and who receives what."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import webhooks
from esign import outbox
from esign.cipher import SecretCipher
from esign.db import Database
from esign.errors import NotFound
from esign.identity import Actor
from esign.outbox import OutboxEvent
from tests.api.served import free_port
from tests.webhooks.conftest import deliveries, drain, organisation, subscribe
from tests.webhooks.receiver import Receiver
from webhooks import DeliveryOptions, DeliveryStatus, RetryPolicy, WebhookDelivery


def _emit(db: Database, organisation_id: str, type: str = "document.signed", subject: str = "document:d-1") -> str:
    with db.transaction() as session:
        return outbox.emit(session, organisation_id=organisation_id, type=type, subject=subject, payload={"n": 1}).id


def test_500_three_times_then_200_delivers_once_after_recovery(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(fail_first=3)
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["document.*"])
    event_id = _emit(db, org)
    drain(
        db,
        replace(
            options, retry=RetryPolicy(max_attempts=8, base=timedelta(milliseconds=20), cap=timedelta(milliseconds=80))
        ),
    )

    got = receiver.wait_for(4)
    assert [r.answered for r in got] == [500, 500, 500, 200]
    assert {r.event_id for r in got} == {event_id}
    assert [r.headers["Esign-Delivery-Attempt"] for r in got] == ["1", "2", "3", "4"]
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 4, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None and delivery.lease_id is None

    assert webhooks.deliver_due(db, options) == 0
    receiver.quiet_for(0.2)
    assert len(receiver.received) == 4, "delivered exactly once after recovery"


def test_dead_lettered_after_the_limit_then_a_manual_redelivery_delivers(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(fail_first=1000, failure_status=503)
    org = organisation()
    subscription_id, _ = subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    event_id = _emit(db, org)
    drain(db, options)

    assert len(receiver.wait_for(options.retry.max_attempts)) == options.retry.max_attempts == 4
    (dead,) = deliveries(db)
    assert (dead.status, dead.attempts, dead.last_status_code) == ("dead", 4, 503)
    assert dead.last_error == "the receiver answered HTTP 503" and dead.next_attempt_at is None
    receiver.quiet_for(0.2)

    receiver.fail_first = 0
    with db.transaction() as session:
        queued = webhooks.redeliver(
            session, actor=Actor.operator(org), subscription_id=subscription_id, delivery_id=dead.id
        )
        assert (queued.status, queued.attempts) == ("pending", 0)
    with db.transaction() as session, pytest.raises(webhooks.DeliveryPending):
        webhooks.redeliver(session, actor=Actor.operator(org), subscription_id=subscription_id, delivery_id=dead.id)
    drain(db, options)

    got = receiver.wait_for(5)
    assert got[-1].answered == 200 and got[-1].event_id == event_id
    (delivered,) = deliveries(db)
    assert (delivered.id, delivered.status, delivered.attempts) == (dead.id, "delivered", 1)


def test_an_unreachable_endpoint_fails_with_the_reason(
    db: Database, cipher: SecretCipher, options: DeliveryOptions
) -> None:
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=f"http://127.0.0.1:{free_port()}/", event_types=["*"])
    _emit(db, org)
    drain(db, replace(options, retry=RetryPolicy(max_attempts=1)))
    (dead,) = deliveries(db)
    assert dead.status == "dead" and dead.last_status_code is None
    assert dead.last_error is not None and dead.last_error == "connection refused"


def test_a_worker_that_claimed_and_vanished_loses_nothing(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    event_id = _emit(db, org)
    short_lease = replace(options, timeout=timedelta(seconds=0.5), lease=timedelta(seconds=1))

    batch = webhooks.claim(db, short_lease)  # claimed and committed; the worker then "dies": no send, no record
    assert len(batch.sends) == 1
    assert webhooks.deliver_due(db, short_lease) == 0, "nobody else takes it while the lease runs"
    (held,) = deliveries(db)
    assert held.status == "pending" and held.lease_id == batch.sends[0].lease_id

    time.sleep(1.1)
    drain(db, short_lease)
    (got,) = receiver.wait_for(1)
    assert got.event_id == event_id
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)

    # The vanished worker's outcome, should it ever arrive, changes nothing.
    stale = batch.sends[0]
    failure = webhooks.Outcome(ok=False, status_code=500, error="late")
    assert webhooks.record(db, stale, failure, options) is None
    assert webhooks.record(db, stale, webhooks.Outcome(ok=True, status_code=200), options) is None
    assert deliveries(db)[0].status == "delivered"


def test_a_superseded_failure_is_ignored_but_a_superseded_success_counts(
    db: Database, cipher: SecretCipher, options: DeliveryOptions
) -> None:
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url="http://127.0.0.1:9/", event_types=["*"])
    _emit(db, org)
    short_lease = replace(options, timeout=timedelta(seconds=0.1), lease=timedelta(seconds=0.2))
    (first,) = webhooks.claim(db, short_lease).sends
    time.sleep(0.25)
    (second,) = webhooks.claim(db, short_lease).sends
    assert second.attempt == 2 and second.lease_id != first.lease_id

    assert webhooks.record(db, first, webhooks.Outcome(ok=False, status_code=502, error="late"), options) is None
    assert deliveries(db)[0].lease_id == second.lease_id, "the newer attempt still holds it"
    assert webhooks.record(db, first, webhooks.Outcome(ok=True, status_code=204), options) == DeliveryStatus.DELIVERED
    assert webhooks.record(db, second, webhooks.Outcome(ok=False, status_code=500, error="x"), options) is None
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.last_status_code) == ("delivered", 204)


def test_an_event_of_a_rolled_back_transaction_is_never_delivered(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), db.transaction() as session:
        outbox.emit(session, organisation_id=org, type="document.signed", subject="document:d-1", payload={})
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        raise Abandoned
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    assert deliveries(db) == []
    assert webhooks.deliver_due(db, options) == 0
    receiver.quiet_for(0.2)
    assert receiver.received == []


def test_only_the_organisations_own_subscriptions_receive_its_events(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    mine, theirs = receivers(), receivers()
    a, b = organisation(), organisation()
    a_subscription, _ = subscribe(db, cipher, organisation_id=a, url=mine.url, event_types=["*"])
    b_subscription, _ = subscribe(db, cipher, organisation_id=b, url=theirs.url, event_types=["*"])
    event_id = _emit(db, a)
    drain(db, options)

    assert [r.event_id for r in mine.wait_for(1)] == [event_id]
    theirs.quiet_for(0.2)
    assert theirs.received == []

    a_delivery = deliveries(db)[0].id
    with db.transaction() as session:
        assert [s.id for s in webhooks.list_subscriptions(session, actor=Actor.operator(b))] == [b_subscription]
        for call in (
            lambda: webhooks.get_subscription(session, actor=Actor.operator(b), subscription_id=a_subscription),
            lambda: webhooks.list_deliveries(session, actor=Actor.operator(b), subscription_id=a_subscription),
            lambda: webhooks.disable_subscription(session, actor=Actor.operator(b), subscription_id=a_subscription),
            lambda: webhooks.send_test(session, actor=Actor.operator(b), subscription_id=a_subscription),
            lambda: webhooks.redeliver(
                session, actor=Actor.operator(b), subscription_id=a_subscription, delivery_id=a_delivery
            ),
            lambda: webhooks.redeliver(
                session, actor=Actor.operator(b), subscription_id=b_subscription, delivery_id=a_delivery
            ),
        ):
            with pytest.raises(NotFound):
                call()


def test_a_disabled_subscription_receives_nothing_new(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscription_id, _ = subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    delivered = _emit(db, org, subject="document:1")
    drain(db, options)
    queued_before = _emit(db, org, subject="document:2")  # pending when the subscription is disabled
    with db.transaction() as session:
        webhooks.disable_subscription(session, actor=Actor.operator(org), subscription_id=subscription_id)
    _emit(db, org, subject="document:3")  # after: no delivery at all
    drain(db, options)

    receiver.quiet_for(0.2)
    assert [r.event_id for r in receiver.received] == [delivered]
    states = {d.event_id: (d.status, d.last_error) for d in deliveries(db)}
    assert states == {delivered: ("delivered", None), queued_before: ("dead", "the subscription was disabled")}
    delivered_id = next(d.id for d in deliveries(db) if d.event_id == delivered)
    with db.transaction() as session:
        for call in (
            lambda: webhooks.send_test(session, actor=Actor.operator(org), subscription_id=subscription_id),
            lambda: webhooks.redeliver(
                session, actor=Actor.operator(org), subscription_id=subscription_id, delivery_id=delivered_id
            ),
        ):
            with pytest.raises(webhooks.SubscriptionDisabled):
                call()
        again = webhooks.disable_subscription(session, actor=Actor.operator(org), subscription_id=subscription_id)
        assert not again.active


def test_a_subscription_made_after_an_event_never_receives_it(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    _emit(db, org, subject="document:before")
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    after = _emit(db, org, subject="document:after")
    drain(db, options)
    receiver.quiet_for(0.2)
    assert [r.event_id for r in receiver.received] == [after]


def test_event_type_patterns_choose_what_each_subscription_receives(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    for path, types in (
        ("documents", ["document.*"]),
        ("receipts", ["receipt.received"]),
        ("everything", ["*"]),
        ("signed-or-overdue", ["document.signed", "step.overdue"]),
    ):
        subscribe(db, cipher, organisation_id=org, url=f"{receiver.url}/{path}", event_types=types)
    for type in ("document.signed", "document.sealed", "receipt.received", "step.overdue", "documents.other"):
        _emit(db, org, type=type, subject=f"x:{type}")
    drain(db, options)

    got: dict[str, set[str]] = {}
    for r in receiver.wait_for(10):
        got.setdefault(r.path.lstrip("/"), set()).add(r.event["type"])
    assert got == {
        "documents": {"document.signed", "document.sealed"},
        "receipts": {"receipt.received"},
        "everything": {"document.signed", "document.sealed", "receipt.received", "step.overdue", "documents.other"},
        "signed-or-overdue": {"document.signed", "step.overdue"},
    }


def test_patterns_and_urls_are_checked(db: Database, cipher: SecretCipher) -> None:
    assert webhooks.matches("document.*", "document.step.assigned")
    assert not webhooks.matches("document.*", "documents.signed")
    assert not webhooks.matches("document.signed", "document.signed.late")
    org = organisation()
    for url, types in (
        ("ftp://example.org/", ["*"]),
        ("/relative", ["*"]),
        ("https://example.org/#x", ["*"]),
        ("https://example.org/", []),
        ("https://example.org/", ["document"]),
        ("https://example.org/", ["doc*"]),
        ("https://example.org/", ["*.signed"]),
        ("https://example.org/", ["Document.Signed"]),
        ("https://example.org/", ["document..signed"]),
    ):
        with db.transaction() as session, pytest.raises(webhooks.InvalidWebhook):
            webhooks.create_subscription(session, actor=Actor.operator(org), url=url, event_types=types, cipher=cipher)


def test_emit_checks_the_type_and_the_payload(db: Database) -> None:
    with db.transaction() as session:
        for type in ("signed", "Document.signed", "document.", "document signed"):
            with pytest.raises(ValueError):
                outbox.emit(session, organisation_id="o", type=type, subject="document:1", payload={})
        with pytest.raises(ValueError):
            outbox.emit(
                session, organisation_id="o", type="document.signed", subject="document:1", payload={"x": {1, 2}}
            )
        assert outbox.emit_many(session, []) == []


def test_webhook_test_reaches_only_the_subscription_under_test(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    tried, _ = subscribe(db, cipher, organisation_id=org, url=f"{receiver.url}/tried", event_types=["document.signed"])
    subscribe(db, cipher, organisation_id=org, url=f"{receiver.url}/other", event_types=["*"])
    with db.transaction() as session:
        delivery = webhooks.send_test(session, actor=Actor.operator(org), subscription_id=tried)
        assert (delivery.subscription_id, delivery.status, delivery.event.type) == (tried, "pending", "webhook.test")
    drain(db, options)

    (got,) = receiver.wait_for(1)
    receiver.quiet_for(0.2)
    assert got.path == "/tried"
    assert got.event["type"] == "webhook.test" and got.event["data"]["subscription_id"] == tried
    with db.transaction() as session:
        (logged,) = webhooks.list_deliveries(session, actor=Actor.operator(org), subscription_id=tried)
        assert (logged.status, logged.event.type) == ("delivered", "webhook.test")
        assert (
            webhooks.list_deliveries(
                session, actor=Actor.operator(org), subscription_id=tried, status=DeliveryStatus.DEAD
            )
            == []
        )


def test_one_emit_many_fans_a_batch_out(db: Database, cipher: SecretCipher) -> None:
    a, b = organisation(), organisation()
    subscribe(db, cipher, organisation_id=a, url="https://a.example/", event_types=["step.*"])
    subscribe(db, cipher, organisation_id=b, url="https://b.example/", event_types=["step.overdue"])
    with db.transaction() as session:
        events = outbox.emit_many(
            session,
            [
                outbox.Event(organisation_id=org, type=type, subject=f"step:{n}", payload={"n": n})
                for n, (org, type) in enumerate(
                    [(a, "step.due_soon"), (a, "step.overdue"), (b, "step.due_soon"), (b, "step.overdue")]
                )
            ],
        )
    assert len(events) == 4
    fanned = {(d.organisation_id, d.event_id) for d in deliveries(db)}
    assert fanned == {(a, events[0].id), (a, events[1].id), (b, events[3].id)}
