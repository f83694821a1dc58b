"""Signing and sealing a document: the latest revision, signed with the actor's credential, becomes the next.

In two transactions around the signing (``esign.phases``): :func:`prepare` reads the latest revision and
unlocks the key, :meth:`DocumentSigning.run` signs outside any transaction, and :func:`record` stores the
signed PDF as the next revision, unless another revision was added meanwhile (``Stale``: signed again).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from esign.blobs import BlobStore, RangedBlobStore
from esign.identity import Actor
from esign.phases import Stale
from esign.settings import Settings
from esign.sign import PadesLevel
from esign.spool import Spool, removed_on_error
from keys import credentials, signing
from keys.authorities import Pki
from keys.credentials import Purpose

from . import revisions
from .records import Document, Reason, Revision


def authorise(session: Session, *, actor: Actor, document_id: str, credential_id: str) -> None:
    """Whether the actor may sign this document with this credential (checked before a replayed signing too)."""
    revisions.get_document(session, actor=actor, document_id=document_id)
    credentials.require_use(session, actor=actor, credential_id=credential_id)


class DocumentSigning:
    """A signature of one revision of a document, prepared and then made outside the transaction. ``spool``:
    the directory holding a large revision and its signed successor as files, removed once the signed one is
    stored (or the signature failed)."""

    def __init__(
        self, *, document_id: str, base_seq: int, work: signing.SigningWork, spool: Spool | None = None
    ) -> None:
        self.document_id = document_id
        self.base_seq = base_seq
        self.work = work
        self.spool = spool

    @property
    def sealing(self) -> bool:
        return self.work.sealing

    def run(self) -> None:
        with removed_on_error(self.spool):
            self.work.run()

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.remove()

    def close(self) -> None:
        self.work.close()


def prepare(
    session: Session,
    *,
    actor: Actor,
    pki: Pki,
    blobs: BlobStore,
    settings: Settings,
    document_id: str,
    unlock: signing.Unlock,
    level: PadesLevel | None = None,
    reason: str | None = None,
    page: int | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> DocumentSigning:
    """Prepare a signature (or, with a seal credential, a seal) of the document's latest revision.

    A seal goes where the layout put the seal (pressed over the issuer's name and the date) unless a box
    is given; a personal signature is invisible unless a box is given.
    """
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    credential = credentials.get(session, actor=actor, credential_id=unlock.credential_id)
    if credential.purpose == Purpose.SEAL.value and box is None and document.layout and document.layout.get("seal_box"):
        seal_page, *seal_box = document.layout["seal_box"]
        page, box = int(seal_page) + 1, tuple(seal_box)
    latest = revisions.latest(session, document)
    ranged = blobs if isinstance(blobs, RangedBlobStore) else None
    spool = Spool() if ranged is not None and latest.size > settings.upload_in_memory_kb * 1024 else None
    with removed_on_error(spool):
        source: bytes | Path
        if spool is not None and ranged is not None:
            source = revisions.pdf_to_file(ranged, latest, spool.path("revision.pdf"))
        else:
            source = revisions.pdf(blobs, latest)
        request = signing.SignRequest(
            pdf=source,
            output=spool.path("signed.pdf") if spool is not None else None,
            level=level,
            reason=reason,
            page=page,
            box=box,
        )
        work = signing.prepare(session, actor=actor, pki=pki, settings=settings, unlock=unlock, request=request)
    return DocumentSigning(document_id=document.id, base_seq=document.revision_count, work=work, spool=spool)


def locked_unchanged(session: Session, *, actor: Actor, document_id: str, base_seq: int) -> Document:
    """The document, locked, if its latest revision is still ``base_seq``; else ``Stale``."""
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    if document.revision_count != base_seq:
        raise Stale(f"document {document.id} changed while it was being signed")
    return document


def record(session: Session, *, actor: Actor, blobs: BlobStore, signature: DocumentSigning) -> Revision:
    """Store the signed PDF as the document's next revision, with the signature's audit events."""
    try:
        return _record(session, actor=actor, blobs=blobs, signature=signature)
    finally:
        signature.discard()


def _record(session: Session, *, actor: Actor, blobs: BlobStore, signature: DocumentSigning) -> Revision:
    document = locked_unchanged(session, actor=actor, document_id=signature.document_id, base_seq=signature.base_seq)
    signed = signing.record(session, actor=actor, work=signature.work)
    return revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=signed,
        reason=Reason.SEALED if signature.sealing else Reason.SIGNED,
        actor=actor,
        detail={
            "credential": signature.work.credential_id,
            "signer": signature.work.signer_name,
            "level": signature.work.level.value,
        },
    )
