"""Tokens, permissions and isolation between organisations, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings
from tests.world import World


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
