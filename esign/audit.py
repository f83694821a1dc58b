"""A hash-chained, append-only audit log that anyone with read access can re-check.

Events form one chain per key (``"system"`` for now; one per organisation later, so that a
province-wide deployment does not serialise every write on a single row). Each event's hash
covers its own fields and the previous event's hash, so editing, deleting or reordering a
stored event breaks the chain from that event on, and :func:`verify` names where.

Event hash (version 1): SHA-256 of the UTF-8 JSON array
``["esign.audit/1", chain, seq, at, actor, action, subject, payload_digest, prev_hash]``
written with ``ensure_ascii=False`` and ``separators=(",", ":")``, where ``at`` is the UTC time
as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. ``payload_digest`` is the SHA-256 of the payload as JSON with
sorted keys, the same separators and ``ensure_ascii=False``. Hashes are lowercase hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign.db import Base, table_of
from esign.identity import Actor

GENESIS_HASH = "0" * 64
HASH_VERSION = "esign.audit/1"
VERIFY_BATCH = 1000


class AuditHead(Base):
    """The last event of a chain; its row lock is what serialises appends to that chain."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    chain: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


_HEADS = table_of(AuditHead)
_EVENTS = table_of(AuditEvent)
# Built once: every state change appends, and building a statement costs about as much as running it.
_LOCK_HEAD = select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.chain == bindparam("head_chain")).with_for_update()
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    """The first sequence number at which the chain no longer checks out."""
    event_id: int | None
    """The stored event at that point, or None when there is none (a deleted tail, a lost head)."""
    reason: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    events_checked: int
    """Events that checked out before verification stopped (all of them when ``ok``)."""
    chains_checked: int
    broken: BrokenLink | None = None


@dataclass(frozen=True)
class Appended:
    """An event as :func:`append` wrote it."""

    id: int
    chain: str
    seq: int
    prev_hash: str
    hash: str


def append(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    chain: str = "system",
) -> Appended:
    """Add an event at the end of ``chain`` in the caller's transaction (written, not committed).

    ``actor`` is who acted; the event records its ``label``.

    The chain's head row stays locked until that transaction ends, so concurrent appenders to
    the same chain queue up rather than fork it; the unique (chain, seq) constraint backs this.
    Every state change appends, so it is three Core statements (lock the head, insert, move the
    head) on the session's connection, without the ORM's bookkeeping.
    """
    canonical_payload = _canonical_json(dict(payload or {}))
    session.flush()  # the change being logged is written before its event, as an ORM query would have
    connection = session.connection()
    head_seq, head_hash = _lock_head(connection, chain)
    seq = head_seq + 1
    hashed: dict[str, Any] = dict(
        chain=chain,
        seq=seq,
        at=datetime.now(UTC),
        actor=actor.label,
        action=action,
        subject=subject,
        payload_digest=_sha256(canonical_payload),
        prev_hash=head_hash,
    )
    digest = event_hash(**hashed)
    event_id = connection.execute(
        _INSERT_EVENT, {**hashed, "payload": json.loads(canonical_payload), "hash": digest}
    ).scalar_one()
    connection.execute(_MOVE_HEAD, {"head_chain": chain, "new_seq": seq, "new_hash": digest})
    return Appended(id=event_id, chain=chain, seq=seq, prev_hash=head_hash, hash=digest)


def verify(session: Session, *, chain: str | None = None) -> AuditVerification:
    """Re-check every chain (or one) and name the first event that does not check out.

    Events are streamed in batches, so memory use does not grow with the log. Each chain's head
    is read before its events: events appended concurrently after that appear beyond the head
    and are checked like the rest.
    """
    if chain is not None:
        chains = [chain]
    else:
        chains = sorted(
            set(session.scalars(select(AuditHead.chain))) | set(session.scalars(select(AuditEvent.chain).distinct()))
        )
    events_checked = 0
    for index, name in enumerate(chains, start=1):
        checked, broken = _verify_chain(session, name)
        events_checked += checked
        if broken is not None:
            return AuditVerification(False, events_checked, index, broken)
    return AuditVerification(True, events_checked, len(chains))


def digest_payload(payload: Any) -> str:
    return _sha256(_canonical_json(payload))


def event_hash(
    *,
    chain: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload_digest: str,
    prev_hash: str,
) -> str:
    fields = [
        HASH_VERSION,
        chain,
        seq,
        _canonical_time(at),
        actor,
        action,
        subject,
        payload_digest,
        prev_hash,
    ]
    return _sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))


def _canonical_time(at: datetime) -> str:
    """UTC with microseconds; naive values are UTC already (SQLite returns them naive)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lock_head(connection: Connection, chain: str) -> tuple[int, str]:
    """The chain's head (seq, hash), locked; created at the genesis on the chain's first event."""
    head = connection.execute(_LOCK_HEAD, {"head_chain": chain}).one_or_none()
    if head is not None:
        return head.seq, head.hash
    dialect = connection.dialect.name
    create: Executable
    if dialect == "postgresql":
        create = postgresql_insert(_HEADS).on_conflict_do_nothing(index_elements=["chain"])
    elif dialect == "sqlite":
        create = sqlite_insert(_HEADS).on_conflict_do_nothing(index_elements=["chain"])
    else:
        raise NotImplementedError(f"audit chains are not implemented for {dialect}")
    connection.execute(create, {"chain": chain, "seq": 0, "hash": GENESIS_HASH})
    head = connection.execute(_LOCK_HEAD, {"head_chain": chain}).one()
    return head.seq, head.hash


def _verify_chain(session: Session, chain: str) -> tuple[int, BrokenLink | None]:
    head_before = _read_head(session, chain)
    rows = session.execute(
        select(
            AuditEvent.id,
            AuditEvent.seq,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.subject,
            cast(AuditEvent.payload, Text).label("payload_json"),
            AuditEvent.payload_digest,
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    checked = 0
    last: Any = None
    at_head: Any = None
    try:
        for row in rows:
            expected_seq = 1 if last is None else last.seq + 1
            prev_hash = GENESIS_HASH if last is None else last.hash
            reason = _first_fault(row, chain=chain, expected_seq=expected_seq, prev_hash=prev_hash)
            if reason is not None:
                return checked, BrokenLink(chain, row.seq, row.id, reason)
            checked += 1
            last = row
            if head_before is not None and row.seq == head_before.seq:
                at_head = row
    finally:
        rows.close()
    return checked, _head_fault(session, chain, head_before, last=last, at_head=at_head)


def _read_head(session: Session, chain: str) -> Any:
    return session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.chain == chain)).one_or_none()


def _head_fault(session: Session, chain: str, head_before: Any, *, last: Any, at_head: Any) -> BrokenLink | None:
    """Compare the head with the events that checked out.

    The head read before streaming may trail events committed meanwhile, but it can never be
    ahead of them; a head read afterwards can be ahead, but never behind.
    """
    last_seq = 0 if last is None else last.seq
    if head_before is None:
        if last is None:
            return None
        return BrokenLink(chain, 1, None, "the chain has events but no head row")
    if head_before.seq > last_seq:
        return BrokenLink(
            chain,
            last_seq + 1,
            None,
            f"the head is at seq {head_before.seq} but the last stored event is seq {last_seq}: "
            "events at the end of the chain were deleted",
        )
    if at_head is not None and at_head.hash != head_before.hash:
        return BrokenLink(
            chain,
            at_head.seq,
            at_head.id,
            f"the head's hash does not match the stored event at seq {at_head.seq}",
        )
    head_after = _read_head(session, chain)
    if head_after is not None and head_after.seq < last_seq:
        return BrokenLink(
            chain,
            head_after.seq + 1,
            None,
            f"the head is at seq {head_after.seq} but events exist up to seq {last_seq}",
        )
    return None


def _first_fault(row: Any, *, chain: str, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        if row.seq > expected_seq:
            missing = f"seq {expected_seq}" if row.seq == expected_seq + 1 else f"seqs {expected_seq}..{row.seq - 1}"
            return f"{missing} missing before this event (deleted)"
        return f"seq {row.seq} out of order: expected {expected_seq}"
    if row.prev_hash != prev_hash:
        what = "the genesis hash" if expected_seq == 1 else f"the hash of seq {expected_seq - 1}"
        return f"prev_hash does not match {what} (reordered or inserted)"
    try:
        digest = digest_payload(json.loads(row.payload_json))
    except ValueError:
        return "payload is not valid JSON (edited)"
    if digest != row.payload_digest:
        return "payload does not match its digest (edited)"
    recomputed = event_hash(
        chain=chain,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
    )
    if recomputed != row.hash:
        return "the event's fields do not match its hash (edited)"
    return None


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
