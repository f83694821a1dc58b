"""An external system posts a document onto a route with its token, learns by webhook how it moves, and
fetches the final PDF, its verification report and its timeline; a concurrent duplicate creates nothing."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from documents.circulation.model import Route
from documents.records import Document
from esign.cipher import SecretCipher
from esign.db import Database
from esign.settings import Settings
from keys import authorities
from tests.conftest import make_pdf
from tests.documents.circulation.conftest import Extra
from tests.webhooks.conftest import FAST, drain
from tests.webhooks.receiver import Receiver, receiver_namespace
from tests.world import World
from webhooks import DeliveryOptions

CONTENT = {
    "kind": "letter",
    "issuer": "甲市人民政府办公室",
    "title": "关于报送数据的函",
    "date": "2026-11-23",
    "recipients": ["乙县人民政府"],
    "body": [{"type": "paragraph", "text": "请于两个工作日内报送。"}],
}


@pytest.fixture
def db_settings(db_settings: Settings) -> Settings:
    """The receiver listens on 127.0.0.1: private webhook addresses allowed, as an operator would allow them."""
    return db_settings.model_copy(update={"webhooks_allow_private": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()


def _template(api: TestClient, admin: dict[str, str], department: str) -> str:
    body = {
        "name": "OA 来文",
        "direction": "incoming",
        "definition": {
            "stages": [
                {"name": "承办", "steps": [{"kind": "handling", "assignee": {"department_id": department}}]},
                {"name": "办结", "steps": [{"kind": "closure", "assignee": {"role": "clerk"}}]},
            ]
        },
    }
    response = api.post("/v1/route-templates", headers=admin, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _open_step(api: TestClient, headers: dict[str, str], document: str) -> str:
    [step] = [s for s in api.get("/v1/inbox", headers=headers).json()["steps"] if s["document_id"] == document]
    return str(step["id"])


def test_a_system_posts_onto_a_route_follows_it_by_webhook_and_fetches_the_result(
    api: TestClient, world: World, extra: Extra, db: Database, db_settings: Settings, receiver: Receiver, ec_signer
) -> None:
    from esign.sign import sign

    a = world.orgs["A"]
    admin, clerk = a.members["admin"].headers, a.members["clerk"].headers
    system = {
        "Authorization": "Bearer " + api.post("/v1/tokens", headers=admin, json={"name": "OA 系统"}).json()["token"]
    }
    template = _template(api, admin, extra.legal)
    hook = api.post(
        "/v1/webhooks", headers=admin, json={"url": receiver.url, "event_types": ["step.assigned", "route.*"]}
    )
    assert hook.status_code == 201
    secret = hook.json()["secret"]

    signed = sign(make_pdf(text="data request"), ec_signer)
    posted: list[Response] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        posted.append(
            api.post(
                "/v1/documents",
                headers={**system, "Idempotency-Key": "oa-2026-0042"},
                data={"title": "关于报送数据的函", "kind": "letter", "route_template_id": template},
                files={"file": ("in.pdf", signed, "application/pdf")},
            )
        )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in posted) == [200, 200, 200, 201], [r.text for r in posted]
    [document] = {r.json()["id"] for r in posted}
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 1
        assert session.scalar(select(func.count()).select_from(Route)) == 1, "one route, started with the document"

    handling = _open_step(api, extra.legal_headers, document)
    assert (
        api.post(f"/v1/steps/{handling}/approve", headers=extra.legal_headers, json={"opinion": "数据已报"}).status_code
        == 200
    )
    closure = _open_step(api, clerk, document)
    assert api.post(f"/v1/steps/{closure}/approve", headers=clerk, json={}).status_code == 200

    done = api.get(f"/v1/documents/{document}", headers=system).json()
    assert done["state"] == "archived" and done["title"] == "关于报送数据的函"
    final = api.get(f"/v1/documents/{document}/pdf", headers=system).content
    assert hashlib.sha256(final).digest() == hashlib.sha256(signed).digest()
    report = api.get(f"/v1/documents/{document}/verification", headers=system).json()
    assert len(report["signatures"]) == 1 and report["signatures"][0]["intact"] is True
    timeline = api.get(f"/v1/documents/{document}/timeline", headers=system).json()
    opinions = [e["detail"].get("opinion") for e in timeline if e["type"] == "step.approve"]
    assert "数据已报" in opinions

    options = DeliveryOptions(
        cipher=SecretCipher.derive(authorities.passphrase(db_settings)), retry=FAST, allow_private=True
    )
    drain(db, options)
    events = receiver.wait_for(3)
    verify = receiver_namespace()["verify"]
    assert all(verify(secret, e.body, e.headers["Esign-Signature"]) for e in events)
    assert sorted(e.event["type"] for e in events) == ["route.completed", "step.assigned", "step.assigned"], (
        "deliveries run in parallel, so in no fixed order"
    )
    assert {e.event["data"].get("document_id") for e in events} == {document}
    receiver.quiet_for(0.2)


def test_a_route_template_that_cannot_start_stores_nothing(api: TestClient, world: World, db: Database) -> None:
    a = world.orgs["A"]
    system = {
        "Authorization": "Bearer "
        + api.post("/v1/tokens", headers=a.members["admin"].headers, json={"name": "OA"}).json()["token"]
    }
    other = _template(api, world.orgs["B"].members["admin"].headers, world.orgs["B"].department_id)
    for template in ("no-such-template", other):
        response = api.post(
            "/v1/documents",
            headers=system,
            data={"route_template_id": template},
            files={"file": ("in.pdf", make_pdf(), "application/pdf")},
        )
        assert response.status_code == 404 and response.json()["code"] == "not_found", response.text
    retired = _template(api, a.members["admin"].headers, a.department_id)
    assert api.post(f"/v1/route-templates/{retired}/retire", headers=a.members["admin"].headers).status_code == 200
    response = api.post("/v1/documents", headers=system, json={"content": CONTENT, "route_template_id": retired})
    assert response.status_code == 409, response.text
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
