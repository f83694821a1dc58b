"""``/csc/v2/``: CSC API v2.0.0.2."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import DatabaseDep, SettingsDep
from keys import authorities, csc
from keys.errors import PinInvalid

from .auth import BearerToken, caller
from .problems import CscProblem, V2Route, not_implemented
from .schemas import (
    AuthorizeOut,
    AuthorizeV2In,
    CredentialInfoIn,
    CredentialInfoV2Out,
    InfoIn,
    InfoV1Out,
    InfoV2Out,
    ListV2In,
    ListV2Out,
    SignHashOut,
    SignHashV2In,
)
from .translation import AUTH_NOTE, info_out, sign_hash, v2_info

router = APIRouter(prefix="/csc/v2", tags=["CSC API v2.0.0.2"], route_class=V2Route)


@router.get(
    "/info",
    response_model=InfoV2Out,
    operation_id="csc_v2_info_get",
    summary="Service information (§11.1), GET form",
    description="The spec has `info` as POST; the same answer comes to a GET, for a browser or a health probe.",
)
def info_v2_get() -> InfoV1Out | InfoV2Out:
    return info_out("v2")


@router.post(
    "/info",
    response_model=InfoV2Out,
    operation_id="csc_v2_info",
    summary="Service information (§11.1); no authorisation needed",
)
def info_v2(body: InfoIn | None = None) -> InfoV1Out | InfoV2Out:
    return info_out("v2")


@router.post(
    "/credentials/list",
    response_model=ListV2Out,
    response_model_exclude_none=True,
    summary="The caller's credentials, optionally with their details (§11.4)",
    description=(
        "`credentialInfo` adds each credential's `credentials/info`; `onlyValid` leaves out locked ones." + AUTH_NOTE
    ),
)
def list_v2(
    bearer: BearerToken, database: DatabaseDep, settings: SettingsDep, body: ListV2In | None = None
) -> ListV2Out:
    body = body or ListV2In()
    with database.transaction() as session:
        actor = caller(session, bearer)
        ids = csc.list_credentials(session, actor=actor, user_id=body.user_id, only_valid=body.only_valid)
        infos = None
        if body.credential_info:
            pki = authorities.load(session, settings)
            infos = [
                v2_info(
                    csc.credential_info(session, actor=actor, pki=pki, credential_id=i, certificates=body.certificates),
                    body,
                    with_id=True,
                )
                for i in ids
            ]
    return ListV2Out(credentialIDs=ids, credentialInfos=infos, onlyValid=True if body.only_valid else None)


@router.post(
    "/credentials/info",
    response_model=CredentialInfoV2Out,
    response_model_exclude_none=True,
    summary="A credential's key, certificates and authorisation (§11.5)",
    description=(
        "`certificates`: `none`, `single` (default) or `chain`; `certInfo` adds the certificate's details. "
        "`auth` is explicit, with one Password object: the PIN." + AUTH_NOTE
    ),
)
def credential_info_v2(
    body: CredentialInfoIn, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> CredentialInfoV2Out:
    with database.transaction() as session:
        info = csc.credential_info(
            session,
            actor=caller(session, bearer),
            pki=authorities.load(session, settings),
            credential_id=body.credential_id,
            certificates=body.certificates,
        )
    return v2_info(info, body, with_id=False)


@router.post(
    "/credentials/authorize",
    response_model=AuthorizeOut,
    summary="The holder's PIN for a SAD (§11.6)",
    description=(
        '`authData`: `[{"id": "PIN", "value": "..."}]`. Answers a SAD good for `numSignatures` (at most '
        f"{csc.MAX_SIGNATURES}) signatures within {int(csc.SAD_LIFETIME.total_seconds())} seconds, bound to "
        "`hashes` when given. Wrong authentication data answers 400 `invalid_authentication_data` with "
        '`tries_left`; the fifth in a row locks the credential ("Credential locked").' + AUTH_NOTE
    ),
)
def authorize_v2(
    body: AuthorizeV2In, bearer: BearerToken, database: DatabaseDep, settings: SettingsDep
) -> AuthorizeOut:
    hashes = None if body.hashes is None else csc.decode_hashes(body.hashes)
    given = [a.value for a in body.auth_data or () if a.id == "PIN"]
    pin = given[0] if given else body.pin
    try:
        with database.transaction() as session:
            granted = csc.authorize(
                session,
                actor=caller(session, bearer),
                pki=authorities.load(session, settings),
                settings=settings,
                credential_id=body.credential_id,
                pin=pin,
                num_signatures=body.num_signatures,
                hashes=hashes,
                hash_algo=body.hash_algorithm_oid,
                description=body.description,
            )
    except PinInvalid as e:
        if not given:
            raise
        extra: dict[str, object] = {"tries_left": e.tries_left} if e.tries_left >= 0 else {}
        raise CscProblem(400, "invalid_authentication_data", "The authentication data is invalid", extra=extra) from e
    return AuthorizeOut(SAD=granted.sad, expiresIn=granted.expires_in)


@router.post(
    "/signatures/signHash",
    response_model=SignHashOut,
    summary="Sign hashes under a SAD (§11.10)",
    description=(
        "`hashes`: base64 digests; `signAlgo` as in `credentials/info`'s `key.algo` (RSASSA-PSS with "
        "`signAlgoParams`, rsaEncryption with `hashAlgorithmOID`). Synchronous only. Answers the base64 raw "
        "signatures in order; a refused SAD signs nothing and spends nothing." + AUTH_NOTE
    ),
)
def sign_hash_v2(body: SignHashV2In, bearer: BearerToken, database: DatabaseDep) -> Response:
    return sign_hash(
        database,
        bearer,
        credential_id=body.credential_id,
        sad=body.sad,
        hashes=body.hashes,
        sign_algo=body.sign_algo,
        sign_algo_params=body.sign_algo_params,
        hash_algo=body.hash_algorithm_oid,
    )


@router.post("/{method:path}", include_in_schema=False)
def unknown_v2(method: str) -> Response:
    raise not_implemented(method)
