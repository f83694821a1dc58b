"""The webhook routes: administrators only, one organisation's subscriptions only, the secret shown once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.cipher import SecretCipher
from esign.db import Database
from esign.settings import Settings
from keys import authorities
from tests.webhooks.conftest import FAST, drain
from tests.webhooks.receiver import Receiver, receiver_namespace
from tests.world import World
from webhooks import DeliveryOptions


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def served_options(db_settings: Settings) -> DeliveryOptions:
    """What ``esign worker`` builds: the cipher from the same server secret the API uses."""
    return DeliveryOptions(
        cipher=SecretCipher.derive(authorities.passphrase(db_settings)),
        retry=FAST,
        allow_private=db_settings.webhooks_allow_private,
    )


def test_webhooks_need_an_administrator(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    body = {"url": "https://example.org/hook", "event_types": ["document.*"]}
    for member in ("official", "leader", "clerk", "custodian"):
        headers = a.members[member].headers
        assert api.post("/v1/webhooks", headers=headers, json=body).status_code == 403, member
        response = api.get("/v1/webhooks", headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "forbidden", member
    assert api.post("/v1/webhooks", json=body).status_code == 401
    system = api.post("/v1/tokens", headers=a.members["admin"].headers, json={"name": "OA 系统"}).json()["token"]
    assert api.get("/v1/webhooks", headers={"Authorization": f"Bearer {system}"}).status_code == 403

    created = api.post("/v1/webhooks", headers=a.members["admin"].headers, json=body)
    assert created.status_code == 201
    subscription_id = created.json()["id"]
    for method, path in (
        ("get", f"/v1/webhooks/{subscription_id}"),
        ("get", f"/v1/webhooks/{subscription_id}/deliveries"),
        ("post", f"/v1/webhooks/{subscription_id}/test"),
        ("post", f"/v1/webhooks/{subscription_id}/disable"),
        ("post", f"/v1/webhooks/{subscription_id}/deliveries/x/redeliver"),
    ):
        assert api.request(method, path, headers=a.members["official"].headers).status_code == 403, path


def test_the_secret_is_shown_once(api: TestClient, world: World) -> None:
    admin = world.orgs["A"].members["admin"].headers
    body = {"url": "https://example.org/hook", "event_types": ["document.*", "receipt.received"]}
    first = api.post("/v1/webhooks", headers=admin | {"Idempotency-Key": "k-1"}, json=body)
    assert first.status_code == 201
    made = first.json()
    assert made["secret"].startswith("whsec_")
    assert (made["url"], made["event_types"], made["active"]) == (body["url"], body["event_types"], True)

    shown = [
        api.get(f"/v1/webhooks/{made['id']}", headers=admin).json(),
        *api.get("/v1/webhooks", headers=admin).json(),
    ]
    assert all("secret" not in s for s in shown)
    assert made["secret"] not in api.get("/v1/webhooks", headers=admin).text

    replay = api.post("/v1/webhooks", headers=admin | {"Idempotency-Key": "k-1"}, json=body)
    assert replay.status_code == 200, "a retry of the same request answers what the first did"
    assert replay.json() == made
    other = api.post("/v1/webhooks", headers=admin, json=body).json()
    assert other["id"] != made["id"] and other["secret"] != made["secret"]
    conflict = api.post(
        "/v1/webhooks", headers=admin | {"Idempotency-Key": "k-1"}, json=body | {"url": "https://x.org/"}
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert len(api.get("/v1/webhooks", headers=admin).json()) == 2


def test_another_organisations_subscription_is_not_found(api: TestClient, world: World) -> None:
    a, b = world.orgs["A"].members["admin"].headers, world.orgs["B"].members["admin"].headers
    made = api.post("/v1/webhooks", headers=a, json={"url": "https://a.example/hook", "event_types": ["*"]}).json()
    delivery = api.post(f"/v1/webhooks/{made['id']}/test", headers=a).json()
    assert api.get("/v1/webhooks", headers=b).json() == []
    for method, path in (
        ("get", f"/v1/webhooks/{made['id']}"),
        ("get", f"/v1/webhooks/{made['id']}/deliveries"),
        ("post", f"/v1/webhooks/{made['id']}/test"),
        ("post", f"/v1/webhooks/{made['id']}/disable"),
        ("post", f"/v1/webhooks/{made['id']}/deliveries/{delivery['id']}/redeliver"),
    ):
        response = api.request(method, path, headers=b)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
        assert "a.example" not in response.text
    assert api.get(f"/v1/webhooks/{made['id']}", headers=a).json()["active"], "nothing changed for A"


def test_invalid_subscriptions_are_refused(api: TestClient, world: World) -> None:
    admin = world.orgs["A"].members["admin"].headers
    for body in (
        {"url": "ftp://example.org/", "event_types": ["*"]},
        {"url": "not a url", "event_types": ["*"]},
        {"url": "https://example.org/", "event_types": []},
        {"url": "https://example.org/", "event_types": ["Document Signed"]},
        {"url": "https://example.org/"},
    ):
        response = api.post("/v1/webhooks", headers=admin, json=body)
        assert response.status_code == 422 and response.json()["code"] == "invalid_request", body


def test_test_event_delivery_log_redelivery_and_disable_over_http(
    api: TestClient, world: World, db: Database, served_options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    admin = world.orgs["A"].members["admin"].headers
    made = api.post(
        "/v1/webhooks", headers=admin, json={"url": receiver.url, "event_types": ["document.signed"]}
    ).json()
    base = f"/v1/webhooks/{made['id']}"

    queued = api.post(f"{base}/test", headers=admin)
    assert queued.status_code == 202
    assert (queued.json()["event_type"], queued.json()["status"]) == ("webhook.test", "pending")
    drain(db, served_options)

    (got,) = receiver.wait_for(1)
    assert receiver_namespace()["verify"](made["secret"], got.body, got.headers["Esign-Signature"])
    assert got.event["type"] == "webhook.test" and got.event["organisation_id"] == world.orgs["A"].id
    (logged,) = api.get(f"{base}/deliveries", headers=admin).json()
    assert logged["id"] == queued.json()["id"] and logged["event_id"] == got.event_id
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == ("delivered", 1, 200)
    assert api.get(f"{base}/deliveries?status=dead", headers=admin).json() == []
    assert api.get(f"{base}/deliveries?status=lost", headers=admin).status_code == 422

    again = api.post(f"{base}/deliveries/{logged['id']}/redeliver", headers=admin)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    pending = api.post(f"{base}/deliveries/{logged['id']}/redeliver", headers=admin)
    assert pending.status_code == 409 and pending.json()["code"] == "delivery_pending"
    assert api.post(f"{base}/deliveries/nope/redeliver", headers=admin).status_code == 404
    drain(db, served_options)
    assert [r.event_id for r in receiver.wait_for(2)] == [got.event_id] * 2

    disabled = api.post(f"{base}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["active"] is False and disabled.json()["disabled_at"]
    refused = api.post(f"{base}/test", headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "subscription_disabled"
    assert api.post(f"{base}/deliveries/{logged['id']}/redeliver", headers=admin).status_code == 409
