"""The one place where errors become HTTP responses: ``{"code": ..., "message": ...}`` with a fitting status.

Domain errors carry their ``code``; this module only decides the status. Anything unexpected is logged
with its traceback and answered with a bare 500, so no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    errors.SecretUnreadable: 500,
    keys_errors.PinInvalid: 403,
    keys_errors.CredentialLocked: 423,
    keys_errors.CredentialUnusable: 409,
    keys_errors.PkiNotInitialised: 503,
    keys_errors.TokenDeviceError: 503,
    keys_errors.SigningUnavailable: 503,
    idempotency.IdempotencyConflict: 409,
    idempotency.InvalidIdempotencyKey: 422,
    render_errors.RenderError: 422,
    render_errors.FontUnavailable: 503,
}


class UploadTooLarge(StarletteHTTPException):
    """Raised while the request body is still arriving, once it passes the limit."""

    code = errors.TooLarge.code

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload exceeds the limit of {limit // (1024 * 1024)} MiB")


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


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors())
    return JSONResponse(body("invalid_request", problems), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(body("internal_error", "internal error; it has been logged"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.EsignError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
