"""Signing and sealing a document: the latest revision, signed with the actor's credential, becomes the next."""

from __future__ import annotations

from sqlalchemy.orm import Session

from esign.blobs import BlobStore
from esign.identity import Actor
from esign.settings import Settings
from esign.sign import PadesLevel
from keys import credentials, signing
from keys.authorities import Pki
from keys.credentials import Purpose

from . import revisions
from .records import Reason, Revision


def authorise(session: Session, *, actor: Actor, document_id: str, credential_id: str) -> None:
    """Whether the actor may sign this document with this credential (checked before a replayed signing too)."""
    revisions.get_document(session, actor=actor, document_id=document_id)
    credentials.require_use(session, actor=actor, credential_id=credential_id)


def sign_document(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    pki: Pki,
    settings: Settings,
    document_id: str,
    credential_id: str,
    pin: str | None = None,
    session_secret: str | None = None,
    level: PadesLevel = PadesLevel.B_B,
    reason: str | None = None,
    page: int | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> Revision:
    """Sign (or, with a seal credential, seal) the document's latest revision into a new one.

    A seal goes where the layout put the seal (pressed over the issuer's name and the date) unless a box
    is given; a personal signature is invisible unless a box is given.
    """
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    credential = credentials.get(session, actor=actor, credential_id=credential_id)
    sealing = credential.purpose == Purpose.SEAL.value
    if sealing and box is None and document.layout and document.layout.get("seal_box"):
        seal_page, *seal_box = document.layout["seal_box"]
        page, box = int(seal_page) + 1, tuple(seal_box)
    request = signing.SignRequest(
        pdf=revisions.pdf(blobs, revisions.latest(session, document)), level=level, reason=reason, page=page, box=box
    )
    if session_secret is not None:
        signed = signing.with_session(
            session,
            actor=actor,
            pki=pki,
            settings=settings,
            credential_id=credential_id,
            secret=session_secret,
            request=request,
        )
    else:
        signed = signing.with_pin(
            session,
            actor=actor,
            pki=pki,
            settings=settings,
            credential_id=credential_id,
            pin=pin or "",
            request=request,
        )
    cert = credentials.certificate(session, credential)
    return revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=signed,
        reason=Reason.SEALED if sealing else Reason.SIGNED,
        actor=actor,
        detail={"credential": credential.id, "signer": cert.subject.rfc4514_string(), "level": level.value},
    )
