"""The PKI's public services: certificates, CRLs, OCSP (RFC 6960) and time-stamping (RFC 3161)."""

from __future__ import annotations

import base64
import binascii
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from api.deps import DatabaseDep, SettingsDep, pki_services
from esign.errors import NotFound
from keys import authorities, ca, certificates
from keys.authorities import ISSUING, ROOT

router = APIRouter(prefix="/pki", tags=["pki"])

OCSP_RESPONSE = "application/ocsp-response"
TIMESTAMP_REPLY = "application/timestamp-reply"
_NO_STORE = {"Cache-Control": "no-store"}


class RawRoute(APIRoute):
    """An operation whose endpoint takes the ``Request`` and returns a ``Response``, and is called just so.

    FastAPI's own handler reads and validates parameters, solves dependencies and serialises the result at
    every request: about a quarter of the framework's time for a time-stamp or a kept OCSP answer
    (``bench/pki.py``). Dependencies would be skipped, so the endpoint must declare none.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = inspect.signature(self.endpoint).parameters
        if list(declared) != ["request"]:
            raise TypeError(f"{self.path}: a raw route's endpoint takes the request alone")
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


def _der_body(media_type: str, description: str) -> dict[str, Any]:
    """The request body in the OpenAPI document, for a route that reads it raw."""
    schema = {"type": "string", "contentMediaType": "application/octet-stream", "description": description}
    return {"requestBody": {"content": {media_type: {"schema": schema}}}}


async def _ocsp(request_der: bytes, request: Request) -> Response:
    answer = await (await pki_services(request)).ocsp(request_der)
    return Response(answer, media_type=OCSP_RESPONSE, headers=_NO_STORE)


async def ocsp_post(request: Request) -> Response:
    return await _ocsp(await request.body(), request)


async def timestamp(request: Request) -> Response:
    reply = (await pki_services(request)).timestamp(await request.body())
    return Response(reply, media_type=TIMESTAMP_REPLY, headers=_NO_STORE)


# Time-stamps and OCSP answers, on every signature's path, are declared first: routes are matched in order.
router.add_api_route(
    "/ocsp",
    ocsp_post,
    methods=["POST"],
    summary="OCSP responder (RFC 6960), POST form",
    response_class=Response,
    openapi_extra=_der_body("application/ocsp-request", "DER OCSPRequest"),
    route_class_override=RawRoute,
)
router.add_api_route(
    "/tsa",
    timestamp,
    methods=["POST"],
    summary="Time-stamping authority (RFC 3161)",
    response_class=Response,
    openapi_extra=_der_body("application/timestamp-query", "DER TimeStampReq"),
    route_class_override=RawRoute,
)


@router.get("/ocsp/{encoded:path}", summary="OCSP responder (RFC 6960 Appendix A.1), GET form", response_class=Response)
async def ocsp_get(encoded: str, request: Request) -> Response:
    try:
        request_der = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        request_der = b""
    return await _ocsp(request_der, request)


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
