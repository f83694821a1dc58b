"""Opaque bearer tokens for officials and external systems.

A token is 32 random bytes shown once; only its SHA-256 is stored (the token has full entropy, so a
plain hash is as good as a slow one and keeps every request's lookup cheap).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import InvalidInput, Unauthenticated
from esign.identity import Actor, Role, Scope
from esign.ids import new_id, now
from esign.scoped import get_scoped

from .identities import Official, Organisation, get_official, get_organisation

PREFIX = "esk_"
DEFAULT_LIFETIME = timedelta(days=90)
MIN_LIFETIME_DAYS = 1
MAX_LIFETIME_DAYS = 3650
"""What the CLI lets an operator issue: a token of 0 days is expired when printed, one of decades outlives
any review of who holds it. (The services take any ``lifetime``, so tests can make an expired token.)"""

# What an official's token may do, by role; a system token gets the scopes it is created with.
OFFICIAL_SCOPES = {
    Role.OFFICIAL: {Scope.SIGN, Scope.DOCUMENTS},
    Role.LEADER: {Scope.SIGN, Scope.DOCUMENTS},
    Role.CLERK: {Scope.DOCUMENTS},
    Role.SEAL_CUSTODIAN: {Scope.SIGN, Scope.DOCUMENTS},
    Role.ADMIN: {Scope.ADMIN},
}


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    official_id: Mapped[str | None] = mapped_column(ForeignKey("officials.id"), index=True)
    system_name: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    """What its official called a token they made themselves on their tokens page."""
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    """The bearer token itself; it is not stored and cannot be shown again."""
    id: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(session: Session, *, record: ApiToken, actor: Actor) -> IssuedToken:
    token = PREFIX + secrets.token_urlsafe(32)
    record.token_hash = _hash(token)
    session.add(record)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="token.created",
        subject=f"token:{record.id}",
        chain=record.organisation_id,
        payload={
            "official_id": record.official_id,
            "system_name": record.system_name,
            "scopes": record.scopes,
            **({"name": record.name} if record.name else {}),
        },
    )
    return IssuedToken(token=token, id=record.id, expires_at=record.expires_at)


def create_for_official(
    session: Session, *, actor: Actor, official_id: str, lifetime: timedelta = DEFAULT_LIFETIME
) -> IssuedToken:
    """A token for an official of the actor's organisation (the operator's, through the CLI)."""
    organisation_id = actor.organisation_id
    official = get_official(session, organisation_id=organisation_id, official_id=official_id)
    if official.disabled:
        raise InvalidInput(f"official {official.name} is disabled")
    record = ApiToken(
        id=new_id(), organisation_id=organisation_id, official_id=official.id, scopes=[], expires_at=now() + lifetime
    )
    return _issue(session, record=record, actor=actor)


OWN_MAX_LIFETIME_DAYS = 365
"""The longest an official may make a token of their own live (an operator may issue longer ones)."""


def create_own(session: Session, *, actor: Actor, name: str, lifetime: timedelta) -> IssuedToken:
    """A named token the signed-in official makes for themselves (on their tokens page)."""
    official_id = actor.require_official()
    if not name.strip() or len(name.strip()) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters")
    if not timedelta(days=MIN_LIFETIME_DAYS) <= lifetime <= timedelta(days=OWN_MAX_LIFETIME_DAYS):
        raise InvalidInput(f"a token lives {MIN_LIFETIME_DAYS} to {OWN_MAX_LIFETIME_DAYS} days")
    official = get_official(session, organisation_id=actor.organisation_id, official_id=official_id)
    if official.disabled:
        raise InvalidInput(f"official {official.name} is disabled")
    record = ApiToken(
        id=new_id(),
        organisation_id=official.organisation_id,
        official_id=official.id,
        name=name.strip(),
        scopes=[],
        expires_at=now() + lifetime,
    )
    return _issue(session, record=record, actor=actor)


def list_own(session: Session, *, actor: Actor) -> Sequence[ApiToken]:
    """The official's own tokens, newest first, revoked and expired ones included (they say so)."""
    official_id = actor.require_official()
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.organisation_id == actor.organisation_id, ApiToken.official_id == official_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    ).all()


def list_system(session: Session, *, actor: Actor) -> Sequence[ApiToken]:
    """The organisation's tokens for external systems, newest first, revoked and expired ones included
    (an administrator's, on the administration pages)."""
    actor.require_admin()
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.organisation_id == actor.organisation_id, ApiToken.official_id.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    ).all()


def create_for_system(
    session: Session,
    *,
    actor: Actor,
    name: str,
    scopes: Iterable[Scope] = (Scope.DOCUMENTS,),
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> IssuedToken:
    """A token for an external system of the actor's organisation."""
    organisation_id = get_organisation(session, actor.organisation_id).id
    if not name.strip():
        raise InvalidInput("a system token needs the system's name")
    record = ApiToken(
        id=new_id(),
        organisation_id=organisation_id,
        system_name=name.strip(),
        scopes=sorted({Scope(s).value for s in scopes}),
        expires_at=now() + lifetime,
    )
    return _issue(session, record=record, actor=actor)


_AUTHENTICATE = (
    select(
        ApiToken.id,
        ApiToken.organisation_id,
        ApiToken.official_id,
        ApiToken.system_name,
        ApiToken.scopes,
        ApiToken.expires_at,
        ApiToken.revoked_at,
        Organisation.disabled.label("organisation_disabled"),
        Official.disabled.label("official_disabled"),
        Official.roles,
    )
    .join(Organisation, Organisation.id == ApiToken.organisation_id)
    .outerjoin(Official, Official.id == ApiToken.official_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)
"""Built once: every request runs it, and building a statement costs more than running this one."""


def authenticate(session: Session, token: str) -> Actor:
    """The actor a bearer token stands for; ``Unauthenticated`` for a missing, unknown, expired or revoked one.

    One query of plain columns for the token, its organisation and its official: every request pays for it."""
    row = session.connection().execute(_AUTHENTICATE, {"token_hash": _hash(token)}).one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at <= now():
        raise Unauthenticated("the token has expired")
    if row.organisation_disabled:
        raise Unauthenticated("the token's organisation is disabled")
    if row.official_id is None:
        return Actor(
            organisation_id=row.organisation_id,
            official_id=None,
            system_name=row.system_name,
            roles=frozenset(),
            scopes=frozenset(Scope(s) for s in row.scopes),
            token_id=row.id,
        )
    if row.official_disabled is not False:
        raise Unauthenticated("the token's official is disabled")
    roles = frozenset(Role(r) for r in row.roles)
    return Actor(
        organisation_id=row.organisation_id,
        official_id=row.official_id,
        system_name=None,
        roles=roles,
        scopes=frozenset(scope for role in roles for scope in OFFICIAL_SCOPES[role]),
        token_id=row.id,
    )


def revoke(session: Session, *, actor: Actor, token_id: str) -> None:
    record = get_scoped(session, ApiToken, scope=actor, id=token_id, what="token")
    if record.official_id != actor.official_id:
        actor.require_admin()
    record.revoked_at = now()
    audit.append(
        session, actor=actor, action="token.revoked", subject=f"token:{record.id}", chain=record.organisation_id
    )
