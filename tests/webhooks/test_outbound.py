"""Outbound safety: no webhook reaches this host's network unless the operator allows it, and a failed
delivery tells the subscriber what kind of failure it was, not what the library said."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

import webhooks
from api.app import create_app
from esign import outbox
from esign.cipher import SecretCipher
from esign.db import Database
from esign.errors import Forbidden
from esign.identity import Actor, Role, Scope
from esign.settings import Settings
from tests.api.served import free_port
from tests.webhooks.conftest import deliveries, drain, organisation, subscribe
from tests.webhooks.receiver import Receiver
from tests.world import World
from webhooks import DeliveryOptions, RetryPolicy
from webhooks.outbound import REFUSED_PRIVATE, describe

FORBIDDEN = (
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[fc00::1]/hook",
    "http://[fd12:3456::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost:8000/hook",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
)


def _create(db: Database, cipher: SecretCipher, url: str, *, allow_private: bool = False) -> None:
    with db.transaction() as session:
        webhooks.create_subscription(
            session,
            actor=Actor.operator(organisation()),
            url=url,
            event_types=["*"],
            cipher=cipher,
            allow_private=allow_private,
        )


@pytest.mark.parametrize("url", FORBIDDEN)
def test_private_loopback_and_link_local_hosts_are_refused(db: Database, cipher: SecretCipher, url: str) -> None:
    with pytest.raises(webhooks.InvalidWebhook, match="ESIGN_WEBHOOKS_ALLOW_PRIVATE"):
        _create(db, cipher, url)


def test_only_administrators_see_or_change_subscriptions(db: Database, cipher: SecretCipher) -> None:
    """The services check it themselves, whichever route or page calls them."""
    org = organisation()
    made, _ = subscribe(db, cipher, organisation_id=org, url="https://hooks.example.org/in", event_types=["*"])
    official = Actor(
        organisation_id=org,
        official_id="someone",
        system_name=None,
        roles=frozenset({Role.OFFICIAL, Role.CLERK}),
        scopes=frozenset(Scope),
    )
    with db.transaction() as session:
        for attempt in (
            lambda: webhooks.list_subscriptions(session, actor=official),
            lambda: webhooks.get_subscription(session, actor=official, subscription_id=made),
            lambda: webhooks.disable_subscription(session, actor=official, subscription_id=made),
            lambda: webhooks.send_test(session, actor=official, subscription_id=made),
            lambda: webhooks.create_subscription(
                session, actor=official, url="https://hooks.example.org/x", event_types=["*"], cipher=cipher
            ),
        ):
            with pytest.raises(Forbidden):
                attempt()
    with db.transaction() as session:
        [kept] = webhooks.list_subscriptions(session, actor=Actor.operator(org))
        assert kept.active and kept.id == made


def test_the_operator_may_allow_private_hosts(db: Database, cipher: SecretCipher) -> None:
    for url in FORBIDDEN:
        _create(db, cipher, url, allow_private=True)


def test_public_hosts_and_names_are_taken_without_resolving(db: Database, cipher: SecretCipher) -> None:
    for url in ("https://93.184.216.34/hook", "https://[2606:4700::1]/hook", "https://hooks.example.org/x"):
        _create(db, cipher, url)


@pytest.fixture
def strict_api(db_settings: Settings) -> Iterator[TestClient]:
    """The API as deployed by default: private webhook addresses not allowed."""
    settings = db_settings.model_copy(update={"webhooks_allow_private": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_api_answers_422_naming_the_url(strict_api: TestClient, world: World) -> None:
    admin = world.orgs["A"].members["admin"].headers
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/", "http://169.254.169.254/"):
        response = strict_api.post("/v1/webhooks", headers=admin, json={"url": url, "event_types": ["*"]})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_request"
        assert response.json()["message"].startswith("url:")
    fine = strict_api.post("/v1/webhooks", headers=admin, json={"url": "https://example.org/h", "event_types": ["*"]})
    assert fine.status_code == 201


def _emit(db: Database, organisation_id: str) -> None:
    with db.transaction() as session:
        outbox.emit(session, organisation_id=organisation_id, type="document.signed", subject="d", payload={})


def _once(options: DeliveryOptions, **changes: object) -> DeliveryOptions:
    return replace(options, retry=RetryPolicy(max_attempts=1), **changes)  # type: ignore[arg-type]


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    """The DNS trick: a public-looking name, accepted when subscribed, that resolves to the loopback."""
    receiver = receivers()
    port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
    looked_up: list[tuple[str, int]] = []

    def to_loopback(host: str, port: int) -> list[str]:
        looked_up.append((host, port))
        return ["93.184.216.34", "127.0.0.1"]

    org = organisation()
    _create_for(db, cipher, org, f"http://rebind.example.test:{port}/hook")
    _emit(db, org)
    drain(db, _once(options, allow_private=False, resolver=to_loopback))
    (dead,) = deliveries(db)
    assert (dead.status, dead.last_error, dead.last_status_code) == ("dead", REFUSED_PRIVATE, None)
    assert looked_up == [("rebind.example.test", port)]
    receiver.quiet_for(0.1)
    assert receiver.arrivals == 0, "nothing was sent"


def test_an_address_subscribed_while_allowed_is_refused_once_the_setting_is_off(
    db: Database, cipher: SecretCipher, options: DeliveryOptions, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=receiver.url, event_types=["*"])
    _emit(db, org)
    drain(db, _once(options, allow_private=False))
    (dead,) = deliveries(db)
    assert (dead.status, dead.last_error) == ("dead", REFUSED_PRIVATE)
    assert receiver.arrivals == 0

    _emit(db, org)
    drain(db, _once(options, allow_private=True))
    assert sorted(d.status for d in deliveries(db)) == ["dead", "delivered"]
    assert receiver.arrivals == 1


def _create_for(db: Database, cipher: SecretCipher, org: str, url: str) -> None:
    with db.transaction() as session:
        webhooks.create_subscription(session, actor=Actor.operator(org), url=url, event_types=["*"], cipher=cipher)


def _last_error(db: Database, cipher: SecretCipher, options: DeliveryOptions, url: str) -> str | None:
    org = organisation()
    subscribe(db, cipher, organisation_id=org, url=url, event_types=["*"])
    _emit(db, org)
    drain(db, _once(options))
    (dead,) = [d for d in deliveries(db) if d.organisation_id == org]
    assert dead.status == "dead"
    return dead.last_error


def test_failures_are_told_in_neutral_terms(db: Database, cipher: SecretCipher, options: DeliveryOptions) -> None:
    port = free_port()
    refused = _last_error(db, cipher, options, f"http://127.0.0.1:{port}/")
    assert refused == "connection refused"

    # A listener that never answers: the attempt times out.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        quick = replace(options, timeout=timedelta(milliseconds=300))
        assert _last_error(db, cipher, quick, f"http://127.0.0.1:{silent.getsockname()[1]}/") == "timed out"
    finally:
        silent.close()

    # A plain-HTTP listener asked for TLS.
    plain = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer_garbage() -> None:
        while not stop.is_set():
            try:
                conn, _ = plain.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        assert _last_error(db, cipher, options, f"https://127.0.0.1:{plain.getsockname()[1]}/") == "TLS error"
    finally:
        stop.set()
        plain.close()
        thread.join(timeout=5)

    def unknown(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    org = organisation()
    _create_for(db, cipher, org, "https://nowhere.example.test/")
    _emit(db, org)
    drain(db, _once(options, allow_private=False, resolver=unknown))
    (dead,) = [d for d in deliveries(db) if d.organisation_id == org]
    assert dead.last_error == "host not found"

    for error in (d.last_error or "" for d in deliveries(db)):
        assert "127.0.0.1" not in error and "Error" not in error and "errno" not in error.lower(), error


def test_describe_hides_the_exception_text() -> None:
    request = httpx.Request("POST", "http://10.1.2.3:8080/")
    tls = httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)", request=request)
    tls.__cause__ = ssl.SSLError(1, "wrong version number")
    cases = {
        "connection refused": httpx.ConnectError("[Errno 111] Connection refused to 10.1.2.3", request=request),
        "timed out": httpx.ReadTimeout("timed out reading from 10.1.2.3", request=request),
        "TLS error": tls,
        "protocol error": httpx.RemoteProtocolError("Server disconnected without sending a response."),
        "request failed": httpx.ReadError("[Errno 104] Connection reset by peer", request=request),
    }
    for expected, error in cases.items():
        assert describe(error) == expected
