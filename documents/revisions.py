"""Adding and reading revisions. A revision is immutable: its PDF lives in the blob store under its SHA-256,
and every revision after the first extends its parent byte for byte (an incremental update), so the
signatures in earlier revisions stay valid.

Adding a revision also notes on the document what the new PDF's last document time-stamp protects
(:func:`esign.archive.assess`, parsing only), so the preservation worker finds the documents to re-time-stamp
with an indexed query instead of reading every PDF (``documents.preservation``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import archive, audit
from esign.blobs import BlobStore, RangedBlobStore
from esign.errors import BlobCorrupted, NotFound
from esign.identity import Actor
from esign.ids import new_id, now
from esign.scoped import get_scoped

from .errors import InvalidDocument
from .records import Document, Reason, Revision


def get_document(session: Session, *, actor: Actor, document_id: str, for_update: bool = False) -> Document:
    """The document if it belongs to the actor's organisation; ``for_update`` locks it, so two changes to one
    document (two signatures, a signature and a number) queue up instead of forking its revisions."""
    return get_scoped(session, Document, scope=actor, id=document_id, what="document", for_update=for_update)


def latest(session: Session, document: Document) -> Revision:
    revision = session.scalar(
        select(Revision).where(Revision.document_id == document.id, Revision.seq == document.revision_count)
    )
    if revision is None:
        raise NotFound(f"document {document.id} has no revision")
    return revision


def listing(session: Session, *, actor: Actor, document_id: str) -> Sequence[Revision]:
    document = get_document(session, actor=actor, document_id=document_id)
    return session.scalars(select(Revision).where(Revision.document_id == document.id).order_by(Revision.seq)).all()


def get(session: Session, *, actor: Actor, document_id: str, seq: int) -> Revision:
    document = get_document(session, actor=actor, document_id=document_id)
    revision = session.scalar(select(Revision).where(Revision.document_id == document.id, Revision.seq == seq))
    if revision is None:
        raise NotFound(f"document {document_id} has no revision {seq}")
    return revision


def pdf(blobs: BlobStore, revision: Revision) -> bytes:
    return blobs.get(revision.sha256)


def pdf_to_file(blobs: RangedBlobStore, revision: Revision, path: Path) -> Path:
    """The revision's PDF copied to ``path`` in chunks, its digest checked on the way."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for chunk in blobs.read_range(revision.sha256, 0, revision.size):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != revision.sha256:
        raise BlobCorrupted(f"blob {revision.sha256} no longer matches its digest")
    return path


def add(
    session: Session,
    *,
    blobs: BlobStore,
    document: Document,
    data: bytes | Path,
    reason: Reason,
    actor: Actor,
    detail: dict[str, Any] | None = None,
    verification: dict[str, Any] | None = None,
    assessment: archive.Assessment | None = None,
) -> Revision:
    """Append a revision; the caller holds the document's lock (``get_document(..., for_update=True)``).

    ``assessment``: what the PDF's archive time-stamp protects, when the caller had it assessed already (an
    upload, in a parsing worker: ``esign.budget.assess``); else it is assessed here, the service's own PDFs.
    ``data`` is the PDF, or the path of a file holding it (a large upload), stored from the file."""
    parent = latest(session, document) if document.revision_count else None
    if parent is not None and not _extends(blobs, data, parent):
        raise InvalidDocument("a new revision must extend the previous one as an incremental update")
    digest = blobs.put(data) if isinstance(data, bytes) else blobs.put_file(data)
    revision = Revision(
        id=new_id(),
        document_id=document.id,
        organisation_id=document.organisation_id,
        seq=document.revision_count + 1,
        parent_id=parent.id if parent else None,
        sha256=digest,
        size=len(data) if isinstance(data, bytes) else data.stat().st_size,
        reason=reason.value,
        detail=detail or {},
        verification=verification,
        created_by=actor.label,
    )
    session.add(revision)
    note_assessment(document, assessment or _assess(data))
    document.revision_count = revision.seq
    document.updated_at = now()
    session.flush()
    audit.append(
        session,
        actor=actor,
        action=f"document.{reason.value}",
        subject=f"document:{document.id}",
        chain=document.organisation_id,
        payload={"revision": revision.seq, "sha256": digest, **(detail or {})},
    )
    return revision


def _extends(blobs: BlobStore, data: bytes | Path, parent: Revision) -> bool:
    """Whether ``data`` begins with the parent's bytes: a file by the digest of its first ``parent.size``
    bytes, read in chunks, so neither is held whole."""
    if isinstance(data, bytes):
        return data.startswith(pdf(blobs, parent))
    digest, left = hashlib.sha256(), parent.size
    with data.open("rb") as source:
        while left and (chunk := source.read(min(left, 1024 * 1024))):
            digest.update(chunk)
            left -= len(chunk)
    return left == 0 and digest.hexdigest() == parent.sha256


def _assess(data: bytes | Path) -> archive.Assessment:
    if isinstance(data, bytes):
        return archive.assess(data)
    with data.open("rb") as source:
        return archive.assess(source)


def note_assessment(document: Document, assessment: archive.Assessment) -> None:
    """Record on the document what its latest revision's archive is protected by, and end any worker's lease."""
    stamp = assessment.stamp
    document.preservation = assessment.state.value
    document.protected_until = stamp.protected_until if stamp else None
    document.archive_digest = stamp.digest if stamp else None
    document.archive_key_type = stamp.key_type if stamp else None
    document.archive_key_bits = stamp.key_bits if stamp else None
    document.archive_claimed_until = None
