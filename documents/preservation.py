"""Preservation of stored documents: each archive is re-time-stamped before its protection ends.

ETSI TS 119 511 calls this preservation by augmentation, ETSI EN 319 142-1 §5.5 (PAdES B-LTA) says how: the
validation material of the last document time-stamp goes into the DSS and a new document time-stamp covers it
(:func:`esign.archive.append_archive_timestamp`). A document is protected until its last archive time-stamp's
unit certificate expires (EN 319 102-1 §5.6.2.4); the report's ``provable_until`` of a B-LTA signature is the
same date.

Selection. Adding a revision notes on the document what its latest PDF is protected by (``preservation``,
``protected_until``, the time-stamp's digest and key; :func:`documents.revisions.note_assessment`). A round of
:func:`renew_due` takes a batch of documents that are

- protected until before now + ``archive_margin_days`` (default 180), or by an algorithm on
  ``archive_weak_algorithms``;
- signed but not covered by a document time-stamp yet (B-B, B-T, B-LT, or signed after the last one) and
  unchanged for ``archive_quiet_hours`` (24): a signature becomes long-term only under an archive time-stamp,
  so one is added once the document's route stopped adding signatures;
- not yet assessed (documents stored before migration 0010): their PDF is read and the columns filled, and
  they are renewed if due.

Claim. The batch is chosen ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's single writer serialises the
rounds) and leased (``archive_claimed_until``, :data:`LEASE`) in one short transaction, so concurrent workers
take disjoint batches. Each document is then renewed in the phases of :mod:`esign.phases`: the latest revision,
the current CRLs and OCSP answers are read in a first transaction, the time-stamp is made outside any, and the
new revision (reason ``preserved``) commits in a second transaction with its audit event and its outbox event
``document.preserved``, after checking that no revision was added meanwhile (else :class:`~esign.phases.Stale`:
prepared again, and a document no longer due is only re-assessed). Whoever holds an expired lease, a document
gets one new archive time-stamp per renewal.

Lifetimes. A renewal needs the last time-stamp to still validate, so it must happen before its unit's
certificate expires: the margin (180 days) leaves that many days of daily rounds to succeed. The new time-stamp
must protect for longer than the margin or the document would be due again at once, so the unit is rotated
(:func:`keys.authorities.rotate_tsa_if_expiring`) once its certificate has less than twice the margin left; a
unit certificate lives 5 years (``keys.ca.VALIDITY``), capped by the issuing CA's 10 and the root's 20, so a
renewal protects for between half a year and 5 years, and a document is renewed every 4½ years or less (an
issuing CA with less than twice the margin left stops the rotation with an error: it must be renewed first).
The revocation data put in the DSS (the CRLs, and OCSP answers about every unit and signer certificate, which
a past validation needs for the leaf) is made seconds before the time-stamp that covers it, well within its
validity (CRLs 24 h, OCSP 60 min), so each renewal closes the chain: every unit certificate has revocation data
and proof of existence from a time it was valid. Only the last unit's current status is needed at validation
time, as EN 319 102-1 requires of the last time-stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session

from esign import archive, budget, outbox, phases
from esign.archive import Assessment, Preservation
from esign.blobs import BlobStore
from esign.db import Database
from esign.errors import EsignError
from esign.identity import Actor
from esign.ids import now
from esign.settings import Settings
from esign.worker import Job
from keys import authorities, levels, validation_data
from keys.tsa import LocalTimeStamper
from keys.validation_data import LocalRevocation

from . import revisions
from .records import Document, Reason

logger = logging.getLogger("esign.preservation")

LEASE = timedelta(minutes=15)
"""How long a claimed document is left to its worker; far longer than one renewal takes."""

ACTOR = "preservation"
EVENT = "document.preserved"


@dataclass(frozen=True)
class WeakAlgorithms:
    """``archive_weak_algorithms`` parsed: digests by name, keys as ``TYPE<BITS`` (``rsa<2048``)."""

    digests: frozenset[str] = frozenset()
    min_key_bits: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, words: Sequence[str]) -> WeakAlgorithms:
        digests, keys = set(), []
        for word in words:
            kind, sep, bits = word.partition("<")
            if sep:
                keys.append((kind.strip(), int(bits)))
            else:
                digests.add(word.strip())
        return cls(digests=frozenset(digests), min_key_bits=tuple(keys))

    def uses(self, stamp: archive.ArchiveStamp) -> bool:
        return stamp.digest in self.digests or any(
            stamp.key_type == kind and stamp.key_bits < bits for kind, bits in self.min_key_bits
        )

    def clause(self) -> ColumnElement[bool]:
        """The same test on the columns :func:`documents.revisions.note_assessment` fills."""
        terms: list[ColumnElement[bool]] = [
            and_(Document.archive_key_type == kind, Document.archive_key_bits < bits)
            for kind, bits in self.min_key_bits
        ]
        if self.digests:
            terms.append(Document.archive_digest.in_(sorted(self.digests)))
        return or_(false(), *terms)


@dataclass(frozen=True)
class Policy:
    margin: timedelta = timedelta(days=180)
    weak: WeakAlgorithms = field(default_factory=WeakAlgorithms)
    batch: int = 50
    quiet: timedelta = timedelta(hours=24)
    """An unprotected document gets its first archive time-stamp once unchanged this long: not while its route
    is still adding signatures (each would make the next signer's attempt stale)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            margin=timedelta(days=settings.archive_margin_days),
            weak=WeakAlgorithms.parse(settings.archive_weak_algorithms),
            batch=settings.archive_batch,
            quiet=timedelta(hours=settings.archive_quiet_hours),
        )

    def due(self, assessment: Assessment, at: datetime, *, changed_at: datetime) -> bool:
        """Whether a PDF so assessed, last changed at ``changed_at``, needs an archive time-stamp at ``at``."""
        if assessment.state is Preservation.UNPROTECTED:
            return changed_at < at - self.quiet
        stamp = assessment.stamp
        return stamp is not None and (stamp.protected_until < at + self.margin or self.weak.uses(stamp))

    def clause(self, at: datetime) -> ColumnElement[bool]:
        """:meth:`due` on the columns, plus the documents never assessed."""
        return or_(
            Document.preservation.is_(None),
            and_(Document.preservation == Preservation.UNPROTECTED.value, Document.updated_at < at - self.quiet),
            and_(
                Document.preservation == Preservation.PROTECTED.value,
                or_(Document.protected_until < at + self.margin, self.weak.clause()),
            ),
        )


@dataclass(frozen=True)
class Claim:
    organisation_id: str
    document_id: str


def claim(database: Database, *, policy: Policy, at: datetime) -> list[Claim]:
    """Lease a batch of due documents, those protected the shortest first, skipping any another worker holds."""
    with database.transaction() as session:
        chosen = (
            select(Document.organisation_id, Document.id)
            .where(
                policy.clause(at),
                or_(Document.archive_claimed_until.is_(None), Document.archive_claimed_until < at),
            )
            .order_by(Document.protected_until.asc().nulls_first(), Document.id)
            .limit(policy.batch)
            .with_for_update(skip_locked=True)
        )
        claims = [Claim(organisation_id=o, document_id=d) for o, d in session.execute(chosen).all()]
        if claims:
            session.execute(
                update(Document)
                .where(Document.id.in_([c.document_id for c in claims]))
                .values(archive_claimed_until=at + LEASE)
            )
    return claims


class Renewal:
    """One document's archive renewal, prepared in a transaction and made outside it."""

    def __init__(
        self,
        *,
        document_id: str,
        base_seq: int,
        data: bytes,
        assessment: Assessment,
        due: bool,
        timestamper: LocalTimeStamper | None = None,
        context: ValidationContext | None = None,
        revocation: LocalRevocation | None = None,
    ) -> None:
        self.document_id = document_id
        self.base_seq = base_seq
        self.data = data
        self.assessment = assessment
        self.due = due
        self.timestamper = timestamper
        self.context = context
        self.revocation = revocation
        self.renewed: bytes | None = None

    def run(self) -> None:
        if self.due and self.timestamper is not None and self.context is not None and self.revocation is not None:
            self.renewed = archive.append_archive_timestamp(
                self.data, timestamper=self.timestamper, context=self.context, revocation=self.revocation
            )

    def close(self) -> None:
        return None


def prepare(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    blobs: BlobStore,
    policy: Policy,
    document_id: str,
    at: datetime,
) -> Renewal:
    """Read the latest revision and, if its archive is due, what renewing it needs. The PDF is assessed in a
    parsing worker (it may have come from outside); the renewal parses it here, as signing does."""
    document = revisions.get_document(session, actor=actor, document_id=document_id, for_update=True)
    data = revisions.pdf(blobs, revisions.latest(session, document)) if document.revision_count else b""
    assessment = budget.assess(data) if data else Assessment(Preservation.UNSIGNED)
    due = policy.due(assessment, at, changed_at=document.updated_at)
    renewal = Renewal(
        document_id=document.id, base_seq=document.revision_count, data=data, assessment=assessment, due=due
    )
    if due:
        pki = authorities.load(session, settings)
        renewal.timestamper = levels.timestamper(pki, settings)
        renewal.context = levels.archive_context(
            session, pki=pki, settings=settings, covered=archive.certificates_to_cover(data)
        )
        renewal.revocation = validation_data.local_revocation(session, pki=pki, settings=settings)
    return renewal


def record(session: Session, *, actor: Actor, blobs: BlobStore, renewal: Renewal) -> bool:
    """Store the renewed archive as the next revision, with its audit event and outbox event; or, when nothing
    was due, the assessment. True when a revision was added."""
    document = revisions.get_document(session, actor=actor, document_id=renewal.document_id, for_update=True)
    if document.revision_count != renewal.base_seq:
        raise phases.Stale(f"document {document.id} changed while its archive was being renewed")
    if renewal.renewed is None:
        revisions.note_assessment(document, renewal.assessment)
        return False
    revision = revisions.add(
        session,
        blobs=blobs,
        document=document,
        data=renewal.renewed,
        reason=Reason.PRESERVED,
        actor=actor,
        detail={"previously_protected_until": _iso(renewal.assessment.protected_until)},
    )
    outbox.emit(
        session,
        organisation_id=document.organisation_id,
        type=EVENT,
        subject=f"document:{document.id}",
        payload={"revision": revision.seq, "protected_until": _iso(document.protected_until)},
    )
    return True


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def renew_one(
    database: Database, *, settings: Settings, blobs: BlobStore, policy: Policy, claim: Claim, at: datetime
) -> bool:
    """Renew one claimed document's archive if it is due; True when a revision was added."""
    actor = Actor.system(claim.organisation_id, ACTOR)
    return phases.run(
        database,
        phases.Phases(
            prepare=lambda session: prepare(
                session,
                actor=actor,
                settings=settings,
                blobs=blobs,
                policy=policy,
                document_id=claim.document_id,
                at=at,
            ),
            record=lambda session, renewal: record(session, actor=actor, blobs=blobs, renewal=renewal),
        ),
    )


def renew_due(
    database: Database,
    *,
    settings: Settings,
    blobs: BlobStore,
    policy: Policy | None = None,
    at: datetime | None = None,
) -> int:
    """One round: claim a batch of due documents and renew each; the number of documents claimed."""
    policy = policy or Policy.from_settings(settings)
    moment = at or now()
    try:
        with database.transaction() as session:
            authorities.rotate_tsa_if_expiring(session, settings, before=moment + 2 * policy.margin)
    except EsignError as e:
        logger.error("the time-stamping unit could not be rotated: %s", e.message)
    with database.transaction() as session:
        unit = authorities.load(session, settings).tsa.cert
    own = archive.ArchiveStamp(
        protected_until=unit.not_valid_after_utc,
        digest=archive.ARCHIVE_DIGEST,
        key_type="rsa" if isinstance(unit.public_key(), rsa.RSAPublicKey) else "ec",
        key_bits=getattr(unit.public_key(), "key_size", 0),
    )
    if policy.weak.uses(own):
        logger.error("the time-stamping unit's own algorithms are on the weak list: only expiring archives renewed")
        policy = replace(policy, weak=WeakAlgorithms())
    claims = claim(database, policy=policy, at=moment)
    for each in claims:
        try:
            renew_one(database, settings=settings, blobs=blobs, policy=policy, claim=each, at=moment)
        except EsignError as e:
            # Left leased: the next attempt comes after LEASE, not in the next round.
            logger.error("archive of document %s not renewed: %s", each.document_id, e.message)
    return len(claims)


def preservation_job(settings: Settings, blobs: BlobStore, *, every: timedelta | None = None) -> Job:
    """The worker job: rounds of :func:`renew_due` while they find documents, then none until ``every``
    (``archive_interval_minutes``) has passed: archives fall due over months, not seconds, and the selection
    need not run in every one-second round of the worker."""
    interval = every if every is not None else timedelta(minutes=settings.archive_interval_minutes)
    idle_since: list[datetime] = []

    def renew_archives(database: Database) -> int:
        if idle_since and now() - idle_since[0] < interval:
            return 0
        done = renew_due(database, settings=settings, blobs=blobs)
        idle_since[:] = [] if done else [now()]
        return done

    return renew_archives


def status(
    session: Session, *, actor: Actor | None, within: timedelta | None = None, limit: int = 1000
) -> Sequence[Document]:
    """Documents with their preservation, the least protected first: never assessed and unprotected ones, then by
    protected-until. ``within``: only those due within that long (and the unprotected); ``actor`` None is the
    operator, who sees every organisation's."""
    query = select(Document).order_by(Document.protected_until.asc().nulls_first(), Document.id).limit(limit)
    if actor is not None:
        query = query.where(Document.organisation_id == actor.organisation_id)
    if within is not None:
        query = query.where(
            or_(
                Document.preservation.is_(None),
                Document.preservation == Preservation.UNPROTECTED.value,
                Document.protected_until < now() + within,
            )
        )
    return session.scalars(query).all()
