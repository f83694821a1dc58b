"""The OpenAPI document states every status and the error body each operation really has, and a method a path
does not take answers 405 with an ``Allow`` that names exactly the methods it does take."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api import openapi
from api.app import create_app
from esign import idempotency
from esign.settings import Settings
from keys.credentials import MAX_PIN_LENGTH, MIN_PIN_LENGTH, PIN_PATTERN

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings())


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return TestClient(app).get("/openapi.json").json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_errors_are_documented_with_the_real_body(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["code", "message"]
    assert schemas["CscProblem"]["required"] == ["error", "error_description"]
    for method, path, op in operations(document):
        problem = "CscProblem" if path.startswith("/csc/") else "Problem"
        errors = {status: response for status, response in op["responses"].items() if int(status) >= 400}
        for status, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{problem}", f"{method} {path} {status}"


def test_every_operation_documents_the_statuses_its_shape_implies(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        statuses = set(op["responses"])
        where = f"{method} {path}"
        if op.get("security"):
            assert {"401", "403"} <= statuses, where
            assert "WWW-Authenticate" in op["responses"]["401"]["headers"], where
        if "{" in path:
            assert "404" in statuses, where
        if "requestBody" in op:
            assert "413" in statuses, where
            assert ("400" if path.startswith("/csc/") else "422") in statuses, where
        if path.startswith("/csc/"):
            assert "422" not in statuses, f"{where}: the CSC routers answer 400"
        if any(parameter["name"] == "Idempotency-Key" for parameter in op.get("parameters", [])):
            assert "409" in statuses, where
            if "201" in statuses:
                assert "200" in statuses, f"{where}: a replay answers 200"


def test_authenticated_operations_declare_the_bearer_scheme(document: dict[str, Any]) -> None:
    public = {"/health", "/v1/verify", "/csc/v1/info", "/csc/v2/info"}
    for method, path, op in operations(document):
        if path.startswith("/pki/") or path in public:
            assert not op.get("security"), f"{method} {path}"
        else:
            assert op.get("security"), f"{method} {path} is authenticated but declares no security"


def test_the_tables_name_real_operations(document: dict[str, Any]) -> None:
    """A renamed or removed route must not leave an entry that documents nothing."""
    known = {(method, path) for method, path, _ in operations(document)}
    for table in (openapi.DECLARED, openapi.MEDIA, openapi.EXAMPLES):
        assert set(table) <= known, set(table) - known
    assert set(document["paths"]["/v1/sign"]["post"]["responses"]) >= {"423", "503"}
    signhash = document["paths"]["/csc/v2/signatures/signHash"]["post"]["requestBody"]["content"]
    assert "hashes" in signhash["application/json"]["example"]


PIN_FIELDS = ("pin", "old_pin", "new_pin")


def _body_properties(document: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """The properties of an operation's JSON or multipart body."""
    properties: dict[str, Any] = {}
    for content in op.get("requestBody", {}).get("content", {}).values():
        schema = content.get("schema", {})
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        properties |= schema.get("properties", {})
    return properties


def test_every_pin_field_states_the_rule_it_is_held_to(document: dict[str, Any]) -> None:
    """A PIN that unlocks a key: 1 to MAX characters (a token's PIN may be shorter than the service's minimum);
    a PIN being set (enrolment, ``new_pin``): the service's rule. No control characters in either."""
    found: set[tuple[str, str, str]] = set()
    for method, path, op in operations(document):
        if path.startswith("/csc/"):
            continue
        for name, prop in _body_properties(document, op).items():
            if name not in PIN_FIELDS:
                continue
            found.add((method, path, name))
            (text,) = [variant for variant in prop.get("anyOf", [prop]) if variant.get("type") == "string"]
            sets = name == "new_pin" or (method, path) == ("post", "/v1/credentials")
            where = f"{method} {path} {name}"
            assert text["minLength"] == (MIN_PIN_LENGTH if sets else 1), where
            assert text["maxLength"] == MAX_PIN_LENGTH, where
            assert text["pattern"] == PIN_PATTERN, where
            description = prop.get("description") or text["description"]
            assert f"{MIN_PIN_LENGTH if sets else 1} to {MAX_PIN_LENGTH} characters" in description, where
    assert found >= {
        ("post", "/v1/sign", "pin"),
        ("post", "/v1/credentials", "pin"),
        ("post", "/v1/credentials/{credential_id}/pin", "old_pin"),
        ("post", "/v1/credentials/{credential_id}/pin", "new_pin"),
        ("post", "/v1/credentials/{credential_id}/sessions", "pin"),
        ("post", "/v1/documents/{document_id}/sign", "pin"),
        ("post", "/v1/steps/{step_id}/approve", "pin"),
    }, found


def test_every_idempotency_key_states_its_bounds(document: dict[str, Any]) -> None:
    keyed = 0
    for method, path, op in operations(document):
        for parameter in op.get("parameters", []):
            if parameter["name"] != "Idempotency-Key":
                continue
            keyed += 1
            (text,) = [variant for variant in parameter["schema"].get("anyOf", []) if variant.get("type") == "string"]
            assert text["minLength"] == 1 and text["maxLength"] == idempotency.MAX_KEY_LENGTH, f"{method} {path}"
            assert text["pattern"], f"{method} {path}"
    assert keyed >= 5


def concrete_paths(app: FastAPI) -> list[str]:
    """Every route's path, its parameters filled in: documented or not, with every prefix applied."""
    templates = {route.path for route in iter_route_contexts(app.routes) if route.path and route.methods}
    return sorted({re.sub(r"\{[^}]+\}", "x1", template) for template in templates})


def test_405_allows_exactly_the_methods_the_path_takes(app: FastAPI) -> None:
    """The methods a path takes are found by asking it (any answer but 405), not by the code under test."""
    client = TestClient(app, raise_server_exceptions=False)
    paths = concrete_paths(app)
    assert "/v1/calendar/overrides" in paths and "/csc/v1/x1" in paths
    for path in paths:
        answers = {method: client.request(method, path) for method in METHODS}
        taken = {method for method, answer in answers.items() if answer.status_code != 405}
        assert taken, path
        for method, answer in answers.items():
            if answer.status_code == 405:
                assert set(answer.headers["allow"].split(", ")) == taken, f"{method} {path}"
                if method != "HEAD":  # a HEAD answer has no body
                    assert answer.json()["code"] == "method_not_allowed", f"{method} {path}"


def test_csc_info_answers_get_and_post_as_documented(app: FastAPI, document: dict[str, Any]) -> None:
    """The spec has ``info`` as POST; GET answers the same and is documented too."""
    client = TestClient(app)
    for version in ("v1", "v2"):
        path = f"/csc/{version}/info"
        assert set(document["paths"][path]) == {"get", "post"}
        assert client.post(path).json() == client.get(path).json()
        refused = client.put(path)
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, POST"
