from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import Response

from api import reports, uploads
from api.deps import DatabaseDep, PolicyDep, SettingsDep
from esign import budget
from esign.report import VerificationReport

router = APIRouter(prefix="/v1", tags=["verification"])


@router.post(
    "/verify",
    response_model=VerificationReport,
    summary="Verify every signature in a PDF",
    description=(
        "Upload a PDF as the multipart field `file`. Extra trust anchors (PEM or DER certificates) may be "
        "sent as `trust` fields; they add to the service's configured anchors for this request only. "
        "An `at` field (ISO 8601 date or date-time) validates as of that time instead of now. "
        "With `Accept: application/xml` the same report comes back as an ETSI TS 119 102-2 validation report, "
        "with `Accept: application/pdf` as a PDF. Times are in the organisation's time zone (ESIGN_TIMEZONE)."
    ),
    responses={
        **reports.RESPONSES,
        413: {"description": "The upload exceeds ESIGN_MAX_UPLOAD_MB (code `too_large`)"},
        422: {
            "description": "Not a readable PDF (`pdf_malformed`), needing a password to open (`pdf_encrypted`; "
            "one that opens without a password is verified and reported `encrypted`), beyond the parsing "
            "budget (`pdf_too_complex`, with the `limit` hit), bad trust PEM"
        },
        503: {"description": "Every PDF worker is busy (`busy`); retry after `Retry-After` seconds"},
    },
)
def verify(
    file: Annotated[UploadFile, File(description="The PDF to verify")],
    settings: SettingsDep,
    policy: PolicyDep,
    database: DatabaseDep,
    extra_trust: Annotated[
        list[UploadFile] | None, File(alias="trust", description="Extra trust anchor certificates")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
    at: Annotated[
        str | None,
        Form(
            description="Validate as of this time (ISO 8601 date or date-time; the organisation's zone without "
            "an offset): past signature validation with the proofs of existence the document carries"
        ),
    ] = None,
) -> VerificationReport | Response:
    with uploads.received(file, settings) as (data, spool):
        try:
            with database.transaction() as session:
                trust = policy.trust(session, extra_anchors=[anchor.file.read() for anchor in extra_trust or ()])
            moment = reports.validation_time(at, settings.zone)
            report = budget.verify(data, trust, at=moment)
        finally:
            if spool is not None:
                spool.remove()
    return reports.respond(report, accept, settings.zone)
