"""The Cloud Signature Consortium API: ``/csc/v1/`` (CSC API v1.0.4.0) and ``/csc/v2/`` (CSC API v2.0.0.2).

Both routers translate HTTP to ``keys.csc`` and back, each in its own version's field names and shapes.
Service authorisation is the CSC ``external`` kind (v1.0.4.0 §8.1): the caller presents this service's own
bearer token (``esign token create --official ID``) in ``Authorization: Bearer``; ``info`` answers without
one. Credential authorisation is explicit (§8.2): the holder's PIN, given to ``credentials/authorize``,
yields the SAD that ``signatures/signHash`` spends.

Errors answer in the CSC form (§10.2) ``{"error": ..., "error_description": ...}``, with the status and
wording of each method's error table, rather than the rest of the API's ``{"code", "message"}``: a route
class catches every domain error inside these routers, so the application's handlers never see them.
"""

from __future__ import annotations

import base64
import binascii
import types
import typing
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, SettingsDep
from api.errors import status_for
from esign.db import Database
from esign.errors import Conflict, EsignError, Forbidden, NotFound, Unauthenticated
from esign.identity import Actor, Scope
from keys import authorities, csc, tokens
from keys.csc import Refusal
from keys.errors import (
    CredentialLocked,
    CredentialUnusable,
    PinInvalid,
    PkiNotInitialised,
    SigningUnavailable,
    TokenDeviceError,
)

Version = Literal["v1", "v2"]

# --- errors (v1.0.4.0 §10, v2.0.0.2 §10) -------------------------------------------------------------


class CscProblem(Exception):
    """An answer in the CSC error form; raised inside these routers only."""

    def __init__(
        self, status: int, error: str, description: str, *, extra: dict[str, object] | None = None,
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


def _problem(error: EsignError, version: Version) -> CscProblem:
    """A domain error in CSC words. The spec answers refused parameters, PINs and SADs with 400 (§10.1:
    401 is for a bad or expired access token only); a token that may not sign gets RFC 6750's 403."""
    if isinstance(error, csc.CscRefused):
        table = _V2_DESCRIPTIONS if version == "v2" else _DESCRIPTIONS
        return CscProblem(400, "invalid_request", table[error.refusal])
    if isinstance(error, PinInvalid):
        extra: dict[str, object] = {"tries_left": error.tries_left} if error.tries_left >= 0 else {}
        return CscProblem(400, "invalid_pin", "The PIN is invalid", extra=extra)
    if isinstance(error, CredentialLocked):
        return CscProblem(400, "invalid_request", "Credential locked" if version == "v2" else "PIN locked")
    if isinstance(error, Unauthenticated):
        return CscProblem(
            401, "invalid_token", f"The access token is not valid: {error.message}",
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


def _kind(annotation: Any) -> str:
    """How the spec names a parameter's JSON type in "Missing (or invalid type) <kind> parameter <name>"."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation) or annotation
    if origin is list:
        return "array"
    if origin is bool:
        return "boolean"
    if origin is int:
        return "integer"
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return "object"
    return "string"


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
        return CscProblem(400, "invalid_request", f"Missing (or invalid type) {kinds.get(name, 'string')} parameter {name}")
    return CscProblem(400, "invalid_request", f"Invalid parameter {name}")


class _CscRoute(APIRoute):
    """Answers every error of its route in the CSC form, before the application's handlers could."""

    version: ClassVar[Version]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        version = self.version
        kinds = _KINDS

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except CscProblem as problem:
                return problem.response()
            except RequestValidationError as error:
                return _invalid_request(error, kinds).response()
            except EsignError as error:
                return _problem(error, version).response()

        return answer


class _V1Route(_CscRoute):
    version = "v1"


class _V2Route(_CscRoute):
    version = "v2"


# --- service authorisation: the CSC "external" kind -------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CSC external",
    description=(
        'CSC service authorisation of type "external": this service\'s own API token (`esign token create '
        "--official ID`), sent as `Authorization: Bearer <token>`."
    ),
)
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _caller(session: Session, bearer: HTTPAuthorizationCredentials | None) -> Actor:
    """The official a bearer token stands for, looked up in the request's own transaction; they must be
    allowed to sign (an official's token with the ``sign`` scope)."""
    if bearer is None:
        raise CscProblem(
            401, "invalid_request", "Missing or malformed Authorization header: a Bearer token is expected",
            headers={"WWW-Authenticate": "Bearer"},
        )
    actor = tokens.authenticate(session, bearer.credentials)
    actor.require_official()
    if not actor.can(Scope.SIGN):
        raise Forbidden("this token may not sign")
    return actor


# --- schemas ---------------------------------------------------------------------------------------


class _In(BaseModel):
    """A request body: JSON types as the spec gives them (strict), unknown members ignored."""

    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, extra="ignore")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class InfoIn(_In):
    lang: str | None = None


class InfoV1Out(_Out):
    """v1.0.4.0 §11.1 info."""

    specs: str
    name: str
    logo: str
    region: str
    lang: str
    description: str
    auth_type: list[str] = Field(alias="authType")
    methods: list[str]


class SignAlgorithmsOut(_Out):
    algos: list[str]


class SignatureFormatsOut(_Out):
    formats: list[str]


class InfoV2Out(InfoV1Out):
    """v2.0.0.2 §11.1 info: v1's fields, and the signature algorithms; no AdES formats (``signatures/signDoc``
    is not offered) and no asynchronous mode."""

    sign_algorithms: SignAlgorithmsOut = Field(alias="signAlgorithms")
    signature_formats: SignatureFormatsOut = Field(alias="signature_formats")
    conformance_levels: list[str] = Field(alias="conformance_levels")
    asynchronous_operation_mode: bool = Field(alias="asynchronousOperationMode")


class ListV1In(_In):
    """v1.0.4.0 §11.4 credentials/list."""

    user_id: str | None = Field(default=None, alias="userID")
    max_results: int | None = Field(default=None, alias="maxResults", ge=1)
    page_token: str | None = Field(default=None, alias="pageToken")
    client_data: str | None = Field(default=None, alias="clientData")


class ListV1Out(_Out):
    credential_ids: list[str] = Field(alias="credentialIDs")
    next_page_token: str | None = Field(default=None, alias="nextPageToken")


CertificateChoice = Literal["none", "single", "chain"]


class InfoOptions(_In):
    certificates: CertificateChoice = "single"
    cert_info: bool = Field(default=False, alias="certInfo")
    auth_info: bool = Field(default=False, alias="authInfo")
    lang: str | None = None
    client_data: str | None = Field(default=None, alias="clientData")


class CredentialInfoIn(InfoOptions):
    """v1.0.4.0 §11.5 / v2.0.0.2 §11.5 credentials/info."""

    credential_id: str = Field(alias="credentialID")


class ListV2In(InfoOptions):
    """v2.0.0.2 §11.4 credentials/list."""

    user_id: str | None = Field(default=None, alias="userID")
    credential_info: bool = Field(default=False, alias="credentialInfo")
    only_valid: bool = Field(default=False, alias="onlyValid")


class KeyOut(_Out):
    status: Literal["enabled", "disabled"]
    algo: list[str]
    len: int
    curve: str | None = None


class CertOut(_Out):
    status: Literal["valid", "expired", "revoked", "suspended"]
    certificates: list[str] | None = None
    issuer_dn: str | None = Field(default=None, alias="issuerDN")
    serial_number: str | None = Field(default=None, alias="serialNumber")
    subject_dn: str | None = Field(default=None, alias="subjectDN")
    valid_from: str | None = Field(default=None, alias="validFrom")
    valid_to: str | None = Field(default=None, alias="validTo")


class PinOut(_Out):
    presence: Literal["true", "false", "optional"]
    format: Literal["A", "N"] | None = None
    label: str | None = None
    description: str | None = None


class CredentialInfoV1Out(_Out):
    """v1.0.4.0 §11.5: ``authMode`` explicit, a PIN always (presence ``true``), never an OTP."""

    description: str
    key: KeyOut
    cert: CertOut
    auth_mode: Literal["explicit"] = Field(alias="authMode")
    pin: PinOut = Field(alias="PIN")
    otp: PinOut = Field(alias="OTP")
    multisign: int
    scal: Literal["1", "2"] = Field(alias="SCAL")
    lang: str


class AuthObjectOut(_Out):
    type: Literal["Password"]
    id: str
    format: Literal["A", "N"] | None = None
    label: str | None = None
    description: str | None = None


class AuthOut(_Out):
    mode: Literal["explicit"]
    expression: str | None = None
    objects: list[AuthObjectOut] | None = None


class CredentialInfoV2Out(_Out):
    """v2.0.0.2 §11.5 (and each of §11.4's ``credentialInfos``): ``auth`` explicit with one Password object, the PIN."""

    credential_id: str | None = Field(default=None, alias="credentialID")
    description: str
    key: KeyOut
    cert: CertOut
    auth: AuthOut
    multisign: int
    scal: Literal["1", "2"] = Field(alias="SCAL")
    lang: str


class ListV2Out(_Out):
    credential_ids: list[str] = Field(alias="credentialIDs")
    credential_infos: list[CredentialInfoV2Out] | None = Field(default=None, alias="credentialInfos")
    only_valid: bool | None = Field(default=None, alias="onlyValid")


class AuthorizeV1In(_In):
    """v1.0.4.0 §11.6 credentials/authorize."""

    credential_id: str = Field(alias="credentialID")
    num_signatures: int = Field(alias="numSignatures")
    hash: list[str] | None = None
    pin: str | None = Field(default=None, alias="PIN")
    otp: str | None = Field(default=None, alias="OTP")
    description: str | None = Field(default=None, max_length=500)
    client_data: str | None = Field(default=None, alias="clientData")


class AuthDataIn(_In):
    """v2.0.0.2 §8.3 an authentication object: ``{"id": "PIN", "value": "..."}``."""

    id: str
    value: str | None = None


class AuthorizeV2In(_In):
    """v2.0.0.2 §11.6 credentials/authorize. The PIN is the ``authData`` object with id ``PIN``; a top-level
    ``PIN`` (as v2.0.0.0 clients send it) is accepted too."""

    credential_id: str = Field(alias="credentialID")
    num_signatures: int = Field(alias="numSignatures")
    hashes: list[str] | None = None
    hash_algorithm_oid: str | None = Field(default=None, alias="hashAlgorithmOID")
    auth_data: list[AuthDataIn] | None = Field(default=None, alias="authData")
    pin: str | None = Field(default=None, alias="PIN")
    otp: str | None = Field(default=None, alias="OTP")
    description: str | None = Field(default=None, max_length=500)
    client_data: str | None = Field(default=None, alias="clientData")


class AuthorizeOut(_Out):
    sad: str = Field(alias="SAD")
    expires_in: int = Field(alias="expiresIn")


class SignHashV1In(_In):
    """v1.0.4.0 §11.9 signatures/signHash."""

    credential_id: str = Field(alias="credentialID")
    sad: str = Field(alias="SAD")
    hash: list[str]
    hash_algo: str | None = Field(default=None, alias="hashAlgo")
    sign_algo: str = Field(alias="signAlgo")
    sign_algo_params: str | None = Field(default=None, alias="signAlgoParams")
    client_data: str | None = Field(default=None, alias="clientData")


class SignHashV2In(_In):
    """v2.0.0.2 §11.10 signatures/signHash; synchronous only (``operationMode`` ``S``)."""

    credential_id: str = Field(alias="credentialID")
    sad: str = Field(alias="SAD")
    hashes: list[str]
    hash_algorithm_oid: str | None = Field(default=None, alias="hashAlgorithmOID")
    sign_algo: str = Field(alias="signAlgo")
    sign_algo_params: str | None = Field(default=None, alias="signAlgoParams")
    operation_mode: Literal["S"] = Field(default="S", alias="operationMode")
    client_data: str | None = Field(default=None, alias="clientData")


class SignHashOut(_Out):
    signatures: list[str]
    """Base64 raw signatures, in the order of the hashes."""


def _field_kinds(*models: type[BaseModel]) -> dict[str, str]:
    return {
        field.alias or name: _kind(field.annotation)
        for model in models for name, field in model.model_fields.items()
    }


_KINDS = _field_kinds(ListV1In, ListV2In, CredentialInfoIn, AuthorizeV1In, AuthorizeV2In, SignHashV1In, SignHashV2In)

# --- shared translation -----------------------------------------------------------------------------

_AUTH_DESCRIPTION = "证书持有人的 PIN (the credential holder's PIN)"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _generalized_time(at: datetime) -> str:
    """``YYYYMMDDHHMMSSZ`` (RFC 5280 GeneralizedTime), as §11.5 asks for validFrom and validTo."""
    return at.strftime("%Y%m%d%H%M%SZ")


def _key_out(info: csc.CredentialInfo) -> KeyOut:
    return KeyOut(status=info.key.status, algo=list(info.key.algorithms), len=info.key.length, curve=info.key.curve)


def _cert_out(info: csc.CredentialInfo, options: InfoOptions) -> CertOut:
    cert = info.cert
    details = options.cert_info
    return CertOut(
        status=cert.status,
        certificates=[_b64(c) for c in cert.certificates] if options.certificates != "none" else None,
        issuerDN=cert.issuer_dn if details else None,
        serialNumber=cert.serial_number if details else None,
        subjectDN=cert.subject_dn if details else None,
        validFrom=_generalized_time(cert.valid_from) if details else None,
        validTo=_generalized_time(cert.valid_to) if details else None,
    )


def _v2_info(info: csc.CredentialInfo, options: InfoOptions, *, with_id: bool) -> CredentialInfoV2Out:
    return CredentialInfoV2Out(
        credentialID=info.credential_id if with_id else None,
        description=info.description,
        key=_key_out(info),
        cert=_cert_out(info, options),
        auth=AuthOut(
            mode="explicit", expression="PIN",
            objects=[AuthObjectOut(type="Password", id="PIN", format="A", label="PIN", description=_AUTH_DESCRIPTION)],
        ),
        multisign=info.multisign,
        SCAL=info.scal,
        lang="zh-CN",
    )


def _params(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise csc.CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "signAlgoParams is not base64") from None


def _sign_hash(
    database: Database,
    bearer: HTTPAuthorizationCredentials | None,
    *,
    credential_id: str,
    sad: str,
    hashes: list[str],
    sign_algo: str,
    sign_algo_params: str | None,
    hash_algo: str | None,
) -> Response:
    """Check and spend in one short transaction, then sign outside any: no database lock is held while the
    key works, and no signature exists before its spending has committed. A key that fails gives the
    batch back to the SAD."""
    digests = csc.decode_hashes(hashes)
    params = _params(sign_algo_params)
    with database.transaction() as session:
        actor = _caller(session, bearer)
        batch = csc.spend(
            session, actor=actor, credential_id=credential_id, sad=sad, hashes=digests, sign_algo=sign_algo,
            sign_algo_params=params, hash_algo=hash_algo,
        )
    try:
        signatures = batch.sign()
    except (csc.CscRefused, TokenDeviceError, SigningUnavailable) as e:
        with database.transaction() as session:
            csc.refund(session, actor=actor, batch=batch, reason=e.message)
        raise
    return JSONResponse({"signatures": [_b64(s) for s in signatures]})


def _info(version: Version) -> InfoV1Out | InfoV2Out:
    about = csc.info()
    if version == "v1":
        return InfoV1Out(
            specs=csc.SPECS_V1, name=about.name, logo=about.logo, region=about.region, lang=about.lang,
            description=about.description, authType=list(about.auth_type), methods=list(about.methods),
        )
    return InfoV2Out(
        specs=csc.SPECS_V2, name=about.name, logo=about.logo, region=about.region, lang=about.lang,
        description=about.description, authType=list(about.auth_type), methods=list(about.methods),
        signAlgorithms=SignAlgorithmsOut(algos=list(about.sign_algorithms)),
        signature_formats=SignatureFormatsOut(formats=[]), conformance_levels=[], asynchronousOperationMode=False,
    )


_AUTH_NOTE = (
    ' Service authorisation is the CSC "external" kind: `Authorization: Bearer <esign API token>` of the '
    "official who holds the credential (or, for a seal, of a seal custodian)."
)

# --- /csc/v1 ----------------------------------------------------------------------------------------

v1 = APIRouter(prefix="/csc/v1", tags=["CSC API v1.0.4.0"], route_class=_V1Route)


@v1.get("/info", response_model=InfoV1Out, operation_id="csc_v1_info_get", include_in_schema=False)
@v1.post(
    "/info", response_model=InfoV1Out, operation_id="csc_v1_info",
    summary="Service information (§11.1); no authorisation needed (GET answers the same)",
)
def info_v1(body: InfoIn | None = None) -> InfoV1Out | InfoV2Out:
    return _info("v1")


@v1.post(
    "/credentials/list", response_model=ListV1Out, response_model_exclude_none=True,
    summary="The caller's credentials (§11.4)",
    description="The credentials the caller may sign with; `maxResults` and `pageToken` page through them." + _AUTH_NOTE,
)
def list_v1(bearer: BearerToken, database: DatabaseDep, body: ListV1In | None = None) -> ListV1Out:
    body = body or ListV1In()
    with database.transaction() as session:
        ids = csc.list_credentials(session, actor=_caller(session, bearer), user_id=body.user_id)
    start = 0
    if body.page_token is not None:
        if not body.page_token.isdigit():
            raise csc.CscRefused(Refusal.INVALID_PAGE_TOKEN, "pageToken was not given by this service")
        start = int(body.page_token)
    end = len(ids) if body.max_results is None else start + body.max_results
    return ListV1Out(credentialIDs=ids[start:end], nextPageToken=str(end) if end < len(ids) else None)


@v1.post(
    "/credentials/info", response_model=CredentialInfoV1Out, response_model_exclude_none=True,
    summary="A credential's key, certificates and authorisation mode (§11.5)",
    description=(
        "`certificates`: `none`, `single` (default) or `chain` (the signer's certificate, the issuing CA, the "
        "root); `certInfo` adds the certificate's details. Authorisation is explicit with the holder's PIN."
        + _AUTH_NOTE
    ),
)
def credential_info_v1(
    body: CredentialInfoIn, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> CredentialInfoV1Out:
    with database.transaction() as session:
        info = csc.credential_info(
            session, actor=_caller(session, bearer), pki=authorities.load(session, settings),
            credential_id=body.credential_id, certificates=body.certificates,
        )
    return CredentialInfoV1Out(
        description=info.description, key=_key_out(info), cert=_cert_out(info, body), authMode="explicit",
        PIN=PinOut(presence="true", format="A", label="PIN", description=_AUTH_DESCRIPTION),
        OTP=PinOut(presence="false"), multisign=info.multisign, SCAL=info.scal, lang="zh-CN",
    )


@v1.post(
    "/credentials/authorize", response_model=AuthorizeOut,
    summary="The holder's PIN for a SAD (§11.6)",
    description=(
        f"Answers a SAD good for `numSignatures` (at most {csc.MAX_SIGNATURES}) signatures within "
        f"{int(csc.SAD_LIFETIME.total_seconds())} seconds, bound to the `hash` values when given (each signable "
        "once). A wrong PIN answers 400 `invalid_pin` with `tries_left`; the fifth in a row locks the credential "
        '("PIN locked") until an administrator unlocks it.' + _AUTH_NOTE
    ),
)
def authorize_v1(body: AuthorizeV1In, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep) -> AuthorizeOut:
    hashes = None if body.hash is None else csc.decode_hashes(body.hash)
    with database.transaction() as session:
        granted = csc.authorize(
            session, actor=_caller(session, bearer), pki=authorities.load(session, settings), settings=settings,
            credential_id=body.credential_id, pin=body.pin, num_signatures=body.num_signatures, hashes=hashes,
            description=body.description,
        )
    return AuthorizeOut(SAD=granted.sad, expiresIn=granted.expires_in)


@v1.post(
    "/signatures/signHash", response_model=SignHashOut,
    summary="Sign hashes under a SAD (§11.9)",
    description=(
        "`hash`: base64 digests; `signAlgo`: sha256/384/512WithRSAEncryption, RSASSA-PSS (with `signAlgoParams`), "
        "rsaEncryption (with `hashAlgo`) or ecdsa-with-SHA256/384/512. Answers the base64 raw signatures in order. "
        "A SAD refused (unknown, expired, used up, for another credential or caller, or a hash it does not "
        "authorise) signs nothing and spends nothing." + _AUTH_NOTE
    ),
)
def sign_hash_v1(body: SignHashV1In, bearer: BearerToken, database: DatabaseDep) -> Response:
    return _sign_hash(
        database, bearer, credential_id=body.credential_id, sad=body.sad, hashes=body.hash,
        sign_algo=body.sign_algo, sign_algo_params=body.sign_algo_params, hash_algo=body.hash_algo,
    )


# --- /csc/v2 ----------------------------------------------------------------------------------------

v2 = APIRouter(prefix="/csc/v2", tags=["CSC API v2.0.0.2"], route_class=_V2Route)


@v2.get("/info", response_model=InfoV2Out, operation_id="csc_v2_info_get", include_in_schema=False)
@v2.post(
    "/info", response_model=InfoV2Out, operation_id="csc_v2_info",
    summary="Service information (§11.1); no authorisation needed (GET answers the same)",
)
def info_v2(body: InfoIn | None = None) -> InfoV1Out | InfoV2Out:
    return _info("v2")


@v2.post(
    "/credentials/list", response_model=ListV2Out, response_model_exclude_none=True,
    summary="The caller's credentials, optionally with their details (§11.4)",
    description="`credentialInfo` adds each credential's `credentials/info`; `onlyValid` leaves out locked ones." + _AUTH_NOTE,
)
def list_v2(
    bearer: BearerToken, database: DatabaseDep, settings: SettingsDep, body: ListV2In | None = None
) -> ListV2Out:
    body = body or ListV2In()
    with database.transaction() as session:
        actor = _caller(session, bearer)
        ids = csc.list_credentials(session, actor=actor, user_id=body.user_id, only_valid=body.only_valid)
        infos = None
        if body.credential_info:
            pki = authorities.load(session, settings)
            infos = [
                _v2_info(
                    csc.credential_info(session, actor=actor, pki=pki, credential_id=i, certificates=body.certificates),
                    body, with_id=True,
                )
                for i in ids
            ]
    return ListV2Out(credentialIDs=ids, credentialInfos=infos, onlyValid=True if body.only_valid else None)


@v2.post(
    "/credentials/info", response_model=CredentialInfoV2Out, response_model_exclude_none=True,
    summary="A credential's key, certificates and authorisation (§11.5)",
    description=(
        "`certificates`: `none`, `single` (default) or `chain`; `certInfo` adds the certificate's details. "
        "`auth` is explicit, with one Password object: the PIN." + _AUTH_NOTE
    ),
)
def credential_info_v2(
    body: CredentialInfoIn, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> CredentialInfoV2Out:
    with database.transaction() as session:
        info = csc.credential_info(
            session, actor=_caller(session, bearer), pki=authorities.load(session, settings),
            credential_id=body.credential_id, certificates=body.certificates,
        )
    return _v2_info(info, body, with_id=False)


@v2.post(
    "/credentials/authorize", response_model=AuthorizeOut,
    summary="The holder's PIN for a SAD (§11.6)",
    description=(
        '`authData`: `[{"id": "PIN", "value": "..."}]`. Answers a SAD good for `numSignatures` (at most '
        f"{csc.MAX_SIGNATURES}) signatures within {int(csc.SAD_LIFETIME.total_seconds())} seconds, bound to "
        "`hashes` when given. Wrong authentication data answers 400 `invalid_authentication_data` with "
        '`tries_left`; the fifth in a row locks the credential ("Credential locked").' + _AUTH_NOTE
    ),
)
def authorize_v2(body: AuthorizeV2In, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep) -> AuthorizeOut:
    hashes = None if body.hashes is None else csc.decode_hashes(body.hashes)
    given = [a.value for a in body.auth_data or () if a.id == "PIN"]
    pin = given[0] if given else body.pin
    try:
        with database.transaction() as session:
            granted = csc.authorize(
                session, actor=_caller(session, bearer), pki=authorities.load(session, settings), settings=settings,
                credential_id=body.credential_id, pin=pin, num_signatures=body.num_signatures, hashes=hashes,
                hash_algo=body.hash_algorithm_oid, description=body.description,
            )
    except PinInvalid as e:
        if not given:
            raise
        extra: dict[str, object] = {"tries_left": e.tries_left} if e.tries_left >= 0 else {}
        raise CscProblem(400, "invalid_authentication_data", "The authentication data is invalid", extra=extra) from e
    return AuthorizeOut(SAD=granted.sad, expiresIn=granted.expires_in)


@v2.post(
    "/signatures/signHash", response_model=SignHashOut,
    summary="Sign hashes under a SAD (§11.10)",
    description=(
        "`hashes`: base64 digests; `signAlgo` as in `credentials/info`'s `key.algo` (RSASSA-PSS with "
        "`signAlgoParams`, rsaEncryption with `hashAlgorithmOID`). Synchronous only. Answers the base64 raw "
        "signatures in order; a refused SAD signs nothing and spends nothing." + _AUTH_NOTE
    ),
)
def sign_hash_v2(body: SignHashV2In, bearer: BearerToken, database: DatabaseDep) -> Response:
    return _sign_hash(
        database, bearer, credential_id=body.credential_id, sad=body.sad, hashes=body.hashes,
        sign_algo=body.sign_algo, sign_algo_params=body.sign_algo_params, hash_algo=body.hash_algorithm_oid,
    )


def _not_implemented(method: str) -> CscProblem:
    return CscProblem(501, "not_implemented", f"The method {method} is not implemented; see info's methods")


@v1.post("/{method:path}", include_in_schema=False)
def unknown_v1(method: str) -> Response:
    """§10.1: 501 for a method the service does not implement (auth/login, signatures/timestamp, ...)."""
    raise _not_implemented(method)


@v2.post("/{method:path}", include_in_schema=False)
def unknown_v2(method: str) -> Response:
    raise _not_implemented(method)


routers = (v1, v2)
"""What ``api/app.py`` includes."""
