"""Signing a PDF with a credential held here: unlock (PIN or signing session), sign, audit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from pyhanko.sign.signers import Signer
from sqlalchemy.orm import Session

from esign import audit
from esign.appearance import Appearance
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.settings import Settings
from esign.sign import Certification, PadesLevel, SignOptions, sign

from . import custody, identities, levels
from .authorities import Pki
from .credentials import Credential, Purpose, get


@dataclass(frozen=True)
class SignRequest:
    pdf: bytes
    level: PadesLevel = PadesLevel.B_B
    reason: str | None = None
    location: str | None = None
    field_name: str | None = None
    page: int | None = None
    box: tuple[float, float, float, float] | None = None
    """With ``page``, draws the signature there: the signer's details, or the organisation's red seal."""
    certify: Certification | None = None
    """A certification signature with that DocMDP permission instead of an approval signature."""


def _options(
    session: Session, *, credential: Credential, pki: Pki, settings: Settings, request: SignRequest
) -> SignOptions:
    appearance = None
    if request.box is not None:
        if credential.purpose == Purpose.SEAL.value:
            org = identities.get_organisation(session, credential.organisation_id)
            appearance = Appearance(page=request.page or 1, box=request.box, seal_text=org.name, show_details=False)
        else:
            appearance = Appearance(page=request.page or 1, box=request.box)
    options = SignOptions(
        level=request.level,
        reason=request.reason,
        location=request.location,
        field_name=request.field_name,
        certify=request.certify,
        appearance=appearance,
    )
    return replace(options, **levels.engine_inputs(session, pki=pki, settings=settings, level=request.level))


def _signed(
    session: Session,
    *,
    actor: Actor,
    signer: Signer,
    credential: Credential,
    pki: Pki,
    settings: Settings,
    request: SignRequest,
) -> bytes:
    signed = sign(
        request.pdf, signer, _options(session, credential=credential, pki=pki, settings=settings, request=request)
    )
    audit.append(
        session,
        actor=actor,
        action="document.signed",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
        payload={
            "level": request.level.value,
            "input_sha256": hashlib.sha256(request.pdf).hexdigest(),
            "output_sha256": hashlib.sha256(signed).hexdigest(),
            "purpose": credential.purpose,
        },
    )
    return signed


def with_pin(
    session: Session, *, actor: Actor, pki: Pki, settings: Settings, credential_id: str, pin: str, request: SignRequest
) -> bytes:
    with custody.unlocked(session, actor=actor, credential_id=credential_id, pin=pin, pki=pki) as signer:
        credential = get(session, actor=actor, credential_id=credential_id)
        return _signed(
            session, actor=actor, signer=signer, credential=credential, pki=pki, settings=settings, request=request
        )


def with_session(
    session: Session,
    *,
    actor: Actor,
    pki: Pki,
    settings: Settings,
    credential_id: str,
    secret: str,
    request: SignRequest,
) -> bytes:
    signer, record = custody.session_signer(session, actor=actor, secret=secret, pki=pki)
    if record.credential_id != credential_id:
        raise InvalidInput("this signing session belongs to another credential")
    credential = get(session, actor=actor, credential_id=credential_id)
    return _signed(
        session, actor=actor, signer=signer, credential=credential, pki=pki, settings=settings, request=request
    )
