"""The worker: a process killed mid-delivery, clean stops on SIGTERM/SIGINT, the embedded thread, job errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

import webhooks
from esign import outbox, worker
from esign.cipher import SecretCipher
from esign.db import Database
from esign.ids import now
from tests.webhooks.conftest import deliveries, drain, organisation, subscribe
from tests.webhooks.receiver import Receiver
from webhooks import DeliveryOptions, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(db: Database, *args: str) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "tests.webhooks.worker_process", db.url.render_as_string(hide_password=False)]
    if db.schema:
        command += ["--schema", db.schema]
    # A session of its own: the signals a test sends reach this worker alone, and nothing sent to the test
    # runner's process group (an xdist worker's, a terminal's Ctrl-C) reaches it.
    process = subprocess.Popen(
        [*command, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "worker started: deliver_webhooks" in line, line
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_a_worker_killed_during_the_call_loses_nothing(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    # The first call is held open until the worker is gone. The worker's own timeout is far longer than any
    # scheduling delay between the call arriving and the kill, so the kill always lands during the call.
    receiver = receivers(hold_first=1, hold_seconds=60)
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    with worker_process(db, "--lease", "120", "--timeout", "60") as process:
        with db.transaction() as session:
            event_id = outbox.emit(session, organisation_id=org, type="document.signed", subject="document:1").id
        receiver.wait_for_arrivals(1)
        process.send_signal(signal.SIGKILL)  # after its claim committed, before any outcome was recorded
        assert process.wait(timeout=10) == -signal.SIGKILL
    receiver.release()
    (in_flight,) = deliveries(db)
    assert (in_flight.status, in_flight.attempts) == ("pending", 1)
    assert in_flight.lease_id is not None, "claimed, and no outcome recorded"
    assert in_flight.last_attempt_at is not None and in_flight.next_attempt_at is not None
    assert in_flight.next_attempt_at - in_flight.last_attempt_at == timedelta(seconds=120), "leased until then"
    assert webhooks.deliver_due(db, options) == 0, "nobody takes over a leased attempt"

    # The lease runs out (moved to the past rather than waited for), and a new worker takes the attempt over.
    with db.transaction() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == in_flight.id).values(next_attempt_at=now()))
    drain(db, options, timeout=10)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    got = receiver.wait_for(2)
    receiver.quiet_for(0.2)
    assert 1 <= len(got) <= 2, "at least once, and at most one duplicate for one lost worker"
    assert {r.event_id for r in got} == {event_id}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_stops_cleanly_on_a_signal(
    db: Database, cipher: SecretCipher, receivers: Callable[..., Receiver], signum: signal.Signals
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    with worker_process(db) as process:
        with db.transaction() as session:
            outbox.emit(session, organisation_id=org, type="document.signed", subject="document:1")
        receiver.wait_for(1)
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        output = process.stdout.read()
    assert f"{signum.name} received" in output and "worker stopped" in output
    (delivery,) = deliveries(db)
    assert delivery.status == "delivered"


def test_the_embedded_worker_delivers_in_the_background_and_stops(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    background = worker.start_background(
        db, [webhooks.delivery_job(options)], options=worker.WorkerOptions(idle_seconds=0.02)
    )
    try:
        with db.transaction() as session:
            outbox.emit(session, organisation_id=org, type="document.signed", subject="document:1")
        receiver.wait_for(1)
    finally:
        assert background.stop(timeout=10)
    assert not background.thread.is_alive()


def test_a_database_error_is_retried_and_a_bug_ends_the_loop(db: Database) -> None:
    calls: list[str] = []
    stop = threading.Event()

    def flaky(database: Database) -> int:
        calls.append("flaky")
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        if len(calls) >= 3:
            stop.set()
        return 1

    worker.run(db, [flaky], stop=stop, options=worker.WorkerOptions(idle_seconds=0.01, error_seconds=0.01))
    assert len(calls) == 3, "the loop went on after the database error"

    def broken(database: Database) -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        worker.run(db, [broken], stop=threading.Event())


def test_rounds_with_work_do_not_sleep_and_idle_rounds_do(db: Database) -> None:
    stop = threading.Event()
    rounds: list[float] = []

    def job(database: Database) -> int:
        rounds.append(time.monotonic())
        if len(rounds) == 6:
            stop.set()
        return 1 if len(rounds) <= 3 else 0

    worker.run(db, [job], stop=stop, options=worker.WorkerOptions(idle_seconds=0.1))
    assert rounds[2] - rounds[0] < 0.05, "busy rounds follow each other"
    assert rounds[5] - rounds[3] >= 0.2, "idle rounds sleep"
