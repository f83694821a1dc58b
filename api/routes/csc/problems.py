"""CSC errors (v1.0.4.0 §10, v2.0.0.2 §10): the ``{"error": ..., "error_description": ...}`` form, with the status
and wording of each method's error table, and the route classes that answer every error of these routers
in it, before the application's handlers could."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Literal

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.errors import status_for
from esign.errors import Conflict, EsignError, Forbidden, NotFound, Unauthenticated
from keys.csc import CscRefused, Refusal
from keys.errors import (
    CredentialLocked,
    CredentialUnusable,
    PinInvalid,
    PkiNotInitialised,
    SigningUnavailable,
    TokenDeviceError,
)

from .schemas import KINDS

Version = Literal["v1", "v2"]


class CscProblem(Exception):
    """An answer in the CSC error form; raised inside these routers only."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        extra: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.extra = extra or {}
        self.headers = headers

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


_DESCRIPTIONS: dict[Refusal, str] = {
    Refusal.INVALID_CREDENTIAL: "Invalid parameter credentialID",
    Refusal.CREDENTIAL_DISABLED: "The credential identified by credentialID is disabled",
    Refusal.CERTIFICATE_EXPIRED: "Signing certificate is expired",
    Refusal.MISSING_PIN: "Missing (or invalid type) string parameter PIN",
    Refusal.INVALID_NUM_SIGNATURES: "Invalid value for parameter numSignatures",
    Refusal.TOO_MANY_SIGNATURES: "Numbers of signatures is too high",
    Refusal.INVALID_HASH: "Invalid Base64 hash string parameter",
    Refusal.EMPTY_HASHES: "Empty hash array",
    Refusal.INVALID_HASH_LENGTH: "Invalid digest value length",
    Refusal.INVALID_SAD: "Invalid parameter SAD",
    Refusal.SAD_EXPIRED: "SAD expired",
    Refusal.HASH_NOT_AUTHORISED: "Hash is not authorized by the SAD",
    Refusal.INVALID_SIGN_ALGO: "Invalid parameter signAlgo",
    Refusal.MISSING_SIGN_ALGO_PARAMS: "Missing (or invalid type) string parameter signAlgoParams",
    Refusal.INVALID_SIGN_ALGO_PARAMS: "Invalid parameter signAlgoParams",
    Refusal.MISSING_HASH_ALGO: "Missing (or invalid type) string parameter hashAlgo",
    Refusal.INVALID_HASH_ALGO: "Invalid parameter hashAlgo",
    Refusal.INVALID_USER_ID: "Invalid parameter userID",
    Refusal.INVALID_PAGE_TOKEN: "Invalid parameter pageToken",
}
"""v1.0.4.0's wording, from the error tables of §11.4 to §11.9."""

_V2_DESCRIPTIONS: dict[Refusal, str] = {
    **_DESCRIPTIONS,
    Refusal.MISSING_PIN: "Missing (or invalid type) array parameter authData",
    Refusal.MISSING_HASH_ALGO: "Missing (or invalid type) string parameter hashAlgorithmOID",
    Refusal.INVALID_HASH_ALGO: "Invalid parameter hashAlgorithmOID",
}
"""v2.0.0.2 renames ``hash`` to ``hashes``, ``hashAlgo`` to ``hashAlgorithmOID`` and carries the PIN in ``authData``."""

_UNAVAILABLE = (TokenDeviceError, SigningUnavailable, PkiNotInitialised, Conflict)
"""A token or the signing process that cannot be reached or is busy, a PKI not set up: 503, try again
later (§10.1)."""


def problem_for(error: EsignError, version: Version) -> CscProblem:
    """A domain error in CSC words. The spec answers refused parameters, PINs and SADs with 400 (§10.1:
    401 is for a bad or expired access token only); a token that may not sign gets RFC 6750's 403."""
    if isinstance(error, CscRefused):
        table = _V2_DESCRIPTIONS if version == "v2" else _DESCRIPTIONS
        return CscProblem(400, "invalid_request", table[error.refusal])
    if isinstance(error, PinInvalid):
        extra: dict[str, object] = {"tries_left": error.tries_left} if error.tries_left >= 0 else {}
        return CscProblem(400, "invalid_pin", "The PIN is invalid", extra=extra)
    if isinstance(error, CredentialLocked):
        return CscProblem(400, "invalid_request", "Credential locked" if version == "v2" else "PIN locked")
    if isinstance(error, Unauthenticated):
        return CscProblem(
            401,
            "invalid_token",
            f"The access token is not valid: {error.message}",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if isinstance(error, Forbidden):
        return CscProblem(403, "access_denied", error.message)
    if isinstance(error, NotFound):
        return CscProblem(400, "invalid_request", _DESCRIPTIONS[Refusal.INVALID_CREDENTIAL])
    if isinstance(error, CredentialUnusable):
        return CscProblem(400, "invalid_request", _DESCRIPTIONS[Refusal.CREDENTIAL_DISABLED])
    if isinstance(error, _UNAVAILABLE):
        return CscProblem(503, "temporarily_unavailable", error.message)
    status = status_for(error)
    if status >= 500:
        return CscProblem(status, "server_error", "internal error; it has been logged")
    return CscProblem(400, "invalid_request", error.message)


def _invalid_request(error: RequestValidationError, kinds: dict[str, str]) -> CscProblem:
    """Pydantic's first complaint about the body, in the words of the methods' error tables."""
    first = error.errors()[0]
    loc = [part for part in first.get("loc", ()) if part != "body"]
    if not loc or not isinstance(loc[0], str):
        return CscProblem(400, "invalid_request", "Malformed request: a JSON object is expected")
    name = loc[0]
    if name in ("hash", "hashes") and len(loc) > 1:
        return CscProblem(400, "invalid_request", _DESCRIPTIONS[Refusal.INVALID_HASH])
    kind = first.get("type", "")
    if len(loc) == 1 and (kind == "missing" or kind.endswith("_type") or kind in ("int_parsing", "int_from_float")):
        described = f"Missing (or invalid type) {kinds.get(name, 'string')} parameter {name}"
        return CscProblem(400, "invalid_request", described)
    return CscProblem(400, "invalid_request", f"Invalid parameter {name}")


class CscRoute(APIRoute):
    """Answers every error of its route in the CSC form, before the application's handlers could."""

    version: ClassVar[Version]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        version = self.version
        kinds = KINDS

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except CscProblem as problem:
                return problem.response()
            except RequestValidationError as error:
                return _invalid_request(error, kinds).response()
            except EsignError as error:
                return problem_for(error, version).response()

        return answer


class V1Route(CscRoute):
    version = "v1"


class V2Route(CscRoute):
    version = "v2"


def not_implemented(method: str) -> CscProblem:
    """§10.1: 501 for a method the service does not implement (auth/login, signatures/timestamp, ...)."""
    return CscProblem(501, "not_implemented", f"The method {method} is not implemented; see info's methods")
