"""Using a credential's key: the holder's PIN unlocks it into a pyhanko signer, or counts a failure.

Five consecutive wrong PINs lock the credential until an administrator unlocks it. A successful unlock
can open a signing session: the decrypted key re-sealed under a random session secret that is handed to
the client, so a batch of signatures pays the PIN's key derivation (scrypt, tens of milliseconds) once,
any API process can serve the session, and the key is never stored in the clear.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyhanko.sign.signers import Signer
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import Forbidden, InvalidInput, NotFound
from esign.identity import Actor
from esign.ids import new_id, now
from esign.signers import KeySigner, to_asn1

from . import envelope, pkcs11
from .authorities import Pki
from .ca import PrivateKey
from .credentials import (
    MAX_PIN_ATTEMPTS,
    Credential,
    Status,
    Storage,
    certificate,
    check_pin,
    context,
    effective_status,
    get,
    may_use,
)
from .errors import CredentialLocked, CredentialUnusable, PinInvalid

SECRET_KDF = envelope.KdfParams(n=2, r=1, p=1)
"""For secrets of 256 bits of entropy (a signing session's, a CSC SAD): one fast pass turns them into a key;
the slow scrypt of a PIN would buy nothing."""
MAX_SESSION_SIGNATURES = 1000
MAX_SESSION_SECONDS = 3600


class SigningSession(Base):
    __tablename__ = "signing_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    official_id: Mapped[str] = mapped_column(String(36))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    signatures_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=now)


@dataclass(frozen=True)
class OpenedSession:
    secret: str
    id: str
    expires_at: datetime
    signatures_left: int


def _usable(session: Session, *, actor: Actor, credential_id: str, pin_attempt: bool) -> Credential:
    """The credential if the actor may use it now. A PIN attempt locks its row first, so concurrent guesses
    queue up and the sixth cannot run before the fifth has locked the credential."""
    credential = get(session, actor=actor, credential_id=credential_id, for_update=pin_attempt)
    if not may_use(actor, credential):
        raise Forbidden("this credential belongs to someone else")
    status = effective_status(session, credential)
    if status is Status.LOCKED:
        raise CredentialLocked(
            f"credential {credential.id} is locked after {MAX_PIN_ATTEMPTS} wrong PINs; an administrator can unlock it"
        )
    if status is not Status.ACTIVE:
        raise CredentialUnusable(f"credential {credential.id} is {status.value}")
    return credential


def _failed_attempt(
    session: Session, *, actor: Actor, credential: Credential, token_locked: bool = False
) -> PinInvalid | CredentialLocked:
    """Count a wrong PIN on the credential and record it in the audit log, ``credential.pin_rejected``
    with the tries left; the caller's transaction commits both although the request fails
    (``keeps_changes``). Guessing is what an audit trail is for: each guess is seen, not only the lock.

    The fifth in a row, or one after which the PKCS#11 token locked itself (``token_locked``), locks the
    credential as well (``credential.locked``).
    """
    credential.failed_pin_attempts += 1
    left = 0 if token_locked else max(MAX_PIN_ATTEMPTS - credential.failed_pin_attempts, 0)
    audit.append(
        session,
        actor=actor,
        action="credential.pin_rejected",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
        payload={"tries_left": left, "attempts": credential.failed_pin_attempts},
    )
    if left <= 0:
        credential.status = Status.LOCKED.value
        audit.append(
            session,
            actor=actor,
            action="credential.locked",
            subject=f"credential:{credential.id}",
            chain=credential.organisation_id,
            payload={"attempts": credential.failed_pin_attempts, "token_locked": token_locked},
        )
    session.flush()
    if left <= 0:
        return CredentialLocked(f"wrong PIN; credential {credential.id} is now locked")
    tries = "1 try" if left == 1 else f"{left} tries"
    return PinInvalid(f"wrong PIN; {tries} left before the credential locks", tries_left=left)


def _key_signer(session: Session, credential: Credential, key: PrivateKey, pki: Pki) -> KeySigner:
    return KeySigner(key, to_asn1(certificate(session, credential)), [to_asn1(c) for c in pki.chain])


@contextmanager
def unlocked(session: Session, *, actor: Actor, credential_id: str, pin: str, pki: Pki) -> Iterator[Signer]:
    """A signer for the credential while the block runs; a wrong PIN is counted (commit it: ``keeps_changes``)."""
    credential = _usable(session, actor=actor, credential_id=credential_id, pin_attempt=True)
    if credential.storage == Storage.PKCS11.value:
        assert credential.token_uri is not None
        try:
            with pkcs11.open_signer(
                pkcs11.TokenKey.from_uri(credential.token_uri),
                user_pin=pin,
                cert=to_asn1(certificate(session, credential)),
                chain=[to_asn1(c) for c in pki.chain],
            ) as signer:
                credential.failed_pin_attempts = 0
                yield signer
        except pkcs11.TokenPinRejected:
            raise _failed_attempt(session, actor=actor, credential=credential) from None
        except pkcs11.TokenPinLocked:
            raise _failed_attempt(session, actor=actor, credential=credential, token_locked=True) from None
        return
    assert credential.encrypted_key is not None
    try:
        key = envelope.open_key(credential.encrypted_key, pin.encode(), context=context(credential.id))
    except envelope.WrongSecret:
        raise _failed_attempt(session, actor=actor, credential=credential) from None
    credential.failed_pin_attempts = 0
    yield _key_signer(session, credential, key, pki)


def change_pin(session: Session, *, actor: Actor, credential_id: str, old_pin: str, new_pin: str) -> Credential:
    """Re-encrypt the key under a new PIN; the old PIN must be right (and a wrong one counts)."""
    check_pin(new_pin)
    credential = _usable(session, actor=actor, credential_id=credential_id, pin_attempt=True)
    if credential.storage != Storage.PIN.value:
        raise InvalidInput("a PKCS#11 token's PIN is changed with the token's own tools")
    assert credential.encrypted_key is not None
    try:
        key = envelope.open_key(credential.encrypted_key, old_pin.encode(), context=context(credential.id))
    except envelope.WrongSecret:
        raise _failed_attempt(session, actor=actor, credential=credential) from None
    credential.encrypted_key = envelope.seal_key(key, new_pin.encode(), context=context(credential.id))
    credential.failed_pin_attempts = 0
    audit.append(
        session,
        actor=actor,
        action="credential.pin_changed",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
    )
    return credential


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(
    session: Session,
    *,
    actor: Actor,
    credential_id: str,
    pin: str,
    pki: Pki,
    max_signatures: int = 100,
    ttl: timedelta = timedelta(minutes=15),
) -> OpenedSession:
    if not 1 <= max_signatures <= MAX_SESSION_SIGNATURES:
        raise InvalidInput(f"a signing session allows 1 to {MAX_SESSION_SIGNATURES} signatures")
    if not timedelta(seconds=1) <= ttl <= timedelta(seconds=MAX_SESSION_SECONDS):
        raise InvalidInput(f"a signing session lasts at most {MAX_SESSION_SECONDS} seconds")
    credential = _usable(session, actor=actor, credential_id=credential_id, pin_attempt=True)
    if credential.storage != Storage.PIN.value:
        raise InvalidInput("signing sessions are for PIN-protected keys; a PKCS#11 key signs with its PIN each time")
    assert credential.encrypted_key is not None
    try:
        key = envelope.open_key(credential.encrypted_key, pin.encode(), context=context(credential.id))
    except envelope.WrongSecret:
        raise _failed_attempt(session, actor=actor, credential=credential) from None
    credential.failed_pin_attempts = 0
    secret = "ess_" + secrets.token_urlsafe(32)
    record = SigningSession(
        id=new_id(),
        secret_hash=_secret_hash(secret),
        credential_id=credential.id,
        organisation_id=credential.organisation_id,
        official_id=actor.official_id or "",
        wrapped_key=envelope.seal_key(key, secret.encode(), context=context(credential.id), params=SECRET_KDF),
        signatures_left=max_signatures,
        expires_at=now() + ttl,
    )
    session.add(record)
    session.flush()
    _signers.put(record.secret_hash, _key_signer(session, credential, key, pki))
    audit.append(
        session,
        actor=actor,
        action="credential.session_opened",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
        payload={"session": record.id, "max_signatures": max_signatures},
    )
    return OpenedSession(secret=secret, id=record.id, expires_at=record.expires_at, signatures_left=max_signatures)


def session_signer(
    session: Session, *, actor: Actor, secret: str, pki: Pki, uses: int = 1
) -> tuple[Signer, SigningSession]:
    """The signer of an open session, counting ``uses`` signatures against it (row-locked, so concurrent
    requests cannot overspend it)."""
    digest = _secret_hash(secret)
    record = session.scalar(select(SigningSession).where(SigningSession.secret_hash == digest).with_for_update())
    if (
        record is None
        or record.organisation_id != actor.organisation_id
        or record.official_id != (actor.official_id or "")
    ):
        raise NotFound("no such signing session")
    if record.expires_at <= now() or record.signatures_left < uses:
        raise InvalidInput("the signing session has expired or has no signatures left; unlock the credential again")
    credential = _usable(session, actor=actor, credential_id=record.credential_id, pin_attempt=False)
    record.signatures_left -= uses
    signer = _signers.get(digest)
    if signer is None:
        key = envelope.open_key(record.wrapped_key, secret.encode(), context=context(credential.id))
        signer = _key_signer(session, credential, key, pki)
        _signers.put(digest, signer)
    return signer, record


class _SignerCache:
    """Signers of open sessions in this process, so a batch does not even re-parse the key."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[str, Signer] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> Signer | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: str, signer: Signer) -> None:
        with self._lock:
            self._items[key] = signer
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_signers = _SignerCache()
