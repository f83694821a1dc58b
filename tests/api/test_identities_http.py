"""Tokens, permissions and isolation between organisations, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from esign.audit import AuditEvent
from esign.db import Database
from esign.errors import Conflict
from esign.identity import Actor, Role
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, identities
from tests.world import PIN, World


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


def test_missing_unknown_and_expired_tokens_are_401(api: TestClient, world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer esk_not-a-token"}, world.orgs["A"].members["expired"].headers):
        response = api.get("/v1/officials", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"


def test_an_organisation_sees_only_its_own(api: TestClient, world: World) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    admin = a.members["admin"].headers
    names = {o["name"] for o in api.get("/v1/officials", headers=admin).json()}
    assert names and all(n.startswith("A-") for n in names)

    b_official = b.members["official"]
    b_serial = api.get(f"/v1/credentials/{b_official.credential_id}", headers=b.members["admin"].headers).json()[
        "certificate"
    ]["serial"]
    for method, path in (
        ("get", f"/v1/officials/{b_official.official_id}"),
        ("post", f"/v1/officials/{b_official.official_id}/disable"),
        ("get", f"/v1/credentials/{b_official.credential_id}"),
        ("post", f"/v1/credentials/{b_official.credential_id}/unlock"),
        ("post", f"/v1/departments/{b.department_id}/disable"),
    ):
        response = api.request(method, path, headers=admin)
        assert response.status_code == 404 and response.json()["code"] == "not_found", (method, path)
        assert "B-" not in response.text and b.name not in response.text, "no data of the other organisation"

    response = api.post(f"/v1/certificates/{b_serial}/revoke", headers=admin, json={"reason": "keyCompromise"})
    assert response.status_code == 404
    status = api.get(f"/v1/credentials/{b_official.credential_id}", headers=b.members["admin"].headers).json()["status"]
    assert status == "active", "nothing changed in the other organisation"


def test_administration_needs_the_admin_role(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    response = api.post("/v1/departments", headers=a.members["official"].headers, json={"name": "新处"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"

    response = api.post("/v1/departments", headers=a.members["admin"].headers, json={"name": "新处"})
    assert response.status_code == 201
    department = response.json()["id"]
    response = api.post(
        "/v1/officials",
        headers=a.members["admin"].headers,
        json={"name": "新人", "department_id": department, "roles": ["official", "clerk"]},
    )
    assert response.status_code == 201 and sorted(response.json()["roles"]) == ["clerk", "official"]
    response = api.post(
        "/v1/officials",
        headers=a.members["admin"].headers,
        json={"name": "x", "department_id": department, "roles": ["king"]},
    )
    assert response.status_code == 422


def test_disabled_official_loses_access(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    official = a.members["official"]
    assert api.get("/v1/organisation", headers=official.headers).status_code == 200
    assert (
        api.post(f"/v1/officials/{official.official_id}/disable", headers=a.members["admin"].headers).status_code == 200
    )
    assert api.get("/v1/organisation", headers=official.headers).status_code == 401


def test_system_tokens_belong_to_one_organisation(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    response = api.post(
        "/v1/tokens", headers=a.members["admin"].headers, json={"name": "OA system", "scopes": ["documents"]}
    )
    assert response.status_code == 201
    system = {"Authorization": f"Bearer {response.json()['token']}"}
    org = api.get("/v1/organisation", headers=system).json()
    assert org["id"] == a.id and org["uscc"].startswith("11440100")
    assert api.post("/v1/departments", headers=system, json={"name": "x"}).status_code == 403
    assert api.delete(f"/v1/tokens/{response.json()['id']}", headers=a.members["admin"].headers).status_code == 204
    assert api.get("/v1/organisation", headers=system).status_code == 401


LEVEL = "/v1/organisation/signature-level"


def test_the_signature_level_is_read_and_set_by_the_organisations_administrators(
    api: TestClient, world: World, db: Database
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    admin = a.members["admin"].headers
    for member in ("official", "leader", "custodian", "clerk"):
        headers = a.members[member].headers
        assert api.get(LEVEL, headers=headers).status_code == 403, member
        refused = api.put(LEVEL, headers=headers, json={"level": "B-T"})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", member
    assert api.get(LEVEL).status_code == 401

    assert api.get(LEVEL, headers=admin).json() == {"level": "B-LTA"}
    response = api.put(LEVEL, headers=admin, json={"level": "B-LT"})
    assert response.status_code == 200 and response.json() == {"level": "B-LT"}
    assert api.get(LEVEL, headers=admin).json() == {"level": "B-LT"}
    assert api.get(LEVEL, headers=b.members["admin"].headers).json() == {"level": "B-LTA"}, "B keeps its own"
    with db.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "organisation.signature_level")).one()
        assert event.subject == f"organisation:{a.id}" and event.chain == a.id
        assert event.payload["level"] == "B-LT"


@pytest.mark.parametrize(
    "body",
    [
        {"level": "B-B"},
        {"level": "b-lta"},
        {"level": "LTA"},
        {"level": ""},
        {"level": None},
        {},
        {"level": "B-LTA", "organisation_id": "other"},
    ],
)
def test_a_level_below_b_t_or_unknown_is_refused(api: TestClient, world: World, body: dict[str, object]) -> None:
    admin = world.orgs["A"].members["admin"].headers
    response = api.put(LEVEL, headers=admin, json=body)
    assert response.status_code == 422 and response.json()["code"] == "invalid_request", response.text
    assert api.get(LEVEL, headers=admin).json() == {"level": "B-LTA"}, "unchanged"


def test_the_level_applies_to_the_next_signature(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    a = world.orgs["A"]
    admin, official = a.members["admin"].headers, a.members["official"]
    trust = TrustSettings().with_anchors(ca.pem(world.pki.root.cert))

    def signed_level(**form: str) -> str | None:
        response = api.post(
            "/v1/sign",
            headers=official.headers,
            files={"file": ("doc.pdf", one_page_pdf, "application/pdf")},
            data={"credential_id": official.credential_id, "pin": PIN, **form},
        )
        assert response.status_code == 200, response.text
        report = verify(response.content, trust)
        assert report.valid
        return report.signatures[0].pades_level

    assert api.put(LEVEL, headers=admin, json={"level": "B-T"}).status_code == 200
    assert signed_level() == "B-T"
    assert signed_level(level="B-LTA") == "B-LTA", "a level asked for still wins"
    assert api.put(LEVEL, headers=admin, json={"level": "B-LT"}).status_code == 200
    assert signed_level() == "B-LT"


def test_an_administrator_cannot_disable_themselves_nor_the_last_administrator(
    api: TestClient, world: World, db: Database
) -> None:
    a = world.orgs["A"]
    admin = a.members["admin"]
    refused = api.post(f"/v1/officials/{admin.official_id}/disable", headers=admin.headers)
    assert refused.status_code == 409
    assert "yourself" in refused.json()["message"]
    assert api.get("/v1/organisation", headers=admin.headers).status_code == 200

    operator = Actor.operator(a.id)
    with pytest.raises(Conflict, match="last enabled administrator"), db.transaction() as session:
        identities.set_official_disabled(session, actor=operator, official_id=admin.official_id, disabled=True)
    assert api.get("/v1/organisation", headers=admin.headers).status_code == 200

    with db.transaction() as session:
        second = identities.create_official(
            session, actor=operator, department_id=a.department_id, name="A-second admin", roles=[Role.ADMIN]
        )
        identities.set_official_disabled(session, actor=operator, official_id=admin.official_id, disabled=True)
    assert api.get("/v1/organisation", headers=admin.headers).status_code == 401
    with pytest.raises(Conflict, match="last enabled administrator"), db.transaction() as session:
        identities.set_official_disabled(session, actor=operator, official_id=second.id, disabled=True)
