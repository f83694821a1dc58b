"""Every POST that creates something honours Idempotency-Key: a retry answers the same and creates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

import webhooks
from api.app import create_app
from esign.db import Database
from esign.idempotency import IdempotencyRecord
from esign.settings import Settings
from tests.conftest import make_pdf
from tests.world import PIN, World


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


def _twice(api: TestClient, path: str, headers: dict[str, str], key: str, **kwargs: object) -> tuple:
    first = api.post(path, headers={**headers, "Idempotency-Key": key}, **kwargs)
    again = api.post(path, headers={**headers, "Idempotency-Key": key}, **kwargs)
    return first, again


def test_creating_posts_replay_their_first_answer(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    admin, leader, clerk = a.members["admin"].headers, a.members["leader"], a.members["clerk"]

    first, again = _twice(api, "/v1/departments", admin, "dept-1", json={"name": "督查室"})
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert [d["name"] for d in api.get("/v1/departments", headers=admin).json()].count("督查室") == 1
    conflict = api.post("/v1/departments", headers={**admin, "Idempotency-Key": "dept-1"}, json={"name": "另一个"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"

    first, again = _twice(
        api,
        "/v1/officials",
        admin,
        "off-1",
        json={"name": "新同志", "department_id": first.json()["id"], "roles": ["official"]},
    )
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]

    first, again = _twice(api, "/v1/credentials", leader.headers, "cred-1", json={"pin": PIN})
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert len(api.get("/v1/credentials", headers=leader.headers).json()) == 2

    first, again = _twice(api, "/v1/tokens", admin, "tok-1", json={"name": "OA"})
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["token"] == again.json()["token"]

    document = api.post(
        "/v1/documents", headers=clerk.headers, files={"file": ("d.pdf", make_pdf(), "application/pdf")}
    ).json()["id"]
    first, again = _twice(
        api,
        f"/v1/documents/{document}/sign",
        leader.headers,
        "sign-1",
        json={"credential_id": leader.credential_id, "pin": PIN},
    )
    assert (first.status_code, again.status_code) == (200, 200) and first.json() == again.json()
    assert len(api.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()) == 2, "signed once"

    route = {
        "definition": {"stages": [{"steps": [{"kind": "comment", "assignee": {"official_id": leader.official_id}}]}]}
    }
    first, again = _twice(api, f"/v1/documents/{document}/route", clerk.headers, "route-1", json=route)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    [step] = [s for s in api.get("/v1/inbox", headers=leader.headers).json()["steps"] if s["document_id"] == document]
    first, again = _twice(api, f"/v1/steps/{step['id']}/complete", leader.headers, "step-1", json={"opinion": "阅"})
    assert (first.status_code, again.status_code) == (200, 200) and again.json()["state"] == "done"

    template = {"name": "简易", "definition": route["definition"]}
    first, again = _twice(api, "/v1/route-templates", admin, "tpl-1", json=template)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["version"] == again.json()[
        "version"
    ] == 1


def test_secrets_are_not_kept_in_the_clear(api: TestClient, world: World, db: Database) -> None:
    """A token or session shown once is replayed from an encrypted answer; a PIN never shapes a fingerprint."""
    a = world.orgs["A"]
    admin, leader = a.members["admin"].headers, a.members["leader"]
    first, again = _twice(api, "/v1/tokens", admin, "tok-secret", json={"name": "OA"})
    token = first.json()["token"]
    assert again.json()["token"] == token
    assert api.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code != 401, "the token works"

    first, again = _twice(
        api,
        f"/v1/credentials/{leader.credential_id}/sessions",
        leader.headers,
        "sess-secret",
        json={"pin": PIN, "max_signatures": 2, "ttl_seconds": 60},
    )
    assert first.status_code == 201 and again.json()["session"] == first.json()["session"]

    with db.transaction() as session:
        kept = [r.response or "" for r in session.scalars(select(IdempotencyRecord))]
    assert kept and not any(token in answer or first.json()["session"] in answer for answer in kept)

    # The PIN is not part of the fingerprint: a retry that mistyped it replays the first answer instead
    # of conflicting, and the kept fingerprint cannot be searched for the PIN.
    document = api.post(
        "/v1/documents", headers=a.members["clerk"].headers, files={"file": ("d.pdf", make_pdf(), "application/pdf")}
    ).json()["id"]
    body = {"credential_id": leader.credential_id, "pin": PIN}
    signed = api.post(
        f"/v1/documents/{document}/sign", headers={**leader.headers, "Idempotency-Key": "pin-1"}, json=body
    )
    retried = api.post(
        f"/v1/documents/{document}/sign",
        headers={**leader.headers, "Idempotency-Key": "pin-1"},
        json={**body, "pin": "999999"},
    )
    assert signed.status_code == retried.status_code == 200 and signed.json() == retried.json()


def _upload(api: TestClient, headers: dict[str, str], key: str, data: bytes) -> Response:
    return api.post(
        "/v1/documents", headers={**headers, "Idempotency-Key": key}, files={"file": ("d.pdf", data, "application/pdf")}
    )


def test_intake_and_registration_replay_their_first_answer(api: TestClient, world: World, db: Database) -> None:
    """A replay answers what the first request got, even after the document moved on; it creates nothing."""
    clerk = world.orgs["A"].members["clerk"].headers
    data = make_pdf(text="intake")
    first = _upload(api, clerk, "in-1", data)
    assert first.status_code == 201, first.text
    document = first.json()["id"]

    registered, again = _twice(api, f"/v1/documents/{document}/register", clerk, "reg-1")
    assert (registered.status_code, again.status_code) == (200, 200) and registered.json() == again.json()
    assert registered.json()["number"] is not None
    assert len(api.get(f"/v1/documents/{document}/revisions", headers=clerk).json()) == 2, "numbered once"

    replay = _upload(api, clerk, "in-1", data)
    assert replay.status_code == 200 and replay.json() == first.json(), "the first answer, not the document now"
    assert replay.json()["number"] is None and replay.json()["revisions"] == 1

    conflict = _upload(api, clerk, "in-1", make_pdf(text="another PDF"))
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    rendered = api.post(
        "/v1/documents",
        headers={**clerk, "Idempotency-Key": "in-1"},
        json={"content": {"title": "通知", "body": ["正文"]}},
    )
    assert rendered.status_code in (409, 422), "a rendered intake under an upload's key is not a replay"

    official = world.orgs["A"].members["official"].headers
    refused = api.post(f"/v1/documents/{document}/register", headers={**official, "Idempotency-Key": "reg-1"})
    assert refused.status_code == 403 and "number" not in refused.text, "registration is a clerk's, replay or not"


def test_a_step_action_replays_only_to_whom_may_act_on_the_step(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    clerk, leader = a.members["clerk"].headers, a.members["leader"]
    document = _upload(api, clerk, "doc-step", make_pdf()).json()["id"]
    route = {
        "definition": {
            "stages": [
                {"steps": [{"kind": "comment", "assignee": {"official_id": leader.official_id}}]},
                {"steps": [{"kind": "comment", "assignee": {"official_id": leader.official_id}}]},
            ]
        }
    }
    assert api.post(f"/v1/documents/{document}/route", headers=clerk, json=route).status_code == 201
    [step] = [s for s in api.get("/v1/inbox", headers=leader.headers).json()["steps"] if s["document_id"] == document]

    body = {"opinion": "同意"}
    first, again = _twice(api, f"/v1/steps/{step['id']}/approve", leader.headers, "approve-1", json=body)
    assert (first.status_code, again.status_code) == (200, 200) and first.json() == again.json()
    assert first.json()["state"] == "done"

    for member in ("official", "clerk", "admin"):
        headers = {**a.members[member].headers, "Idempotency-Key": "approve-1"}
        other = api.post(f"/v1/steps/{step['id']}/approve", headers=headers, json=body)
        assert other.status_code in (403, 404), (member, other.text)
        assert step["id"] not in other.text and "同意" not in other.text, "another official never sees the step"
    b_leader = {**world.orgs["B"].members["leader"].headers, "Idempotency-Key": "approve-1"}
    elsewhere = api.post(f"/v1/steps/{step['id']}/approve", headers=b_leader, json=body)
    assert elsewhere.status_code == 404

    conflict = api.post(
        f"/v1/steps/{step['id']}/approve",
        headers={**leader.headers, "Idempotency-Key": "approve-1"},
        json={"opinion": "不同意"},
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"


def test_webhook_creation_replays_its_first_answer_sealed(api: TestClient, world: World, db: Database) -> None:
    admin = world.orgs["A"].members["admin"].headers
    body = {"url": "https://example.org/replayed", "event_types": ["document.*"]}
    first, again = _twice(api, "/v1/webhooks", admin, "hook-1", json=body)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    assert len(api.get("/v1/webhooks", headers=admin).json()) == 1
    with db.transaction() as session:
        kept = [r.response or "" for r in session.scalars(select(IdempotencyRecord))]
    assert kept and not any(secret in answer for answer in kept), "the answer is kept sealed"

    official = world.orgs["A"].members["official"].headers
    refused = api.post("/v1/webhooks", headers={**official, "Idempotency-Key": "hook-1"}, json=body)
    assert refused.status_code == 403 and secret not in refused.text

    conflict = api.post(
        "/v1/webhooks", headers={**admin, "Idempotency-Key": "hook-1"}, json={**body, "url": "https://x.org/"}
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"

    with db.transaction() as session:
        for record in session.scalars(select(IdempotencyRecord)):
            record.created_at = record.created_at - webhooks.SECRET_REPLAY_WINDOW - timedelta(minutes=1)
    late = api.post("/v1/webhooks", headers={**admin, "Idempotency-Key": "hook-1"}, json=body)
    assert late.status_code == 200 and late.json() == {**first.json(), "secret": None}, "after a day, no secret"
