"""Anchors of the audit chains: their heads, time-stamped, so that a rewound or truncated chain shows.

The chain alone proves that no stored event was edited, reordered or removed from its middle, but not that
its newest events still exist: whoever can write the database can delete the last events and set the head
row back, and the shortened chain checks out. An anchor closes that gap up to its time. It lists the
heads of the chains that moved since the previous anchor, ``[chain, seq, hash]``, and carries an RFC 3161
time-stamp token over :func:`imprint` of that list, made by the service's time-stamping unit. Verifying
then also asks, for each chain, that the event at its last anchored seq is still there with the anchored
hash, and that the head is not behind it: truncation or a rewound head is found back to the last anchor.

Anchors are kept in ``audit_anchors``, and exported as JSON files (:meth:`Anchor.to_json`): an anchor
stored only on the host an intruder controls can be deleted with the events, so an operator copies the
exported files elsewhere (another host, write-once storage) and hands them to ``esign audit verify``.

Anchor imprint (version 1): SHA-256 of the UTF-8 JSON ``["esign.audit-anchor/1", [[chain, seq, hash], ...]]``
with the heads sorted by chain, ``ensure_ascii=False`` and ``separators=(",", ":")``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, tsp
from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import AuditEvent, AuditHead, AuditVerification, BrokenLink, verify
from .db import Base
from .ids import now

ANCHOR_VERSION = "esign.audit-anchor/1"


class AuditAnchor(Base):
    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    anchored_at: Mapped[datetime] = mapped_column(index=True)
    heads: Mapped[list[list[Any]]] = mapped_column(JSON, doc="[[chain, seq, hash], ...], sorted by chain")
    token: Mapped[bytes] = mapped_column(LargeBinary, doc="DER RFC 3161 TimeStampToken over the imprint")


@dataclass(frozen=True)
class Head:
    chain: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Anchor:
    heads: tuple[Head, ...]
    token: bytes
    """DER ContentInfo of the time-stamp token (RFC 3161 §2.4.2 TimeStampToken)."""

    @property
    def time(self) -> datetime:
        """The token's genTime."""
        info = _tst_info(self.token)
        return info["gen_time"].native  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": ANCHOR_VERSION,
                "heads": [[h.chain, h.seq, h.hash] for h in self.heads],
                "token": base64.b64encode(self.token).decode("ascii"),
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Anchor:
        """Raises ``ValueError`` for anything that is not an exported anchor."""
        try:
            document = json.loads(text)
            if document.get("version") != ANCHOR_VERSION:
                raise ValueError(f"not an {ANCHOR_VERSION} file")
            heads = tuple(Head(str(c), int(s), str(h)) for c, s, h in document["heads"])
            return cls(heads=heads, token=base64.b64decode(document["token"], validate=True))
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not an anchor file: {e}") from None


def imprint(heads: Sequence[Head]) -> bytes:
    listed = [[h.chain, h.seq, h.hash] for h in sorted(heads, key=lambda h: h.chain)]
    return hashlib.sha256(
        json.dumps([ANCHOR_VERSION, listed], ensure_ascii=False, separators=(",", ":")).encode()
    ).digest()


def due(session: Session) -> list[Head]:
    """The heads of the chains that moved since their last anchor (all of them before the first)."""
    anchored = _anchored(session)
    heads = session.execute(select(AuditHead.chain, AuditHead.seq, AuditHead.hash)).all()
    return sorted(
        (Head(r.chain, r.seq, r.hash) for r in heads if r.seq > anchored.get(r.chain, Head(r.chain, 0, "")).seq),
        key=lambda h: h.chain,
    )


def last_anchored_at(session: Session) -> datetime | None:
    return session.scalar(select(func.max(AuditAnchor.anchored_at)))


def record(session: Session, anchor: Anchor) -> None:
    """Keep an anchor in the caller's transaction; its token must be over exactly its heads."""
    if _imprint_of(anchor.token) != imprint(anchor.heads):
        raise ValueError("the time-stamp token is not over these heads")
    session.add(
        AuditAnchor(anchored_at=now(), heads=[[h.chain, h.seq, h.hash] for h in anchor.heads], token=anchor.token)
    )
    session.flush()


def stored(session: Session) -> list[Anchor]:
    rows = session.scalars(select(AuditAnchor).order_by(AuditAnchor.id))
    return [Anchor(heads=tuple(Head(c, s, h) for c, s, h in row.heads), token=row.token) for row in rows]


def verify_anchored(
    session: Session, *, chain: str | None = None, exported: Iterable[Anchor] = ()
) -> AuditVerification:
    """:func:`esign.audit.verify`, then the anchors, stored and ``exported``: for each chain, the event at
    its last anchored seq still has the anchored hash and the head is not behind it. Checks each token's
    imprint; whether the token's signature is the service's is the caller's check (it needs the PKI)."""
    result = verify(session, chain=chain)
    if not result.ok:
        return result
    latest: dict[str, tuple[Head, Anchor]] = {}
    for anchor in [*stored(session), *exported]:
        if _imprint_of(anchor.token) != imprint(anchor.heads):
            first = anchor.heads[0] if anchor.heads else Head("?", 0, "")
            broken = BrokenLink(first.chain, first.seq, None, "an anchor's time-stamp is not over its heads (edited)")
            return AuditVerification(False, result.events_checked, result.chains_checked, broken)
        for head in anchor.heads:
            if chain is not None and head.chain != chain:
                continue
            if head.chain not in latest or head.seq > latest[head.chain][0].seq:
                latest[head.chain] = (head, anchor)
    for head, anchor in latest.values():
        fault = _against(session, head, anchor)
        if fault is not None:
            return AuditVerification(False, result.events_checked, result.chains_checked, fault)
    return result


def _against(session: Session, head: Head, anchor: Anchor) -> BrokenLink | None:
    when = anchor.time.isoformat(timespec="seconds")
    event = session.execute(
        select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.chain == head.chain, AuditEvent.seq == head.seq)
    ).one_or_none()
    if event is None:
        return BrokenLink(
            head.chain, head.seq, None,
            f"seq {head.seq} was anchored (time-stamped {when}) but is no longer stored: the chain was truncated",
        )  # fmt: skip
    if event.hash != head.hash:
        return BrokenLink(
            head.chain, head.seq, event.id,
            f"seq {head.seq} does not have the hash anchored (time-stamped {when}): the chain was rewritten",
        )  # fmt: skip
    current = session.scalar(select(AuditHead.seq).where(AuditHead.chain == head.chain))
    if current is None or current < head.seq:
        return BrokenLink(
            head.chain, head.seq, None,
            f"the head is behind seq {head.seq}, anchored (time-stamped {when}): the head was rewound",
        )  # fmt: skip
    return None


def _anchored(session: Session) -> dict[str, Head]:
    latest: dict[str, Head] = {}
    for row in session.scalars(select(AuditAnchor.heads)):
        for chain, seq, hash_ in row:
            if chain not in latest or seq > latest[chain].seq:
                latest[chain] = Head(chain, seq, hash_)
    return latest


def _tst_info(token: bytes) -> tsp.TSTInfo:
    signed = cms.ContentInfo.load(token)["content"]
    return signed["encap_content_info"]["content"].parsed


def _imprint_of(token: bytes) -> bytes | None:
    try:
        imprint_ = _tst_info(token)["message_imprint"]
        if imprint_["hash_algorithm"]["algorithm"].native != "sha256":
            return None
        return bytes(imprint_["hashed_message"].native)
    except (ValueError, TypeError, KeyError):
        return None
