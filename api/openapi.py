"""The OpenAPI document as the contract: every status an operation can answer, with the body it really has.

FastAPI documents a 422 ``HTTPValidationError`` (``{"detail": [...]}``) on every operation with parameters and
nothing else, while every error here answers ``{"code", "message"}`` (``api/errors.py``), the CSC routers answer
``{"error", "error_description"}`` (``api/routes/csc/problems.py``), and authentication, lookups by id, body
limits and the services add 401, 403, 404, 409, 413, 423 and 503. Rather than a ``responses=`` on each of 70
decorators, :func:`document` walks the generated operations once and adds what each one's own shape implies:

- 401 and 403 where the operation has a security requirement (the bearer dependency);
- 404 where its path has ids, or its query or body names a record by id (``*_id``);
- 409 where it takes an ``Idempotency-Key`` (a key reused with another body) or changes something as an
  authenticated caller (the record's state may refuse the change);
- 413 where it takes a body (``api/limits.py`` counts every body);
- 422 where it takes any input (the CSC routers answer 400 instead);

and :data:`DECLARED`, one table here rather than edits to many decorators, adds what services may raise
beyond that (423, 503).
Every error response then refers to one named schema, ``Problem`` or ``CscProblem``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM, WHY

CSC_PROBLEM = "CscProblem"
CSC_PREFIX = "/csc/"

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM,
    "type": "object",
    "description": "Every error outside the CSC API. `code` is stable; clients act on it, not on `message`.",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable", "examples": ["not_found"]},
        "message": {"type": "string", "description": "For people; may change"},
        "tries_left": {"type": "integer", "description": "With `pin_invalid`: wrong PINs left before the lock"},
        "characters": {
            "type": "array",
            "items": {"type": "string"},
            "description": "With `font_unavailable`: the characters no font can draw",
        },
        "role": {"type": "string", "description": "With `font_unavailable`: the text's role in the layout"},
    },
    "additionalProperties": True,
}

_CSC_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": CSC_PROBLEM,
    "type": "object",
    "description": "A CSC API error (v1.0.4.0 and v2.0.0.2 §10.2), with the wording of each method's error table.",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string", "examples": ["invalid_request"]},
        "error_description": {"type": "string"},
        "tries_left": {"type": "integer", "description": "With `invalid_pin`: wrong PINs left before the lock"},
    },
    "additionalProperties": True,
}

_CSC_WHY: dict[int, str] = {
    400: "A refused parameter, PIN or SAD (`invalid_request`, `invalid_pin` with `tries_left`), per §10.1",
    401: "No access token, or one that is not valid (`invalid_request`, `invalid_token`)",
    403: "The token may not sign (`access_denied`)",
    503: "The PKI, a signing token or the signing process is not available now (`temporarily_unavailable`)",
}

_BEARER_HEADER = {
    "WWW-Authenticate": {"description": "`Bearer`, the scheme to authenticate with", "schema": {"type": "string"}}
}
_ALLOW_HEADER = {"Allow": {"description": "The methods this path takes", "schema": {"type": "string"}}}


_PKI = ("/pki/ca", "/pki/ca/{name}.der", "/pki/crl", "/pki/crl/root", "/pki/ocsp/{encoded}")
_CSC_SIGNING = tuple(
    f"/csc/{version}/{method}"
    for version in ("v1", "v2")
    for method in ("credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash")
)

DECLARED: dict[tuple[str, str], set[int]] = {
    **{("get", path): {503} for path in _PKI},
    ("post", "/pki/ocsp"): {503},
    ("post", "/pki/tsa"): {503},
    ("post", "/v1/documents"): {503},
    ("post", "/v1/sign"): {423, 503},
    ("post", "/v1/documents/{document_id}/sign"): {423, 503},
    ("post", "/v1/steps/{step_id}/approve"): {423, 503},
    ("post", "/v1/credentials"): {503},
    ("get", "/v1/credentials"): {503},
    ("get", "/v1/credentials/{credential_id}"): {503},
    ("post", "/v1/credentials/{credential_id}/pin"): {423, 503},
    ("post", "/v1/credentials/{credential_id}/sessions"): {423, 503},
    ("post", "/v1/certificates/{serial}/revoke"): {503},
    **{("post", path): {503} for path in _CSC_SIGNING},
}
"""What a service may raise beyond what :func:`inferred` reads off the operation: 423 where a PIN unlocks a key,
503 where the PKI (``authorities.load``), a signing token or the fonts are needed. ``tests/api/test_openapi.py``
checks that every entry names an operation."""

MEDIA: dict[tuple[str, str], str] = {
    ("get", "/pki/ca"): "application/x-pem-file",
    ("get", "/pki/ca/{name}.der"): "application/pkix-cert",
    ("get", "/pki/crl"): "application/pkix-crl",
    ("get", "/pki/crl/root"): "application/pkix-crl",
    ("post", "/pki/ocsp"): "application/ocsp-response",
    ("get", "/pki/ocsp/{encoded}"): "application/ocsp-response",
    ("post", "/pki/tsa"): "application/timestamp-reply",
    ("get", "/v1/documents/{document_id}/pdf"): "application/pdf",
    ("get", "/v1/documents/{document_id}/revisions/{seq}/pdf"): "application/pdf",
}
"""The media type of answers that are bytes rather than a model (FastAPI documents none for them)."""

EXAMPLES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("post", "/v1/verify"): ("multipart/form-data", {"file": "(the PDF's bytes)"}),
    ("post", "/v1/sign"): (
        "multipart/form-data",
        {
            "file": "(the PDF's bytes)",
            "credential_id": "cred_01J9Z3Q4W5E6R7T8Y9U0I1O2P3",
            "pin": "246810",
            "level": "B-T",
            "reason": "同意",
            "visible": "1:360,60,560,160",
        },
    ),
    ("post", "/v1/documents"): (
        "application/json",
        {
            "content": {
                "kind": "notice",
                "issuer": "甲市人民政府办公室",
                "title": "关于做好2026年春节期间安全生产工作的通知",
                "recipients": ["各区人民政府", "市政府各部门"],
                "body": [{"type": "paragraph", "text": "为切实做好春节期间安全生产工作，现就有关事项通知如下。"}],
                "date": "2026-01-20",
            }
        },
    ),
    ("post", "/v1/steps/{step_id}/approve"): (
        "application/json",
        {"opinion": "同意。", "credential_id": "cred_01J9Z3Q4W5E6R7T8Y9U0I1O2P3", "pin": "246810"},
    ),
    **{
        ("post", f"/csc/{version}/signatures/signHash"): (
            "application/json",
            {
                "credentialID": "cred_01J9Z3Q4W5E6R7T8Y9U0I1O2P3",
                "SAD": "(from credentials/authorize)",
                field: ["sTOgwOm+474gFj0q0x1iSNspKqbcse4IeiqlDg/HWuI="],
                "signAlgo": "1.2.840.113549.1.1.11",
            },
        )
        for version, field in (("v1", "hash"), ("v2", "hashes"))
    },
}
"""Request examples for the main operations: (media type, example)."""


def _ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _names_a_record(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a query parameter or a top-level body field is a record's id (``department_id``,
    ``credential_id``, ...): the service answers an unknown one, or another organisation's, 404."""
    names = [parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"]
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        names += list(schema.get("properties", {}))
    return any(name.endswith("_id") for name in names)


def inferred(method: str, path: str, operation: dict[str, Any], components: dict[str, Any]) -> set[int]:
    """The error statuses an operation's own shape implies (see the module's docstring); ``components`` are the
    document's schemas, to read bodies given by reference."""
    csc = path.startswith(CSC_PREFIX)
    parameters = operation.get("parameters", [])
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403}
    if any(parameter["in"] == "path" for parameter in parameters) or _names_a_record(operation, components):
        statuses.add(404)
    if any(parameter["in"] == "header" and parameter["name"] == "Idempotency-Key" for parameter in parameters):
        statuses.add(409)
    if operation.get("security") and method != "get" and not csc:
        statuses.add(409)  # a change the record's state may refuse (disabled, already decided, numbered)
    if "requestBody" in operation:
        statuses.add(413)
    if parameters or "requestBody" in operation:
        statuses.add(400 if csc else 422)
    return statuses


def _replays(operation: dict[str, Any]) -> None:
    """An operation that creates (201) with an ``Idempotency-Key`` answers a retry 200 with the same body
    (``api/idempotent.py``)."""
    responses = operation["responses"]
    keyed = any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    if keyed and "201" in responses:
        replay = responses.setdefault("200", {})
        replay.setdefault("description", "Replayed: the answer an earlier request with this Idempotency-Key got")
        if "content" in responses["201"]:
            replay.setdefault("content", responses["201"]["content"])


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the inferred statuses to every operation, points every error response at ``Problem`` (or
    ``CscProblem`` under ``/csc/``), and drops FastAPI's unused validation-error schemas."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[PROBLEM] = _PROBLEM_SCHEMA
    schemas[CSC_PROBLEM] = _CSC_PROBLEM_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        csc = path.startswith(CSC_PREFIX)
        why, name = (_CSC_WHY, CSC_PROBLEM) if csc else (WHY, PROBLEM)
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if csc:
                responses.pop("422", None)  # the CSC routers answer a refused body with 400
            for added in sorted(inferred(method, path, operation, schemas) | DECLARED.get((method, path), set())):
                responses.setdefault(str(added), {})
            _replays(operation)
            if (media := MEDIA.get((method, path))) is not None:
                responses["200"]["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}
            if (example := EXAMPLES.get((method, path))) is not None:
                media_type, value = example
                operation["requestBody"]["content"][media_type]["example"] = value
            for status, response in responses.items():
                if not status.isdigit() or int(status) < 400:
                    continue
                if csc or not response.get("description") or response["description"] == "Validation Error":
                    response["description"] = why.get(int(status), WHY.get(int(status), "Error"))
                response["content"] = _ref(name)
                if status == "401":
                    response["headers"] = _BEARER_HEADER
                if status == "405":
                    response["headers"] = _ALLOW_HEADER
    return schema


def document(app: FastAPI) -> dict[str, Any]:
    """``app.openapi``: FastAPI's document, completed once and kept."""
    if not app.openapi_schema:
        app.openapi_schema = complete(
            get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
        )
    return app.openapi_schema


def install(app: FastAPI) -> None:
    """Serves :func:`document` at ``/openapi.json`` (FastAPI calls ``app.openapi``)."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
