"""A verification report in the form the client asks for with ``Accept``: JSON, ETSI XML or PDF."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from fastapi.responses import Response

from esign import report_pdf
from esign.errors import InvalidInput
from esign.etsi import validation_report
from esign.report import VerificationReport

JSON = "application/json"
XML = "application/xml"
PDF = "application/pdf"
OFFERED = (JSON, XML, PDF)
"""In the order of preference when the client likes several equally."""

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            XML: {"schema": {"type": "string", "description": "ETSI TS 119 102-2 V1.2.1 ValidationReport"}},
            PDF: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The verification report: JSON by default, `Accept: application/xml` for the ETSI "
        "TS 119 102-2 validation report, `Accept: application/pdf` for a PDF to file or print",
    }
}


def validation_time(text: str | None, zone: tzinfo) -> datetime | None:
    """``--at``/``at``: an ISO 8601 date or date-time; without an offset it is in ``zone``, a bare date its end of
    day there (the whole day has passed)."""
    if text is None or not text.strip():
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 date or date-time, e.g. 2029-06-30 or 2029-06-30T12:00+08:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _quality(accept: str, offered: str) -> float:
    """How much ``accept`` likes ``offered``: the q of its most specific matching range (RFC 9110 §12.5.1)."""
    kind = offered.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media_range in accept.split(","):
        name, *params = (part.strip() for part in media_range.split(";"))
        specificity = {offered: 2, f"{kind}/*": 1, "*/*": 0}.get(name.lower())
        if specificity is None or specificity < best[0]:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (specificity, q)
    return best[1]


def negotiate(accept: str | None) -> str:
    """The offered media type ``accept`` prefers; JSON without the header or when it names none of them."""
    if not accept:
        return JSON
    scored = [(_quality(accept, media), -rank, media) for rank, media in enumerate(OFFERED)]
    q, _, media = max(scored)
    return media if q > 0 else JSON


def respond(report: VerificationReport, accept: str | None, zone: tzinfo) -> VerificationReport | Response:
    """The report with its times in ``zone``, as JSON (the model itself), XML or PDF."""
    local = report.localised(zone)
    media = negotiate(accept)
    if media == XML:
        return Response(validation_report.to_xml(local), media_type=XML)
    if media == PDF:
        return Response(report_pdf.render(local), media_type=PDF)
    return local
