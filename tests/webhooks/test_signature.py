"""What a receiver gets, and that the documented receiver code accepts it (and rejects forgeries and replays)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import webhooks
from esign import outbox
from esign.cipher import SecretCipher
from esign.db import Database
from esign.errors import SecretUnreadable
from tests.webhooks.conftest import drain, organisation, subscribe
from tests.webhooks.receiver import RECEIVER_CODE, Receiver, receiver_namespace
from webhooks import DeliveryOptions, WebhookSubscription

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_delivery_verifies_with_the_documented_receiver_code(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    _, secret = subscribe(
        db, cipher, organisation_id=org, url=receiver.url + "/hooks/esign", event_types=["document.*"]
    )
    payload = {"document_id": "d-1", "title": "关于开展安全生产检查的通知", "revision": 3}
    with db.transaction() as session:
        event = outbox.emit(
            session, organisation_id=org, type="document.signed", subject="document:d-1", payload=payload
        )
        event_id = event.id
    drain(db, options)

    (got,) = receiver.wait_for(1)
    assert got.path == "/hooks/esign"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Esign-Event-Id"] == event_id
    body = got.event
    assert body == {
        "id": event_id,
        "type": "document.signed",
        "created_at": body["created_at"],
        "organisation_id": org,
        "subject": "document:d-1",
        "data": payload,
    }
    assert body["created_at"].endswith("Z")

    handled: list[dict[str, Any]] = []
    receiver_code = receiver_namespace(handle=handled.append)
    receiver_code["SECRET"] = secret
    verify, receive = receiver_code["verify"], receiver_code["receive"]
    header = got.headers["Esign-Signature"]
    assert verify(secret, got.body, header)
    assert receive(got.body, got.headers) == 200
    assert receive(got.body, got.headers) == 200, "a redelivery is acknowledged"
    assert [e["id"] for e in handled] == [event_id], "and handled once"

    t = int(header.split(",")[0].removeprefix("t="))
    assert abs(t - time.time()) < 60
    assert not verify(secret, got.body.replace(b"d-1", b"d-2"), header), "a changed body"
    assert not verify("whsec_another", got.body, header), "another secret"
    assert not verify(secret, got.body, header, now=t + 301), "a replay after five minutes"
    assert verify(secret, got.body, header, now=t + 299)
    assert not verify(secret, got.body, header, now=t - 301), "a timestamp far ahead"
    assert not verify(secret, got.body, "v1=" + header.split("v1=")[1]), "no timestamp"
    assert not verify(secret, got.body, f"t={t + 1}," + header.split(",")[1]), "another timestamp"
    assert receive(got.body.replace(b"d-1", b"d-2"), got.headers) == 400


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # A fixed vector, so that receivers in other languages can check their code against it.
    header = webhooks.signature_header("whsec_test", b'{"id":"1"}', 1700000000)
    assert header == "t=1700000000,v1=11bf4466ea17c3df3fd743af0b435368e16b7a05eb8eced85e8c4670767bdec5"


def test_the_readme_shows_the_receiver_code_the_tests_run() -> None:
    shown = RECEIVER_CODE.strip() in README.read_text(encoding="utf-8")
    assert shown, "README's Webhooks section must show tests/webhooks/receiver.py's RECEIVER_CODE verbatim"


def test_secrets_are_stored_encrypted_and_bound_to_their_subscription(db: Database, cipher: SecretCipher) -> None:
    org = organisation()
    first, secret = subscribe(db, cipher, organisation_id=org, url="https://example.org/a", event_types=["*"])
    second, _ = subscribe(db, cipher, organisation_id=org, url="https://example.org/b", event_types=["*"])
    assert secret.startswith("whsec_") and len(secret) > 40
    with db.transaction() as session:
        stored = {s.id: s.encrypted_secret for s in session.scalars(select(WebhookSubscription))}
    assert secret not in stored[first] and secret[6:] not in stored[first]
    assert cipher.decrypt(stored[first], context=f"webhook:{org}:{first}") == secret
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(stored[first], context=f"webhook:{org}:{second}")
    with pytest.raises(SecretUnreadable):
        SecretCipher.derive(b"another server secret").decrypt(stored[first], context=f"webhook:{org}:{first}")
