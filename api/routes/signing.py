from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from api.deps import DatabaseDep, SettingsDep, SignerOf
from esign.errors import InvalidInput, TooLarge
from esign.sign import PadesLevel
from keys import authorities, signing

router = APIRouter(prefix="/v1", tags=["signing"])


def parse_visible(visible: str | None) -> tuple[int | None, tuple[float, float, float, float] | None]:
    if not visible:
        return None, None
    try:
        page, box = visible.split(":", 1)
        x1, y1, x2, y2 = (float(v) for v in box.split(","))
    except ValueError:
        raise InvalidInput("visible must be PAGE:x1,y1,x2,y2, e.g. 1:360,60,560,160") from None
    return int(page), (x1, y1, x2, y2)


@router.post(
    "/sign",
    summary="Sign a PDF with one of your credentials",
    description=(
        "Multipart: `file` (the PDF), `credential_id` and either `pin` or `session` (from "
        "`POST /v1/credentials/{id}/sessions`). Optional: `level` (B-B, B-T, B-LT, B-LTA; time-stamps and "
        "revocation data come from this service's own TSA and OCSP responder), `reason`, `location`, "
        "`visible` as `PAGE:x1,y1,x2,y2` in points (a seal credential draws the organisation's red seal). "
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
    pin: Annotated[str | None, Form()] = None,
    session: Annotated[str | None, Form(description="A signing session secret instead of the PIN")] = None,
    level: Annotated[PadesLevel, Form()] = PadesLevel.B_B,
    reason: Annotated[str | None, Form()] = None,
    location: Annotated[str | None, Form()] = None,
    visible: Annotated[str | None, Form()] = None,
) -> Response:
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise TooLarge(f"the upload exceeds the limit of {settings.max_upload_mb} MiB")
    if (pin is None) == (session is None):
        raise InvalidInput("give either pin or session")
    page, box = parse_visible(visible)
    request = signing.SignRequest(pdf=data, level=level, reason=reason, location=location, page=page, box=box)
    with database.transaction() as db:
        pki = authorities.load(db, settings)
        if session is not None:
            signed = signing.with_session(
                db,
                actor=actor,
                pki=pki,
                settings=settings,
                credential_id=credential_id,
                secret=session,
                request=request,
            )
        else:
            assert pin is not None
            signed = signing.with_pin(
                db, actor=actor, pki=pki, settings=settings, credential_id=credential_id, pin=pin, request=request
            )
    return Response(signed, media_type="application/pdf")
