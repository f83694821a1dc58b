"""Registration and numbering (登记编号): ``{机关代字}〔{year}〕{n}号``, unique and gap-free per organisation,
prefix and year.

The counter is one row per (organisation, prefix, year). The stamp is signed between two transactions
(``esign.phases``): the first reads the number the counter will give, the second takes it with an UPDATE
that holds the row lock until the registration commits, and starts again if another registration took it
meanwhile. A registration that fails rolls its increment back with everything else, so no number is
skipped or given twice. The number is written
into the PDF as a new revision: a signature of the service's registry whose visible appearance is the
number, in the place the layout left for it. Adding a signature is a change every approval signature and
a form-filling certification permit, so the signatures already made stay valid. It is made at the
organisation's PAdES level (B-LTA unless it chose B-LT or B-T), so the number stays provable after the
registry's certificate expires.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Executable, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from esign.appearance import Appearance
from esign.blobs import BlobStore
from esign.errors import Forbidden
from esign.identity import Actor, Role, Scope
from esign.phases import Stale
from esign.settings import Settings
from esign.sign import SignOptions, sign
from esign.signers import KeySigner, to_asn1
from keys import identities, levels
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


def _ensure_sequence(session: Session, *, organisation_id: str, prefix: str, year: int) -> None:
    dialect = session.get_bind().dialect.name
    values = {"organisation_id": organisation_id, "prefix": prefix, "year": year, "last": 0}
    keys = ["organisation_id", "prefix", "year"]
    insert: Executable
    if dialect == "postgresql":
        insert = postgresql_insert(NumberSequence).values(values).on_conflict_do_nothing(index_elements=keys)
    else:
        insert = sqlite_insert(NumberSequence).values(values).on_conflict_do_nothing(index_elements=keys)
    session.execute(insert)


def _sequence(organisation_id: str, prefix: str, year: int) -> tuple[ColumnElement[bool], ...]:
    return (
        NumberSequence.organisation_id == organisation_id,
        NumberSequence.prefix == prefix,
        NumberSequence.year == year,
    )


def peek_number(session: Session, *, organisation_id: str, prefix: str, year: int) -> int:
    """The number the next registration will take, its counter row locked until the transaction ends."""
    _ensure_sequence(session, organisation_id=organisation_id, prefix=prefix, year=year)
    last = session.scalar(
        select(NumberSequence.last).where(*_sequence(organisation_id, prefix, year)).with_for_update()
    )
    return int(last or 0) + 1


def next_number(session: Session, *, organisation_id: str, prefix: str, year: int) -> int:
    """Take the next number: the counter's increment holds its row lock until the transaction ends."""
    _ensure_sequence(session, organisation_id=organisation_id, prefix=prefix, year=year)
    return int(
        session.execute(
            update(NumberSequence)
            .where(*_sequence(organisation_id, prefix, year))
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


class Stamping:
    """The number stamp of one revision: its number was free when prepared; :meth:`run` signs it in."""

    def __init__(
        self,
        *,
        document_id: str,
        base_seq: int,
        prefix: str,
        year: int,
        serial: int,
        pdf: bytes,
        signer: KeySigner,
        options: SignOptions,
    ) -> None:
        self.document_id = document_id
        self.base_seq = base_seq
        self.prefix = prefix
        self.year = year
        self.serial = serial
        self.number = format_number(prefix, year, serial)
        self.stamped: bytes | None = None
        self._pdf = pdf
        self._signer = signer
        self._options = options

    def run(self) -> None:
        self.stamped = sign(self._pdf, self._signer, self._options)

    def close(self) -> None:
        return None


def prepare(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    pki: Pki,
    settings: Settings,
    document_id: str,
    today: datetime | None = None,
) -> Stamping:
    """Read the number the document will get and prepare its stamp; a clerk's (or a system's) act, once per
    document. The document and the counter are locked for this transaction (``esign.phases``)."""
    authorise(session, actor=actor, document_id=document_id)
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    if document.number is not None:
        raise StateConflict(f"document {document.id} is registered already, as {document.number}")
    organisation = identities.get_organisation(session, document.organisation_id)
    year = (today or datetime.now(CHINA)).astimezone(CHINA).year
    serial = peek_number(session, organisation_id=organisation.id, prefix=organisation.short_name, year=year)
    number = format_number(organisation.short_name, year, serial)
    level = levels.level_for(session, organisation_id=organisation.id, requested=None)
    return Stamping(
        document_id=document.id,
        base_seq=document.revision_count,
        prefix=organisation.short_name,
        year=year,
        serial=serial,
        pdf=revisions.pdf(blobs, revisions.latest(session, document)),
        signer=_registry_signer(pki),
        options=SignOptions(
            level=level,
            field_name=REGISTRY_FIELD,
            reason=f"登记编号 {number}",
            appearance=_appearance(document, number, body_font(settings, number)),
            **levels.engine_inputs(session, pki=pki, settings=settings, level=level),
        ),
    )


def record(session: Session, *, actor: Actor, blobs: BlobStore, stamping: Stamping) -> Document:
    """Take the number and store the stamped revision, unless the document changed or another registration
    took the number meanwhile (``Stale``: prepared again)."""
    document = revisions.get_document(session, actor=actor, document_id=stamping.document_id, for_update=True)
    if document.revision_count != stamping.base_seq or document.number is not None:
        raise Stale(f"document {document.id} changed while its number was stamped")
    taken = next_number(session, organisation_id=document.organisation_id, prefix=stamping.prefix, year=stamping.year)
    if taken != stamping.serial:
        raise Stale(f"number {stamping.number} was taken while it was stamped")
    assert stamping.stamped is not None
    document.number = stamping.number
    move_document(document, DocumentState.REGISTERED)
    revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=stamping.stamped,
        reason=Reason.NUMBERED,
        actor=actor,
        detail={"number": stamping.number},
    )
    return document
