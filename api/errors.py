"""The one place where errors become HTTP responses: ``{"code": ..., "message": ...}`` with a fitting status.

Domain errors carry their ``code``; this module only decides the status. Anything unexpected is logged
with its traceback and answered with a bare 500, so no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from documents.render import errors as render_errors
from esign import errors, idempotency
from keys import errors as keys_errors

logger = logging.getLogger("esign.api")

STATUS: dict[type[errors.EsignError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.PdfError: 422,
    errors.TooLarge: 413,
    errors.KeyMaterialError: 422,
    errors.SigningError: 422,
    errors.TrustError: 422,
    errors.BlobNotFound: 404,
    errors.BlobCorrupted: 500,
    errors.BlobStoreUnavailable: 503,
    errors.SecretUnreadable: 500,
    errors.Busy: 503,
    keys_errors.PinInvalid: 403,
    keys_errors.CredentialLocked: 423,
    keys_errors.CredentialUnusable: 409,
    keys_errors.PkiNotInitialised: 503,
    keys_errors.TokenDeviceError: 503,
    keys_errors.SigningUnavailable: 503,
    keys_errors.SignInFailed: 401,
    keys_errors.AccountLocked: 423,
    keys_errors.InvitationInvalid: 404,
    keys_errors.PasswordRefused: 422,
    idempotency.IdempotencyConflict: 409,
    idempotency.InvalidIdempotencyKey: 422,
    render_errors.RenderError: 422,
    render_errors.FontUnavailable: 503,
    errors.RangeNotSatisfiable: 416,
}


class UploadTooLarge(StarletteHTTPException):
    """Raised while the request body is still arriving, once it passes the limit."""

    code = errors.TooLarge.code

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload exceeds the limit of {limit // (1024 * 1024)} MiB")


PROBLEM = "Problem"
"""The OpenAPI component every non-CSC error answer refers to (``api/openapi.py`` fills it in)."""

WHY: dict[int, str] = {
    400: "Bad request",
    401: "No bearer token, or one that is unknown, expired or revoked (code `unauthorized`)",
    403: "The token's official, role or scope may not do this (`forbidden`), or a wrong PIN (`pin_invalid`, "
    "with `tries_left`)",
    404: "No such record in the caller's organisation (`not_found`)",
    405: "The path exists but not for this method (`method_not_allowed`); `Allow` lists the methods it takes",
    409: "The record is not in a state that allows this (`conflict`), or an `Idempotency-Key` reused with another "
    "body (`idempotency_conflict`)",
    413: "The request body exceeds ESIGN_MAX_UPLOAD_MB (`too_large`)",
    416: "A `Range` past the end of the file (`range_not_satisfiable`); `Content-Range` gives its length",
    415: "A content type the operation does not take (`unsupported_media_type`)",
    422: "Invalid input: a parameter or body the schema or the service refuses (`invalid_request`, `pdf_invalid`, ...)",
    423: "The credential is locked after too many wrong PINs (`credential_locked`)",
    503: "The PKI is not initialised, or a signing token, process or the object store cannot be reached "
    "(`pki_not_initialised`, `blob_store_unavailable`, ...)",
}
"""What each error status means, for the OpenAPI document."""


def status_for(error: errors.EsignError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def body(code: str, message: str, details: dict[str, object] | None = None) -> dict[str, object]:
    return {"code": code, "message": message, **(details or {})}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.EsignError)
    status = status_for(exc)
    if status >= 500:
        logger.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, errors.Busy):
        headers = {"Retry-After": str(exc.retry_after)}  # RFC 9110 §10.2.3: when to come back
    if isinstance(exc, errors.RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"}  # RFC 9110 §14.4
    return JSONResponse(body(exc.code, exc.message, exc.details), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
}


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``. Starlette's 405 names only the methods of the
    first route whose path matched, which is wrong wherever several routes share a path (``GET`` and ``POST``
    of ``/v1/credentials`` are two routes) or a template overlaps a fixed path (``/v1/calendar/{day}``)."""
    allowed: set[str] = set()
    for route in iter_route_contexts(app.routes):
        regex, methods = getattr(route, "path_regex", None), route.methods
        if regex is not None and methods and regex.match(path):
            allowed |= methods
    return sorted(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.scope["path"])
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        message = f"{request.method} is not allowed here; this path takes {', '.join(allowed)}"
        return JSONResponse(body(code, message), status_code=405, headers=headers)
    return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


def _problem(error: dict[str, Any]) -> str:
    """One refused input in words: where and what. A body that is no JSON at all says so and where it breaks,
    instead of pydantic's ``body.1: JSON decode error`` (whose number is the offending character)."""
    if error.get("type") == "json_invalid":
        where = error["loc"][-1] if len(error["loc"]) > 1 else None
        why = (error.get("ctx") or {}).get("error", "it cannot be parsed")
        at = f" at character {where}" if isinstance(where, int) else ""
        return f"the request body is not valid JSON: {why}{at}"
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(_problem(error) for error in exc.errors())
    return JSONResponse(body("invalid_request", problems), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(body("internal_error", "internal error; it has been logged"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.EsignError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
