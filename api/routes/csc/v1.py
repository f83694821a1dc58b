"""``/csc/v1/``: CSC API v1.0.4.0."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import DatabaseDep, SettingsDep
from keys import authorities, csc
from keys.csc import Refusal

from .auth import BearerToken, caller
from .problems import V1Route, not_implemented
from .schemas import (
    AuthorizeOut,
    AuthorizeV1In,
    CredentialInfoIn,
    CredentialInfoV1Out,
    InfoIn,
    InfoV1Out,
    InfoV2Out,
    ListV1In,
    ListV1Out,
    PinOut,
    SignHashOut,
    SignHashV1In,
)
from .translation import AUTH_DESCRIPTION, AUTH_NOTE, cert_out, info_out, key_out, sign_hash

router = APIRouter(prefix="/csc/v1", tags=["CSC API v1.0.4.0"], route_class=V1Route)


@router.get(
    "/info",
    response_model=InfoV1Out,
    operation_id="csc_v1_info_get",
    summary="Service information (§11.1), GET form",
    description="The spec has `info` as POST; the same answer comes to a GET, for a browser or a health probe.",
)
def info_v1_get() -> InfoV1Out | InfoV2Out:
    return info_out("v1")


@router.post(
    "/info",
    response_model=InfoV1Out,
    operation_id="csc_v1_info",
    summary="Service information (§11.1); no authorisation needed",
)
def info_v1(body: InfoIn | None = None) -> InfoV1Out | InfoV2Out:
    return info_out("v1")


@router.post(
    "/credentials/list",
    response_model=ListV1Out,
    response_model_exclude_none=True,
    summary="The caller's credentials (§11.4)",
    description="The credentials the caller may sign with; `maxResults` and `pageToken` page through them." + AUTH_NOTE,
)
def list_v1(bearer: BearerToken, database: DatabaseDep, body: ListV1In | None = None) -> ListV1Out:
    body = body or ListV1In()
    with database.transaction() as session:
        ids = csc.list_credentials(session, actor=caller(session, bearer), user_id=body.user_id)
    start = 0
    if body.page_token is not None:
        if not body.page_token.isdigit():
            raise csc.CscRefused(Refusal.INVALID_PAGE_TOKEN, "pageToken was not given by this service")
        start = int(body.page_token)
    end = len(ids) if body.max_results is None else start + body.max_results
    return ListV1Out(credentialIDs=ids[start:end], nextPageToken=str(end) if end < len(ids) else None)


@router.post(
    "/credentials/info",
    response_model=CredentialInfoV1Out,
    response_model_exclude_none=True,
    summary="A credential's key, certificates and authorisation mode (§11.5)",
    description=(
        "`certificates`: `none`, `single` (default) or `chain` (the signer's certificate, the issuing CA, the "
        "root); `certInfo` adds the certificate's details. Authorisation is explicit with the holder's PIN." + AUTH_NOTE
    ),
)
def credential_info_v1(
    body: CredentialInfoIn, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> CredentialInfoV1Out:
    with database.transaction() as session:
        info = csc.credential_info(
            session,
            actor=caller(session, bearer),
            pki=authorities.load(session, settings),
            credential_id=body.credential_id,
            certificates=body.certificates,
        )
    return CredentialInfoV1Out(
        description=info.description,
        key=key_out(info),
        cert=cert_out(info, body),
        authMode="explicit",
        PIN=PinOut(presence="true", format="A", label="PIN", description=AUTH_DESCRIPTION),
        OTP=PinOut(presence="false"),
        multisign=info.multisign,
        SCAL=info.scal,
        lang="zh-CN",
    )


@router.post(
    "/credentials/authorize",
    response_model=AuthorizeOut,
    summary="The holder's PIN for a SAD (§11.6)",
    description=(
        f"Answers a SAD good for `numSignatures` (at most {csc.MAX_SIGNATURES}) signatures within "
        f"{int(csc.SAD_LIFETIME.total_seconds())} seconds, bound to the `hash` values when given (each signable "
        "once). A wrong PIN answers 400 `invalid_pin` with `tries_left`; the fifth in a row locks the credential "
        '("PIN locked") until an administrator unlocks it.' + AUTH_NOTE
    ),
)
def authorize_v1(
    body: AuthorizeV1In, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> AuthorizeOut:
    hashes = None if body.hash is None else csc.decode_hashes(body.hash)
    with database.transaction() as session:
        granted = csc.authorize(
            session,
            actor=caller(session, bearer),
            pki=authorities.load(session, settings),
            settings=settings,
            credential_id=body.credential_id,
            pin=body.pin,
            num_signatures=body.num_signatures,
            hashes=hashes,
            description=body.description,
        )
    return AuthorizeOut(SAD=granted.sad, expiresIn=granted.expires_in)


@router.post(
    "/signatures/signHash",
    response_model=SignHashOut,
    summary="Sign hashes under a SAD (§11.9)",
    description=(
        "`hash`: base64 digests; `signAlgo`: sha256/384/512WithRSAEncryption, RSASSA-PSS (with `signAlgoParams`), "
        "rsaEncryption (with `hashAlgo`) or ecdsa-with-SHA256/384/512. Answers the base64 raw signatures in order. "
        "A SAD refused (unknown, expired, used up, for another credential or caller, or a hash it does not "
        "authorise) signs nothing and spends nothing." + AUTH_NOTE
    ),
)
def sign_hash_v1(body: SignHashV1In, bearer: BearerToken, database: DatabaseDep) -> Response:
    return sign_hash(
        database,
        bearer,
        credential_id=body.credential_id,
        sad=body.sad,
        hashes=body.hash,
        sign_algo=body.sign_algo,
        sign_algo_params=body.sign_algo_params,
        hash_algo=body.hash_algo,
    )


@router.post("/{method:path}", include_in_schema=False)
def unknown_v1(method: str) -> Response:
    """§10.1: 501 for a method the service does not implement (auth/login, signatures/timestamp, ...)."""
    raise not_implemented(method)
