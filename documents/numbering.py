"""Registration and numbering (登记编号): ``{机关代字}〔{year}〕{n}号``, unique and gap-free per organisation,
prefix and year.

The counter is one row per (organisation, prefix, year), incremented by an UPDATE that holds its row lock
until the registration commits: concurrent registrations queue on it, and a registration that fails rolls
its increment back with everything else, so no number is skipped or given twice. The number is written
into the PDF as a new revision: a signature of the service's registry whose visible appearance is the
number, in the place the layout left for it. Adding a signature is a change every approval signature and
a form-filling certification permit, so the signatures already made stay valid.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Executable, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from esign.appearance import Appearance
from esign.blobs import BlobStore
from esign.errors import Forbidden
from esign.identity import Actor, Role, Scope
from esign.settings import Settings
from esign.sign import SignOptions, sign
from esign.signers import KeySigner, to_asn1
from keys import identities
from keys.authorities import Pki

from . import revisions
from .errors import StateConflict
from .records import CHINA, Document, NumberSequence, Reason
from .render import body_font
from .states import DocumentState, move_document

REGISTRY_FIELD = "DocumentNumber"

# Where the number goes in a PDF the service did not lay out: the top right of the first page.
_DEFAULT_BOX = (0, 330.0, 760.0, 560.0, 790.0)


def format_number(prefix: str, year: int, n: int) -> str:
    """GB/T 9704-2012 §7.2.4: the year in full in hexagonal brackets 〔〕, the serial without leading zeros."""
    return f"{prefix}〔{year}〕{n}号"


def next_number(session: Session, *, organisation_id: str, prefix: str, year: int) -> int:
    dialect = session.get_bind().dialect.name
    values = {"organisation_id": organisation_id, "prefix": prefix, "year": year, "last": 0}
    keys = ["organisation_id", "prefix", "year"]
    insert: Executable
    if dialect == "postgresql":
        insert = postgresql_insert(NumberSequence).values(values).on_conflict_do_nothing(index_elements=keys)
    else:
        insert = sqlite_insert(NumberSequence).values(values).on_conflict_do_nothing(index_elements=keys)
    session.execute(insert)
    return int(
        session.execute(
            update(NumberSequence)
            .where(
                NumberSequence.organisation_id == organisation_id,
                NumberSequence.prefix == prefix,
                NumberSequence.year == year,
            )
            .values(last=NumberSequence.last + 1)
            .returning(NumberSequence.last)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    )


def _registry_signer(pki: Pki) -> KeySigner:
    return KeySigner(pki.registry.key, to_asn1(pki.registry.cert), [to_asn1(c) for c in pki.chain])


def _appearance(document: Document, number: str, font: Path | None) -> Appearance:
    box = (document.layout or {}).get("number_box")
    page, x1, y1, x2, y2 = box if box else _DEFAULT_BOX
    align = (document.layout or {}).get("number_align", "centre" if box else "right")
    return Appearance(page=int(page) + 1, box=(x1, y1, x2, y2), text=number, font=font, font_size=16, align=align)


def authorise(session: Session, *, actor: Actor, document_id: str) -> None:
    """Whether the actor may register this document: a clerk, or a system with the documents scope, of its
    organisation (checked before a replayed registration too)."""
    if not (actor.has_role(Role.CLERK) or (actor.official_id is None and actor.can(Scope.DOCUMENTS))):
        raise Forbidden("registering a document is a clerk's task")
    revisions.get_document(session, actor=actor, document_id=document_id)


def register(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    pki: Pki,
    settings: Settings,
    document_id: str,
    today: datetime | None = None,
) -> Document:
    """Give the document its number and stamp it in; a clerk's (or a system's) act, once per document."""
    authorise(session, actor=actor, document_id=document_id)
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    if document.number is not None:
        raise StateConflict(f"document {document.id} is registered already, as {document.number}")
    organisation = identities.get_organisation(session, document.organisation_id)
    year = (today or datetime.now(CHINA)).astimezone(CHINA).year
    number = format_number(
        organisation.short_name,
        year,
        next_number(session, organisation_id=organisation.id, prefix=organisation.short_name, year=year),
    )
    current = revisions.pdf(blobs, revisions.latest(session, document))
    stamped = sign(
        current,
        _registry_signer(pki),
        SignOptions(
            field_name=REGISTRY_FIELD,
            reason=f"登记编号 {number}",
            appearance=_appearance(document, number, body_font(settings, number)),
        ),
    )
    document.number = number
    move_document(document, DocumentState.REGISTERED)
    revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=stamped,
        reason=Reason.NUMBERED,
        actor=actor,
        detail={"number": number},
    )
    return document
