from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from api import uploads
from api.deps import DatabaseDep, SettingsDep, SignerOf
from api.schemas import GivenPin
from esign import budget, phases
from esign.errors import InvalidInput
from esign.sign import Certification, PadesLevel
from esign.signature_block import MAX_REASON_CHARS
from keys import authorities, signing

router = APIRouter(prefix="/v1", tags=["signing"])


MAX_COORDINATE = 14_400.0
"""The largest page PDF allows without a UserUnit (ISO 32000-1, Annex C: 200 inches), in points."""

_VISIBLE_FORM = "visible must be PAGE:x1,y1,x2,y2 in points, e.g. 1:360,60,560,160"


def parse_visible(visible: str | None) -> tuple[int | None, tuple[float, float, float, float] | None]:
    """The page (from 1) and box of ``visible``, checked before anything is signed: a page below 1, a
    coordinate that is not a finite number from 0 to ``MAX_COORDINATE``, or an empty box is a 422 naming
    the field. Whether the page exists is the engine's check, against the document's page count."""
    if not visible:
        return None, None
    try:
        page_text, box_text = visible.split(":", 1)
        page = int(page_text.strip())
        x1, y1, x2, y2 = (float(v) for v in box_text.split(","))
    except ValueError:
        raise InvalidInput(_VISIBLE_FORM) from None
    if page < 1:
        raise InvalidInput(f"visible: pages count from 1, not {page}")
    box = (x1, y1, x2, y2)
    if not all(math.isfinite(v) and 0 <= v <= MAX_COORDINATE for v in box):
        raise InvalidInput(f"visible: coordinates are numbers of points from 0 to {MAX_COORDINATE:g}")
    if x2 <= x1 or y2 <= y1:
        raise InvalidInput("visible: the box needs x2 > x1 and y2 > y1")
    return page, box


@router.post(
    "/sign",
    summary="Sign a PDF with one of your credentials",
    description=(
        "Multipart: `file` (the PDF), `credential_id` and either `pin` or `session` (from "
        "`POST /v1/credentials/{id}/sessions`). Optional: `level` (B-T, B-LT or B-LTA; left out, the organisation's "
        "level, B-LTA unless it chose another; time-stamps and revocation data come from this service's own TSA, "
        "CRLs and OCSP responder), `reason`, `location`, "
        "`visible` as `PAGE:x1,y1,x2,y2` in points (a seal credential draws the organisation's red seal), "
        "`certify` (`no_changes`, `form_filling` or `annotations`: a certification signature with that DocMDP "
        "permission, P 1, 2 or 3; only as the document's first signature). "
        "Answers the signed PDF. A wrong PIN answers 403 `pin_invalid` with `tries_left`; the fifth in a row "
        "locks the credential (423 `credential_locked`)."
    ),
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The signed PDF"}},
)
def sign(
    file: Annotated[UploadFile, File(description="The PDF to sign")],
    credential_id: Annotated[str, Form()],
    actor: SignerOf,
    database: DatabaseDep,
    settings: SettingsDep,
    pin: Annotated[GivenPin | None, Form()] = None,
    session: Annotated[str | None, Form(description="A signing session secret instead of the PIN")] = None,
    level: Annotated[PadesLevel | None, Form()] = None,
    reason: Annotated[
        str | None, Form(max_length=MAX_REASON_CHARS, description="Printed in a visible signature's block, wrapped")
    ] = None,
    location: Annotated[str | None, Form()] = None,
    visible: Annotated[str | None, Form()] = None,
    certify: Annotated[Certification | None, Form(description="Certify with this DocMDP permission")] = None,
) -> Response:
    unlock = signing.Unlock(credential_id=credential_id, pin=pin, session_secret=session)
    page, box = parse_visible(visible)
    with uploads.received(file, settings) as (data, spool):
        budget.vet(data)  # opened under the parsing budget in a worker before the server opens it to sign
        request = signing.SignRequest(
            pdf=data,
            output=spool.path("signed.pdf") if spool is not None else None,
            level=level,
            reason=reason,
            location=location,
            page=page,
            box=box,
            certify=certify,
        )
        signed = phases.run(
            database,
            phases.Phases(
                lambda db: signing.prepare(
                    db,
                    actor=actor,
                    pki=authorities.load(db, settings),
                    settings=settings,
                    unlock=unlock,
                    request=request,
                ),
                lambda db, work: signing.record(db, actor=actor, work=work),
            ),
        )
    if isinstance(signed, bytes):
        return Response(signed, media_type="application/pdf")
    assert spool is not None
    return FileResponse(signed, media_type="application/pdf", background=BackgroundTask(spool.remove))
