"""Signature Activation Data: the ``signature_activations`` table and ``credentials/authorize`` (§11.6).

A SAD is an opaque secret bound to one credential, one official, a number of signatures and, when the
client names them, exactly those digests; it expires after ``SAD_LIFETIME``. Only its SHA-256 is stored,
next to the credential's key re-sealed under the SAD itself (a PIN-protected key), or the holder's PIN
sealed under it (a key in a PKCS#11 token, which wants the PIN at every login). So any API process can
serve the SAD, and nothing there opens without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import Forbidden, NotFound
from esign.identity import Actor
from esign.ids import new_id, now
from esign.settings import Settings
from esign.signers import KeySigner

from .. import custody, envelope
from ..authorities import Pki
from ..ca import PrivateKey
from ..credentials import Credential, Status, Storage, certificate, effective_status
from ..errors import CredentialUnusable
from .algorithms import DIGEST_SIZES, hash_named
from .credentials import MAX_SIGNATURES
from .key_cache import keys
from .refusals import CscRefused, Refusal

SAD_LIFETIME = timedelta(minutes=5)
SAD_PREFIX = "sad_"


class SignatureActivation(Base):
    """Signature Activation Data handed out by ``credentials/authorize`` and not yet used up or purged."""

    __tablename__ = "signature_activations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    official_id: Mapped[str] = mapped_column(String(36))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, doc="PKCS#8 key sealed under the SAD (storage pin)")
    wrapped_pin: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="token PIN sealed under the SAD (storage pkcs11)"
    )
    hashes: Mapped[list[str] | None] = mapped_column(
        JSON, doc="hex digests still to sign, when the SAD is bound to them"
    )
    signatures_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=now)


@dataclass(frozen=True)
class Authorization:
    sad: str
    """The Signature Activation Data: shown once, stored only as its SHA-256."""
    expires_in: int
    """Seconds (``expiresIn``)."""


def decode_hashes(values: Sequence[str]) -> list[bytes]:
    """Base64 digests as CSC carries them; ``INVALID_HASH`` for one that is not base64."""
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, ValueError):
        raise CscRefused(Refusal.INVALID_HASH, "a hash is not valid base64") from None


def secret_hash(sad: str) -> str:
    """What ``signature_activations`` stores of a SAD."""
    return hashlib.sha256(sad.encode()).hexdigest()


def sealing_context(credential_id: str) -> bytes:
    """The context a SAD seals its credential's key or PIN under, so a sealed value serves no other credential."""
    return f"csc-sad:credential:{credential_id}".encode()


@contextmanager
def _as_refusals(session: Session, credential_id: str) -> Iterator[None]:
    """Custody's answers about the credential itself, as CSC words them; PIN failures pass through."""
    try:
        yield
    except (NotFound, Forbidden):
        raise CscRefused(
            Refusal.INVALID_CREDENTIAL, f"no credential {credential_id} the caller may sign with"
        ) from None
    except CredentialUnusable as e:
        credential = session.get(Credential, credential_id)
        expired = credential is not None and effective_status(session, credential) is Status.EXPIRED
        raise CscRefused(Refusal.CERTIFICATE_EXPIRED if expired else Refusal.CREDENTIAL_DISABLED, e.message) from None


def _check_request(num_signatures: int, hashes: Sequence[bytes] | None, hash_algo: str | None) -> None:
    if num_signatures < 1:
        raise CscRefused(Refusal.INVALID_NUM_SIGNATURES, "numSignatures must be at least 1")
    if num_signatures > MAX_SIGNATURES:
        raise CscRefused(Refusal.TOO_MANY_SIGNATURES, f"one SAD authorises at most {MAX_SIGNATURES} signatures")
    if hashes is not None:
        if len(hashes) != num_signatures:
            raise CscRefused(Refusal.INVALID_NUM_SIGNATURES, "numSignatures must equal the number of hashes")
        named = hash_named(hash_algo)
        sizes = {DIGEST_SIZES[named]} if named is not None else set(DIGEST_SIZES.values())
        if any(len(h) not in sizes for h in hashes):
            raise CscRefused(Refusal.INVALID_HASH_LENGTH, "a hash is not a SHA-256, SHA-384 or SHA-512 digest")


def authorize(
    session: Session,
    *,
    actor: Actor,
    pki: Pki,
    settings: Settings,
    credential_id: str,
    pin: str | None,
    num_signatures: int,
    hashes: Sequence[bytes] | None = None,
    hash_algo: str | None = None,
    description: str | None = None,
) -> Authorization:
    """A SAD for ``num_signatures`` signatures, bound to ``hashes`` when given (CSC API v1.0.4.0 §11.6,
    v2.0.0.2 §11.6 ``credentials/authorize``; SCAL 1 makes them optional, and then any digests can be signed).
    ``hash_algo`` (v2's ``hashAlgorithmOID``), when given, fixes the length every hash must have.

    The PIN is checked by ``custody.unlocked``: a wrong one is counted against the credential and audited
    (``credential.pin_rejected``; commit it: ``PinInvalid`` keeps its changes) and the fifth in a row locks
    it, as for every other use of the key.
    """
    if pin is None:
        raise CscRefused(Refusal.MISSING_PIN, "the credential's PIN is required")
    _check_request(num_signatures, hashes, hash_algo)
    sad = SAD_PREFIX + secrets.token_urlsafe(32)
    wrapped_key = wrapped_pin = None
    key: PrivateKey | None = None
    with (
        _as_refusals(session, credential_id),
        custody.unlocked(session, actor=actor, credential_id=credential_id, pin=pin, pki=pki) as signer,
    ):
        credential = session.get(Credential, credential_id)
        assert credential is not None
        context = sealing_context(credential.id)
        if credential.storage == Storage.PKCS11.value:
            wrapped_pin = envelope.seal_bytes(pin.encode(), sad.encode(), context=context, params=custody.SECRET_KDF)
        else:
            assert isinstance(signer, KeySigner)
            assert isinstance(signer.key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
            key = signer.key
            wrapped_key = envelope.seal_key(key, sad.encode(), context=context, params=custody.SECRET_KDF)
    issued_at = now()
    expires_at = min(issued_at + SAD_LIFETIME, certificate(session, credential).not_valid_after_utc)
    session.execute(
        delete(SignatureActivation).where(
            SignatureActivation.credential_id == credential.id, SignatureActivation.expires_at <= issued_at
        )
    )
    record = SignatureActivation(
        id=new_id(),
        secret_hash=secret_hash(sad),
        credential_id=credential.id,
        organisation_id=credential.organisation_id,
        official_id=actor.official_id or "",
        wrapped_key=wrapped_key,
        wrapped_pin=wrapped_pin,
        hashes=None if hashes is None else [h.hex() for h in hashes],
        signatures_left=num_signatures,
        expires_at=expires_at,
        created_at=issued_at,
    )
    session.add(record)
    session.flush()
    if key is not None:
        keys.put(record.secret_hash, credential.id, key)
    audit.append(
        session,
        actor=actor,
        action="credential.csc_authorized",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
        payload={
            "activation": record.id,
            "num_signatures": num_signatures,
            "hashes": None if hashes is None else len(hashes),
            "description": description,
        },
    )
    return Authorization(sad=sad, expires_in=max(0, int((expires_at - issued_at).total_seconds())))
