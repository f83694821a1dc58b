"""The PKI's public services: certificates, CRLs, OCSP (RFC 6960) and time-stamping (RFC 3161)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from cryptography import x509
from fastapi import APIRouter, Body
from fastapi.responses import Response

from api.deps import DatabaseDep, SettingsDep
from esign.errors import NotFound
from esign.ids import now
from keys import authorities, ca, certificates, tsa
from keys.authorities import ISSUING, ROOT

router = APIRouter(prefix="/pki", tags=["pki"])

OCSP_RESPONSE = "application/ocsp-response"
TIMESTAMP_REPLY = "application/timestamp-reply"
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/ca", summary="The CA chain (issuing CA, then root), PEM", response_class=Response)
def chain(database: DatabaseDep, settings: SettingsDep) -> Response:
    with database.transaction() as session:
        pki = authorities.load(session, settings)
    return Response(b"".join(ca.pem(c) for c in pki.chain), media_type="application/x-pem-file")


@router.get("/ca/{name}.der", summary="One CA certificate, DER (the AIA caIssuers target)", response_class=Response)
def ca_certificate(name: str, database: DatabaseDep, settings: SettingsDep) -> Response:
    with database.transaction() as session:
        pki = authorities.load(session, settings)
    authority = {ISSUING: pki.issuing, ROOT: pki.root}.get(name)
    if authority is None:
        raise NotFound(f"no CA certificate {name!r}: the CAs are {ISSUING!r} and {ROOT!r}")
    return Response(ca.der(authority.cert), media_type="application/pkix-cert")


def _crl(issuer: str, database: DatabaseDep, settings: SettingsDep) -> Response:
    with database.transaction() as session:
        data = certificates.crl(session, pki=authorities.load(session, settings), settings=settings, issuer=issuer)
    return Response(data, media_type="application/pkix-crl", headers=_NO_STORE)


@router.get("/crl", summary="The issuing CA's CRL, DER; reflects a revocation at once", response_class=Response)
def crl(database: DatabaseDep, settings: SettingsDep) -> Response:
    return _crl(ISSUING, database, settings)


@router.get("/crl/root", summary="The root CA's CRL, DER", response_class=Response)
def root_crl(database: DatabaseDep, settings: SettingsDep) -> Response:
    return _crl(ROOT, database, settings)


def _ocsp(request_der: bytes, database: DatabaseDep, settings: SettingsDep) -> Response:
    with database.transaction() as session:
        answer = certificates.ocsp(
            session, pki=authorities.load(session, settings), settings=settings, request=request_der
        )
    return Response(answer, media_type=OCSP_RESPONSE, headers=_NO_STORE)


OcspRequest = Annotated[bytes, Body(media_type="application/ocsp-request", description="DER OCSPRequest")]
TimestampQuery = Annotated[bytes, Body(media_type="application/timestamp-query", description="DER TimeStampReq")]


@router.post("/ocsp", summary="OCSP responder (RFC 6960), POST form", response_class=Response)
def ocsp_post(database: DatabaseDep, settings: SettingsDep, body: OcspRequest = b"") -> Response:
    return _ocsp(body, database, settings)


@router.get("/ocsp/{encoded:path}", summary="OCSP responder (RFC 6960 Appendix A.1), GET form", response_class=Response)
def ocsp_get(encoded: str, database: DatabaseDep, settings: SettingsDep) -> Response:
    try:
        request_der = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        request_der = b""
    return _ocsp(request_der, database, settings)


@router.post("/tsa", summary="Time-stamping authority (RFC 3161)", response_class=Response)
def timestamp(database: DatabaseDep, settings: SettingsDep, query: TimestampQuery = b"") -> Response:
    with database.transaction() as session:
        pki = authorities.load(session, settings)
    reply = tsa.timestamp_response(
        query, tsa=pki.tsa, chain=pki.chain, policy=settings.tsa_policy, now=now(), serial=x509.random_serial_number()
    )
    return Response(reply, media_type=TIMESTAMP_REPLY, headers=_NO_STORE)
