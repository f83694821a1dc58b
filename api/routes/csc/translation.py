"""What both versions share: the service's answers in CSC's shapes, and ``signHash`` handed to the service."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from fastapi import Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from esign.db import Database
from keys import csc
from keys.csc import Refusal

from .auth import caller
from .problems import Version
from .schemas import (
    AuthObjectOut,
    AuthOut,
    CertOut,
    CredentialInfoV2Out,
    InfoOptions,
    InfoV1Out,
    InfoV2Out,
    KeyOut,
    SignAlgorithmsOut,
    SignatureFormatsOut,
)

AUTH_DESCRIPTION = "证书持有人的 PIN (the credential holder's PIN)"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _generalized_time(at: datetime) -> str:
    """``YYYYMMDDHHMMSSZ`` (RFC 5280 GeneralizedTime), as §11.5 asks for validFrom and validTo."""
    return at.strftime("%Y%m%d%H%M%SZ")


def key_out(info: csc.CredentialInfo) -> KeyOut:
    return KeyOut(status=info.key.status, algo=list(info.key.algorithms), len=info.key.length, curve=info.key.curve)


def cert_out(info: csc.CredentialInfo, options: InfoOptions) -> CertOut:
    cert = info.cert
    details = options.cert_info
    return CertOut(
        status=cert.status,
        certificates=[b64(c) for c in cert.certificates] if options.certificates != "none" else None,
        issuerDN=cert.issuer_dn if details else None,
        serialNumber=cert.serial_number if details else None,
        subjectDN=cert.subject_dn if details else None,
        validFrom=_generalized_time(cert.valid_from) if details else None,
        validTo=_generalized_time(cert.valid_to) if details else None,
    )


def v2_info(info: csc.CredentialInfo, options: InfoOptions, *, with_id: bool) -> CredentialInfoV2Out:
    return CredentialInfoV2Out(
        credentialID=info.credential_id if with_id else None,
        description=info.description,
        key=key_out(info),
        cert=cert_out(info, options),
        auth=AuthOut(
            mode="explicit",
            expression="PIN",
            objects=[AuthObjectOut(type="Password", id="PIN", format="A", label="PIN", description=AUTH_DESCRIPTION)],
        ),
        multisign=info.multisign,
        SCAL=info.scal,
        lang="zh-CN",
    )


def decode_params(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise csc.CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "signAlgoParams is not base64") from None


def sign_hash(
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
    """``keys.csc.sign_hash`` with the request's base64 decoded; the bearer token is looked up within the
    service's spending transaction."""
    digests = csc.decode_hashes(hashes)
    params = decode_params(sign_algo_params)
    signatures = csc.sign_hash(
        database,
        actor=lambda session: caller(session, bearer),
        credential_id=credential_id,
        sad=sad,
        hashes=digests,
        sign_algo=sign_algo,
        sign_algo_params=params,
        hash_algo=hash_algo,
    )
    return JSONResponse({"signatures": [b64(s) for s in signatures]})


def info_out(version: Version) -> InfoV1Out | InfoV2Out:
    about = csc.info()
    if version == "v1":
        return InfoV1Out(
            specs=csc.SPECS_V1,
            name=about.name,
            logo=about.logo,
            region=about.region,
            lang=about.lang,
            description=about.description,
            authType=list(about.auth_type),
            methods=list(about.methods),
        )
    return InfoV2Out(
        specs=csc.SPECS_V2,
        name=about.name,
        logo=about.logo,
        region=about.region,
        lang=about.lang,
        description=about.description,
        authType=list(about.auth_type),
        methods=list(about.methods),
        signAlgorithms=SignAlgorithmsOut(algos=list(about.sign_algorithms)),
        signature_formats=SignatureFormatsOut(formats=[]),
        conformance_levels=[],
        asynchronousOperationMode=False,
    )


AUTH_NOTE = (
    ' Service authorisation is the CSC "external" kind: `Authorization: Bearer <esign API token>` of the '
    "official who holds the credential (or, for a seal, of a seal custodian)."
)
