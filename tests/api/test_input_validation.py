"""Bad input is a 422 ``invalid_request`` naming the field, never a 500 and never silently dropped."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from api.schemas import NewPin
from esign.errors import InvalidInput
from keys.credentials import check_pin
from tests.conftest import make_pdf
from tests.world import PIN, World


def _invalid(response: object, field: str) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request", body
    assert field in body["message"], body


@pytest.mark.parametrize(
    "handlers",
    [
        [{}],
        [{"official_id": "a", "department_id": "b"}],
        [{"official_id": "a", "role": "leader"}],
        [{"official_id": ""}],
        [{"role": "emperor"}],
        [{"official_id": 7}],
        [{"official_id": "a", "colour": "red"}],
        ["not-an-object"],
        {"official_id": "a"},
    ],
)
def test_malformed_handlers_are_422(client: TestClient, world: World, handlers: object) -> None:
    leader = world.orgs["A"].members["leader"]
    response = client.post("/v1/steps/no-such-step/approve", headers=leader.headers, json={"handlers": handlers})
    _invalid(response, "handlers")


def test_unknown_handler_ids_are_not_a_500(client: TestClient, world: World) -> None:
    leader = world.orgs["A"].members["leader"]
    for handlers in (
        [{"official_id": "00000000-0000-0000-0000-000000000000"}],
        [{"department_id": "nope"}, {"role": "clerk"}],
    ):
        response = client.post("/v1/steps/no-such-step/approve", headers=leader.headers, json={"handlers": handlers})
        assert response.status_code == 404 and response.json()["code"] == "not_found", response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/steps/x/approve", {"opnion": "同意"}, "opnion"),
        ("/v1/steps/x/complete", {"opinion": "可", "signature": True}, "signature"),
        ("/v1/steps/x/return", {"to_stag": 0}, "to_stag"),
        ("/v1/steps/x/delegate", {"official_id": "o", "reason": "busy"}, "reason"),
        ("/v1/steps/x/reroute", {"department_id": "d", "opnion": "错"}, "opnion"),
        ("/v1/documents/x/route", {"template": "t"}, "template"),
        ("/v1/route-templates", {"name": "n", "definition": {}, "retired": True}, "retired"),
        ("/v1/departments", {"name": "办公室", "parent": "x"}, "parent"),
        ("/v1/tokens", {"name": "OA", "lifetime": 5}, "lifetime"),
        ("/v1/webhooks", {"url": "https://example.org/", "event_types": ["*"], "secret": "mine"}, "secret"),
        ("/v1/calendar/overrides", {"day": "2026-10-01", "working": False, "reason": "国庆"}, "reason"),
    ],
)
def test_unknown_fields_are_refused(
    client: TestClient, world: World, path: str, body: dict[str, object], field: str
) -> None:
    admin = world.orgs["A"].members["admin"]
    _invalid(client.post(path, headers=admin.headers, json=body), field)


def test_unknown_fields_in_credential_bodies_are_refused(client: TestClient, world: World) -> None:
    official = world.orgs["A"].members["official"]
    credential = official.credential_id
    for path, body in (
        (f"/v1/credentials/{credential}/sessions", {"pin": PIN, "max_signature": 5}),
        (f"/v1/credentials/{credential}/pin", {"old_pin": PIN, "new_pin": "13579246", "confirm": "13579246"}),
    ):
        response = client.post(path, headers=official.headers, json=body)
        _invalid(response, "max_signature" if "sessions" in path else "confirm")
    after = client.get(f"/v1/credentials/{credential}", headers=official.headers).json()
    assert after["failed_pin_attempts"] == 0, "nothing was tried"


@pytest.mark.parametrize(
    "visible",
    [
        "1:nan,nan,nan,nan",
        "1:0,0,inf,inf",
        "1:-inf,0,10,10",
        "1:-10,0,100,100",
        "1:0,0,1e9,100",
        "1:100,100,50,200",
        "0:0,0,100,100",
        "-1:0,0,100,100",
        "one:0,0,100,100",
        "1:0,0,100",
        "1",
    ],
)
def test_bad_visible_boxes_are_422_naming_the_field(client: TestClient, world: World, visible: str) -> None:
    official = world.orgs["A"].members["official"]
    response = client.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("a.pdf", make_pdf(), "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN, "visible": visible},
    )
    _invalid(response, "visible")


def test_a_page_past_the_end_is_422(client: TestClient, world: World) -> None:
    official = world.orgs["A"].members["official"]
    response = client.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("a.pdf", make_pdf(pages=2), "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN, "visible": "3:10,10,200,100"},
    )
    assert response.status_code == 422, response.text
    assert "page 3" in response.json()["message"]
    fine = client.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("a.pdf", make_pdf(pages=2), "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN, "visible": "2:10,10,200,100"},
    )
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-1", "limit=100000", "limit=ten", "cursor=%%%"],
)
def test_paging_bounds(client: TestClient, world: World, query: str) -> None:
    official = world.orgs["A"].members["official"]
    response = client.get(f"/v1/inbox?{query}", headers=official.headers)
    _invalid(response, "limit" if "limit" in query else "cursor")


def test_delivery_log_paging_bounds(client: TestClient, world: World) -> None:
    admin = world.orgs["A"].members["admin"].headers
    made = client.post("/v1/webhooks", headers=admin, json={"url": "https://example.org/h", "event_types": ["*"]})
    subscription = made.json()["id"]
    for query in ("limit=0", "limit=501", "status=lost"):
        response = client.get(f"/v1/webhooks/{subscription}/deliveries?{query}", headers=admin)
        _invalid(response, query.split("=")[0])


@pytest.mark.parametrize("days", [0, -1, 731, 100000])
def test_token_lifetimes_are_bounded(client: TestClient, world: World, days: int) -> None:
    admin = world.orgs["A"].members["admin"].headers
    _invalid(client.post("/v1/tokens", headers=admin, json={"name": "OA", "lifetime_days": days}), "lifetime_days")


def test_nul_characters_are_refused_in_paths_queries_and_bodies(client: TestClient, world: World) -> None:
    """PostgreSQL cannot store a NUL in text: without the refusal these were 500s there."""
    headers = world.orgs["A"].members["leader"].headers
    for method, url in (
        ("GET", "/v1/officials?department_id=%00"),
        ("GET", "/v1/documents/a%00b"),
        ("POST", "/v1/steps/x%00/approve"),
    ):
        _invalid(client.request(method, url, headers=headers), "NUL")
    _invalid(client.post("/v1/steps/x/approve", headers=headers, json={"opinion": "a\x00b"}), "NUL")
    _invalid(client.post("/v1/documents", headers=headers, json={"content": {"title": "a\x00b"}}), "NUL")


def test_unknown_members_of_a_json_intake_are_refused(client: TestClient, world: World) -> None:
    headers = world.orgs["A"].members["clerk"].headers
    _invalid(
        client.post("/v1/documents", headers=headers, json={"content": {}, "route_templat_id": "x"}), "route_templat_id"
    )


MALFORMED_PINS = ["x" * 129, "1234\n56", "12\t3456", "\x7f23456", "123456\x85", "\x00123456"]
"""Too long, or holding a control character (C0, DEL, C1): no PIN in use looks like these."""


@pytest.mark.parametrize("pin", MALFORMED_PINS, ids=["too-long", "LF", "TAB", "DEL", "NEL", "NUL"])
def test_a_malformed_pin_is_422_naming_the_field_and_costs_no_attempt(
    client: TestClient, world: World, pin: str
) -> None:
    official = world.orgs["A"].members["official"]
    credential = official.credential_id
    response = client.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("a.pdf", make_pdf(), "application/pdf")},
        data={"credential_id": credential, "pin": pin},
    )
    _invalid(response, "pin")
    for path, body, field in (
        (f"/v1/credentials/{credential}/sessions", {"pin": pin}, "pin"),
        (f"/v1/credentials/{credential}/pin", {"old_pin": pin, "new_pin": "13579246"}, "old_pin"),
        ("/v1/documents/x/sign", {"credential_id": credential, "pin": pin}, "pin"),
        ("/v1/steps/x/approve", {"credential_id": credential, "pin": pin}, "pin"),
    ):
        _invalid(client.post(path, headers=official.headers, json=body), field)
    assert client.get(f"/v1/credentials/{credential}", headers=official.headers).json()["failed_pin_attempts"] == 0

    # Well-formed but wrong, however short or foreign: counted.
    for wrong, left in (("1234", 4), ("密码不对", 3)):
        response = client.post(
            "/v1/sign",
            headers=official.headers,
            files={"file": ("a.pdf", make_pdf(), "application/pdf")},
            data={"credential_id": credential, "pin": wrong},
        )
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "pin_invalid" and response.json()["tries_left"] == left
    assert client.get(f"/v1/credentials/{credential}", headers=official.headers).json()["failed_pin_attempts"] == 2


@pytest.mark.parametrize("new", ["12345", "x" * 129, "1234567\n", "\x1b[0m123456", "口令\u009b1234"])
def test_a_new_pin_breaking_the_rule_is_422_naming_the_field(client: TestClient, world: World, new: str) -> None:
    official, leader = world.orgs["A"].members["official"], world.orgs["A"].members["leader"]
    path = f"/v1/credentials/{official.credential_id}/pin"
    _invalid(client.post(path, headers=official.headers, json={"old_pin": PIN, "new_pin": new}), "new_pin")
    _invalid(client.post("/v1/credentials", headers=leader.headers, json={"pin": new}), "pin")
    assert client.get(path.removesuffix("/pin"), headers=official.headers).json()["failed_pin_attempts"] == 0


@pytest.mark.parametrize(
    "pin", ["246810", "口令口令口令", "correct horse", "x" * 128, *MALFORMED_PINS, "12345", "\x1b[0m123456"]
)
def test_the_api_and_the_service_keep_one_rule_for_new_pins(pin: str) -> None:
    """``esign credential enrol`` and every other caller of the service meet ``check_pin``; the API meets
    ``NewPin`` first. They must agree on every PIN."""
    accepted_by_api = True
    try:
        TypeAdapter(NewPin).validate_python(pin)
    except ValidationError:
        accepted_by_api = False
    accepted_by_service = True
    try:
        check_pin(pin)
    except InvalidInput:
        accepted_by_service = False
    assert accepted_by_api == accepted_by_service


@pytest.mark.parametrize(
    ("body", "why"),
    [('{"opinion": "同意"', "Expecting ',' delimiter at character 16"), ("not json", "Expecting value at character 0")],
)
def test_a_body_that_is_not_json_says_so(client: TestClient, world: World, body: str, why: str) -> None:
    leader = world.orgs["A"].members["leader"]
    response = client.post(
        "/v1/steps/no-such-step/approve",
        headers={**leader.headers, "Content-Type": "application/json"},
        content=body.encode(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"] == f"the request body is not valid JSON: {why}", response.json()
