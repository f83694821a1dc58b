"""Officials' login names and passwords: invitations to set one, changing it, checking it with a lockout.

Passwords are hashed with argon2id (argon2-cffi's defaults: RFC 9106's second recommended parameter set). An
administrator never learns or sets a password: they create a one-time invitation link, and its holder chooses
one. Wrong passwords are counted per official; after ``signin_lockout_failures`` in a row, sign-in is refused
for ``signin_lockout_minutes``, even with the right password. Every success, failure and lock is audited in
the official's organisation's chain; a login name nobody has is audited in the system chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import Conflict, Forbidden, InvalidInput
from esign.identity import Actor
from esign.ids import new_id, now
from esign.settings import Settings

from .errors import AccountLocked, InvitationInvalid, PasswordRefused, SignInFailed
from .identities import Official, Organisation, get_official
from .tokens import OFFICIAL_SCOPES

INVITATION_PREFIX = "esi_"
MAX_PASSWORD = 1024
"""Characters: a bound on what one sign-in attempt costs to hash."""


class OfficialLogin(Base):
    """How an official signs in: a login name unique in the deployment and, once set, a password hash."""

    __tablename__ = "official_logins"

    official_id: Mapped[str] = mapped_column(ForeignKey("officials.id"), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class Invitation(Base):
    """A one-time link to set a password; only the SHA-256 of its secret is kept."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    official_id: Mapped[str] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    used: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class IssuedInvitation:
    id: str
    token: str
    """The link's secret: shown once, as part of :attr:`url`."""
    url: str
    login: str
    expires_at: datetime


@dataclass(frozen=True)
class InvitationView:
    login: str
    official_name: str
    organisation_name: str


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Checked against when the login name is unknown, so that an unknown name takes as long as a wrong password."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _clean_login(login: str) -> str:
    cleaned = login.strip().lower()
    if not cleaned or len(cleaned) > 100 or any(c.isspace() for c in cleaned):
        raise InvalidInput("a login name is 1 to 100 characters without spaces")
    return cleaned


def check_new_password(password: str, confirm: str, *, settings: Settings) -> None:
    if password != confirm:
        raise PasswordRefused("the two passwords differ", reason="mismatch")
    if len(password) < settings.password_min_length:
        raise PasswordRefused(f"a password has at least {settings.password_min_length} characters", reason="short")
    if len(password) > MAX_PASSWORD:
        raise PasswordRefused(f"a password has at most {MAX_PASSWORD} characters", reason="long")


def login_of(session: Session, *, actor: Actor) -> OfficialLogin | None:
    official_id = actor.require_official()
    found = session.get(OfficialLogin, official_id)
    return found if found is not None and found.organisation_id == actor.organisation_id else None


def logins(session: Session, *, actor: Actor) -> dict[str, OfficialLogin]:
    """The sign-in records of the organisation's officials by official id (an administrator's, to see who has
    a login name and a password)."""
    actor.require_admin()
    found = session.scalars(select(OfficialLogin).where(OfficialLogin.organisation_id == actor.organisation_id))
    return {record.official_id: record for record in found}


def invite(
    session: Session, *, actor: Actor, settings: Settings, official_id: str, login: str | None = None
) -> IssuedInvitation:
    """A one-time link for an official of the actor's organisation to set their password (an administrator's).

    The login name is required the first time; given again, it renames the login. An earlier password keeps
    working until the link is used."""
    actor.require_admin()
    official = get_official(session, organisation_id=actor.organisation_id, official_id=official_id)
    if official.disabled:
        raise Conflict(f"official {official.name} is disabled")
    record = session.get(OfficialLogin, official.id)
    if login is not None:
        name = _clean_login(login)
        taken = session.scalar(select(OfficialLogin.official_id).where(OfficialLogin.login == name))
        if taken is not None and taken != official.id:
            raise Conflict(f"the login name {name} is taken")
        if record is None:
            record = OfficialLogin(official_id=official.id, organisation_id=official.organisation_id, login=name)
            session.add(record)
        record.login = name
    elif record is None:
        raise InvalidInput("the first invitation of an official needs a login name")
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        id=new_id(),
        token_hash=_digest(token),
        organisation_id=official.organisation_id,
        official_id=official.id,
        expires_at=now() + timedelta(hours=settings.invitation_hours),
    )
    session.add(invitation)
    audit.append(
        session,
        actor=actor,
        action="invitation.created",
        subject=f"official:{official.id}",
        chain=official.organisation_id,
        payload={"invitation_id": invitation.id, "login": record.login},
    )
    url = f"{settings.public_url.rstrip('/')}/invitation/{token}"
    return IssuedInvitation(
        id=invitation.id, token=token, url=url, login=record.login, expires_at=invitation.expires_at
    )


def _open_invitation(session: Session, token: str) -> tuple[Invitation, Official, OfficialLogin]:
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _digest(token)))
    if invitation is None or invitation.used or invitation.expires_at <= now():
        raise InvitationInvalid("this invitation link is unknown, used or expired")
    official = get_official(session, organisation_id=invitation.organisation_id, official_id=invitation.official_id)
    record = session.get(OfficialLogin, official.id)
    if official.disabled or record is None:
        raise InvitationInvalid("this invitation link is unknown, used or expired")
    return invitation, official, record


def show_invitation(session: Session, *, token: str) -> InvitationView:
    """Whom an invitation link is for (the page that sets the password shows it)."""
    _, official, record = _open_invitation(session, token)
    organisation = session.get_one(Organisation, official.organisation_id)
    return InvitationView(login=record.login, official_name=official.name, organisation_name=organisation.name)


def accept_invitation(session: Session, *, token: str, password: str, confirm: str, settings: Settings) -> str:
    """Sets the password of the link's official and uses the link up; the official's login name back."""
    invitation, official, record = _open_invitation(session, token)
    check_new_password(password, confirm, settings=settings)
    invitation.used = True
    _set_password(record, password)
    actor = official_actor(official)
    audit.append(
        session,
        actor=actor,
        action="password.set",
        subject=f"official:{official.id}",
        chain=official.organisation_id,
        payload={"invitation_id": invitation.id},
    )
    return record.login


def set_demo_password(session: Session, *, actor: Actor, official: Official, login: str, password: str) -> None:
    """``esign init``'s demo officials get a login name and password at once (the operator's, demo only)."""
    if actor.system_name != "operator":
        raise Forbidden("only the operator sets a password without an invitation")
    record = OfficialLogin(official_id=official.id, organisation_id=official.organisation_id, login=_clean_login(login))
    session.add(record)
    _set_password(record, password)
    audit.append(
        session, actor=actor, action="password.set", subject=f"official:{official.id}", chain=official.organisation_id
    )


def _set_password(record: OfficialLogin, password: str) -> None:
    record.password_hash = _hasher().hash(password)
    record.password_changed_at = now()
    record.failures = 0
    record.locked_until = None


def change_password(
    session: Session, *, actor: Actor, current: str, password: str, confirm: str, settings: Settings
) -> None:
    """The signed-in official changes their own password; the current one is checked first (and a wrong
    one counts towards the lockout)."""
    record = login_of(session, actor=actor)
    if record is None or record.password_hash is None:
        raise Forbidden("this official has no password to change")
    _check(session, record, current[:MAX_PASSWORD], settings=settings)
    check_new_password(password, confirm, settings=settings)
    _set_password(record, password)
    audit.append(session, actor=actor, action="password.changed", subject=actor.label, chain=record.organisation_id)


def official_actor(official: Official) -> Actor:
    """The actor an official is when signed in: their roles, and the scopes those roles give a token."""
    roles = official.role_set
    return Actor(
        organisation_id=official.organisation_id,
        official_id=official.id,
        system_name=None,
        roles=roles,
        scopes=frozenset(scope for role in roles for scope in OFFICIAL_SCOPES[role]),
    )


def _check(session: Session, record: OfficialLogin, password: str, *, settings: Settings) -> None:
    """Raises ``AccountLocked`` or ``SignInFailed`` (both keep the counted failure and its audit event)."""
    at = now()
    subject = f"official:{record.official_id}"
    system = Actor.system(record.organisation_id, "sign-in")
    if record.locked_until is not None and record.locked_until > at:
        audit.append(session, actor=system, action="signin.refused", subject=subject, chain=record.organisation_id)
        raise AccountLocked("too many wrong passwords; try again later", until=record.locked_until.isoformat())
    try:
        if record.password_hash is None:
            raise VerificationError("no password set")
        _hasher().verify(record.password_hash, password)
    except (VerificationError, InvalidHashError):
        record.failures += 1
        if record.failures >= settings.signin_lockout_failures:
            record.failures = 0
            record.locked_until = at + timedelta(minutes=settings.signin_lockout_minutes)
            audit.append(
                session,
                actor=system,
                action="signin.locked",
                subject=subject,
                chain=record.organisation_id,
                payload={"until": record.locked_until.isoformat()},
            )
            raise AccountLocked(
                "too many wrong passwords; try again later", until=record.locked_until.isoformat()
            ) from None
        audit.append(
            session,
            actor=system,
            action="signin.failed",
            subject=subject,
            chain=record.organisation_id,
            payload={"failures": record.failures},
        )
        raise SignInFailed("wrong login name or password") from None
    record.failures = 0
    record.locked_until = None
    if _hasher().check_needs_rehash(record.password_hash):
        record.password_hash = _hasher().hash(password)


def authenticate(session: Session, *, login: str, password: str, settings: Settings) -> Official:
    """The official whose login name and password these are; ``SignInFailed`` or ``AccountLocked`` otherwise.

    The caller opens the session (:func:`keys.sessions.open_session`), which audits the sign-in."""
    password = password[:MAX_PASSWORD]
    record = session.scalar(select(OfficialLogin).where(OfficialLogin.login == login.strip().lower()).with_for_update())
    official = session.get(Official, record.official_id) if record is not None else None
    organisation = session.get(Organisation, record.organisation_id) if record is not None else None
    if record is None or official is None or organisation is None or official.disabled or organisation.disabled:
        with contextlib.suppress(VerificationError):
            _hasher().verify(_dummy_hash(), password)
        audit.append(
            session,
            actor=Actor.system("", "sign-in"),
            action="signin.failed",
            subject=f"login:{login.strip()[:100]}",
            payload={"reason": "unknown or disabled"},
        )
        raise SignInFailed("wrong login name or password")
    _check(session, record, password, settings=settings)
    return official


def record_identity_failure(session: Session, *, issuer: str, reason: str) -> None:
    """A sign-in through the OpenID Connect provider that failed before naming anyone (a forged or stale
    callback, a provider that cannot be reached, an ID token that does not check): audited like a wrong password."""
    audit.append(
        session,
        actor=Actor.system("", "sign-in"),
        action="signin.failed",
        subject="oidc",
        payload={"reason": reason[:500], "issuer": issuer},
    )


def by_identity_claim(session: Session, *, value: str, issuer: str) -> Official:
    """The official an OpenID Connect provider vouched for: the claim's value is their login name here.

    No official is ever created from a claim; a value nobody has is ``SignInFailed`` and audited. A locked
    official stays locked out: the lock is on the person, not on the password."""
    record = session.scalar(select(OfficialLogin).where(OfficialLogin.login == value.strip().lower()))
    official = session.get(Official, record.official_id) if record is not None else None
    organisation = session.get(Organisation, record.organisation_id) if record is not None else None
    if record is None or official is None or organisation is None or official.disabled or organisation.disabled:
        audit.append(
            session,
            actor=Actor.system("", "sign-in"),
            action="signin.failed",
            subject=f"oidc:{value.strip()[:100]}",
            payload={"reason": "no such official", "issuer": issuer},
        )
        raise SignInFailed("the identity provider's account is not an official of this service")
    if record.locked_until is not None and record.locked_until > now():
        system = Actor.system(record.organisation_id, "sign-in")
        subject = f"official:{record.official_id}"
        audit.append(session, actor=system, action="signin.refused", subject=subject, chain=record.organisation_id)
        raise AccountLocked("too many wrong passwords; try again later", until=record.locked_until.isoformat())
    return official
