"""Idempotent creation: a client's ``Idempotency-Key`` makes a retried POST return what the first one made.

The key is claimed by inserting a row in the caller's transaction, before anything is created, and
completed with a reference to what was created in the same transaction. A concurrent request with the
same key waits on the unique index (PostgreSQL) or the write lock (SQLite) until the first commits, then
finds the completed claim; if the first rolled back, the second creates instead. A key reused with a
different request body is a conflict, never a silent replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Executable, String, Text, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base
from .errors import EsignError

MAX_KEY_LENGTH = 200


class IdempotencyConflict(EsignError):
    code = "idempotency_conflict"


class InvalidIdempotencyKey(EsignError):
    code = "invalid_request"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(100), doc="whose keys these are, e.g. an organisation id")
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the request that claimed the key")
    resource: Mapped[str | None] = mapped_column(String(200), doc="what the request created, e.g. document:<id>")
    response: Mapped[str | None] = mapped_column(Text, doc="the answer the first request got, to give again")
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Claim:
    record_id: int
    replay: str | None
    """The resource the first request created; None when this request is the first and must create it."""
    response: str | None = None
    """The answer the first request got, when it stored one."""
    claimed_at: datetime | None = None
    """When the first request claimed the key."""


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _check(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} printable characters")


def _claim_of(record: IdempotencyRecord, request_fingerprint: str) -> Claim:
    if record.fingerprint != request_fingerprint:
        raise IdempotencyConflict(f"Idempotency-Key {record.key!r} was used before with a different request")
    if record.resource is None:
        return Claim(record_id=record.id, replay=None)
    claimed_at = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
    return Claim(record_id=record.id, replay=record.resource, response=record.response, claimed_at=claimed_at)


def claim(session: Session, *, scope: str, key: str, request_fingerprint: str) -> Claim:
    _check(key)
    dialect = session.get_bind().dialect.name
    insert: Executable
    values = {"scope": scope, "key": key, "fingerprint": request_fingerprint, "created_at": datetime.now(UTC)}
    if dialect == "postgresql":
        insert = (
            postgresql_insert(IdempotencyRecord).values(values).on_conflict_do_nothing(index_elements=["scope", "key"])
        )
    else:
        insert = sqlite_insert(IdempotencyRecord).values(values).on_conflict_do_nothing(index_elements=["scope", "key"])
    session.execute(insert)
    record = session.scalars(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).one()
    return _claim_of(record, request_fingerprint)


def peek(session: Session, *, scope: str, key: str, request_fingerprint: str) -> Claim | None:
    """The completed claim of ``key``, without claiming it: checked before slow work (``esign.phases``),
    whose second transaction then claims the key, finding the claim if a concurrent request completed it."""
    _check(key)
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    found = _claim_of(record, request_fingerprint)
    return found if found.replay is not None else None


def complete(session: Session, claimed: Claim, resource: str, *, response: str | None = None) -> None:
    record = session.get(IdempotencyRecord, claimed.record_id)
    assert record is not None
    record.resource = resource
    record.response = response
    session.flush()
