"""Several workers on one queue: each delivery is made exactly once (FOR UPDATE SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

import webhooks
from esign import outbox, worker
from esign.cipher import SecretCipher
from esign.db import Database
from tests.support import require
from tests.webhooks.conftest import deliveries, organisation, subscribe
from tests.webhooks.receiver import Receiver
from webhooks import DeliveryOptions, WebhookDelivery

EVENTS = 200
WORKERS = 4


def _emit_batch(db: Database, organisation_id: str, count: int) -> list[str]:
    with db.transaction() as session:
        emitted = outbox.emit_many(
            session,
            [
                outbox.Event(
                    organisation_id=organisation_id, type="step.overdue", subject=f"step:{n}", payload={"n": n}
                )
                for n in range(count)
            ],
        )
        return [e.id for e in emitted]


def test_four_workers_deliver_a_batch_of_200_exactly_once(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["step.*"])
    emitted = _emit_batch(db, org, EVENTS)
    # Small batches, so that the four workers claim side by side many times over; a generous timeout, so that
    # no attempt fails on a loaded machine (a timed-out call may have arrived: a legitimate duplicate).
    busy = replace(options, batch_size=5, timeout=timedelta(seconds=30), lease=timedelta(seconds=120))
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=worker.run,
            args=(db, [webhooks.delivery_job(busy)]),
            kwargs={"stop": stop, "options": worker.WorkerOptions(idle_seconds=0.01)},
        )
        for _ in range(WORKERS)
    ]
    for thread in workers:
        thread.start()
    try:
        receiver.wait_for(EVENTS, timeout=120)
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=30)
    receiver.quiet_for(0.3)

    counts = Counter(r.event_id for r in receiver.received)
    assert set(counts) == set(emitted)
    assert max(counts.values()) == 1, [event for event, n in counts.items() if n > 1]
    odd = [(d.status, d.attempts, d.last_error) for d in deliveries(db) if (d.status, d.attempts) != ("delivered", 1)]
    assert odd == [], "every delivery made at its first attempt"


def test_claims_skip_rows_another_worker_holds(db: Database, cipher: SecretCipher, options: DeliveryOptions) -> None:
    require(db.dialect == "postgresql", "SKIP LOCKED is a PostgreSQL feature; SQLite serialises writers instead")
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url="http://127.0.0.1:9/", event_types=["*"])
    _emit_batch(db, org, 20)
    with db.transaction() as holder:
        held = {
            d.id
            for d in holder.scalars(
                select(WebhookDelivery).order_by(WebhookDelivery.next_attempt_at).limit(10).with_for_update()
            )
        }
        claimed: list[webhooks.ClaimedBatch] = []
        other = threading.Thread(target=lambda: claimed.append(webhooks.claim(db, options, limit=20)))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "the claim waited for the held rows instead of skipping them"
    (batch,) = claimed
    got = {c.delivery_id for c in batch.sends}
    assert len(got) == 10 and not got & held


def test_a_lease_keeps_a_claimed_delivery_from_other_workers(
    db: Database, cipher: SecretCipher, options: DeliveryOptions
) -> None:
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url="http://127.0.0.1:9/", event_types=["*"])
    _emit_batch(db, org, 3)
    first = webhooks.claim(db, replace(options, lease=timedelta(seconds=30)))
    second = webhooks.claim(db, options)
    assert len(first.sends) == 3 and second.sends == []
