"""Sign-in sessions of officials, kept in the database: the browser holds a random id, the table its SHA-256.

A session ends when its official signs out, after ``session_idle_minutes`` without a request, or
``session_absolute_hours`` after sign-in, whichever comes first. It resolves to the same :class:`Actor` a
bearer token of that official does. Sign-in and sign-out are audited in the organisation's chain.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import Unauthenticated
from esign.identity import Actor
from esign.ids import new_id, now
from esign.settings import Settings

from .identities import Official, Organisation
from .passwords import official_actor

COOKIE = "esign_session"
TOUCH_EVERY = timedelta(seconds=15)
"""``last_seen_at`` is written at most this often (or a quarter of the idle timeout, if shorter): an idle
timeout needs no finer clock, and most requests then only read."""


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    official_id: Mapped[str] = mapped_column(ForeignKey("officials.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    """``password`` or ``oidc``."""
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    ended_at: Mapped[datetime | None]


@dataclass(frozen=True)
class OpenedSession:
    cookie: str
    """The value of the session cookie; only its hash is stored."""
    id: str


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    session_id: str
    official_name: str
    organisation_name: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(session: Session, *, official: Official, method: str) -> OpenedSession:
    """A new session for an official who just proved who they are; audited as ``signin.succeeded``."""
    cookie = secrets.token_urlsafe(32)
    record = WebSession(
        id=new_id(),
        token_hash=_digest(cookie),
        organisation_id=official.organisation_id,
        official_id=official.id,
        method=method,
    )
    session.add(record)
    audit.append(
        session,
        actor=official_actor(official),
        action="signin.succeeded",
        subject=f"session:{record.id}",
        chain=official.organisation_id,
        payload={"method": method},
    )
    return OpenedSession(cookie=cookie, id=record.id)


def _expired(record: WebSession, at: datetime, settings: Settings) -> bool:
    return at - record.last_seen_at > timedelta(
        minutes=settings.session_idle_minutes
    ) or at - record.created_at > timedelta(hours=settings.session_absolute_hours)


def authenticate(session: Session, cookie: str, *, settings: Settings) -> SignedIn:
    """Who a session cookie stands for; ``Unauthenticated`` for an unknown, ended or expired session.

    An expired session is ended there (and audited as ``session.expired``) so that it cannot come back."""
    record = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(cookie)))
    if record is None or record.ended_at is not None:
        raise Unauthenticated("not signed in")
    at = now()
    official = session.get_one(Official, record.official_id)
    organisation = session.get_one(Organisation, record.organisation_id)
    if _expired(record, at, settings) or official.disabled or organisation.disabled:
        record.ended_at = at
        audit.append(
            session,
            actor=Actor.system(record.organisation_id, "sign-in"),
            action="session.expired",
            subject=f"session:{record.id}",
            chain=record.organisation_id,
        )
        session.flush()
        raise _Expired("the session has expired; sign in again")
    if at - record.last_seen_at > min(TOUCH_EVERY, timedelta(minutes=settings.session_idle_minutes) / 4):
        record.last_seen_at = at
    return SignedIn(
        actor=official_actor(official),
        session_id=record.id,
        official_name=official.name,
        organisation_name=organisation.name,
    )


class _Expired(Unauthenticated):
    keeps_changes = True
    """The session's end and its audit event are committed although the request is refused."""


def end_session(session: Session, *, actor: Actor, cookie: str) -> None:
    """Signing out: the session ends at once, and is audited as ``signout``."""
    record = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(cookie)))
    if record is None or record.ended_at is not None or record.official_id != actor.official_id:
        return
    record.ended_at = now()
    audit.append(session, actor=actor, action="signout", subject=f"session:{record.id}", chain=record.organisation_id)


def end_other_sessions(session: Session, *, actor: Actor, cookie: str) -> int:
    """Ends every open session of the actor's official except the one of ``cookie`` (after a password change:
    whoever knew the old password is signed out everywhere else); each audited as ``signout``."""
    official_id = actor.require_official()
    others = session.scalars(
        select(WebSession).where(
            WebSession.organisation_id == actor.organisation_id,
            WebSession.official_id == official_id,
            WebSession.ended_at.is_(None),
            WebSession.token_hash != _digest(cookie),
        )
    ).all()
    for record in others:
        record.ended_at = now()
        audit.append(
            session,
            actor=actor,
            action="signout",
            subject=f"session:{record.id}",
            chain=record.organisation_id,
            payload={"reason": "password changed"},
        )
    return len(others)
