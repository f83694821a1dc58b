"""Remote signing for Cloud Signature Consortium clients: the service behind ``/csc/v1`` and ``/csc/v2``.

Both versions of the API (CSC API v1.0.4.0 and v2.0.0.2) are the same five operations over the
credentials held here; only their field names and response shapes differ, which is ``api/routes/csc.py``'s
business. This module knows nothing of HTTP:

- ``info``: what the service is and implements (§11.1);
- ``list_credentials`` and ``credential_info``: the caller's usable credentials, their keys and
  certificates (§11.4, §11.5);
- ``authorize``: the holder's PIN, checked and counted by key custody exactly as any other unlock is
  (five wrong in a row lock the credential), turned into Signature Activation Data (§11.6);
- ``sign_hash``: a batch of digests signed under one SAD (v1.0.4.0 §11.9, v2.0.0.2 §11.10).

A SAD is an opaque secret bound to one credential, one official, a number of signatures and, when the
client names them, exactly those digests; it expires after ``SAD_LIFETIME``. Only its SHA-256 is stored,
in ``signature_activations``, next to the credential's key re-sealed under the SAD itself (a PIN-protected
key), or the holder's PIN sealed under it (a key in a PKCS#11 token, which wants the PIN at every login).
So any API process can serve the SAD, and nothing there opens without it. A refused ``sign_hash`` spends
nothing: every check runs before the first signature is made.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import MGF, Attribute, Mechanism, ObjectClass, SignMixin
from pkcs11 import exceptions as p11_errors
from pkcs11.util.ec import encode_ecdsa_signature
from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, Row, String, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base, table_of
from esign.errors import Forbidden, NotFound
from esign.identity import Actor
from esign.ids import new_id, now
from esign.settings import Settings
from esign.signers import KeySigner, to_asn1

from . import custody, envelope, pkcs11
from .authorities import IssuedCertificate, Pki, serial_hex
from .ca import PrivateKey
from .credentials import (
    MAX_PIN_ATTEMPTS,
    Credential,
    Purpose,
    Status,
    Storage,
    certificate,
    effective_status,
    holder_may_use,
    list_visible,
    may_use,
)
from .errors import CredentialLocked, CredentialUnusable, KeysError, TokenDeviceError
from .signing_process import DigestSigning, HashName, Scheme, signing_process

SPECS_V1 = "1.0.4.0"
SPECS_V2 = "2.0.0.2"
SAD_LIFETIME = timedelta(minutes=5)
MAX_SIGNATURES = custody.MAX_SESSION_SIGNATURES
"""The most signatures one SAD can authorise: ``multisign`` in ``credentials/info``."""
SAD_PREFIX = "sad_"
METHODS = ("credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash")
"""The API methods implemented besides ``info`` (which every service has)."""

# OIDs (CSC API v1.0.4.0 §5.3 / v2.0.0.2 §5: algorithms are named by their OIDs in dotted notation).
SHA256, SHA384, SHA512 = "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.2", "2.16.840.1.101.3.4.2.3"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA = "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"
ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"
_CURVES = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34", "secp521r1": "1.3.132.0.35"}

_HASHES: dict[str, HashName] = {SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}
_DIGEST_SIZES: dict[HashName, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
_P11_HASHES = {"sha256": Mechanism.SHA256, "sha384": Mechanism.SHA384, "sha512": Mechanism.SHA512}
_P11_MGFS = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}

KeyType = Literal["rsa", "ec"]
# signAlgo → (key type, scheme, the hash it implies or None when hashAlgo / signAlgoParams name it)
_SIGN_ALGOS: dict[str, tuple[KeyType, Scheme, HashName | None]] = {
    SHA256_WITH_RSA: ("rsa", "pkcs1v15", "sha256"),
    SHA384_WITH_RSA: ("rsa", "pkcs1v15", "sha384"),
    SHA512_WITH_RSA: ("rsa", "pkcs1v15", "sha512"),
    RSASSA_PSS: ("rsa", "pss", None),
    RSA_ENCRYPTION: ("rsa", "pkcs1v15", None),
    ECDSA_WITH_SHA256: ("ec", "ecdsa", "sha256"),
    ECDSA_WITH_SHA384: ("ec", "ecdsa", "sha384"),
    ECDSA_WITH_SHA512: ("ec", "ecdsa", "sha512"),
}
KEY_ALGOS: dict[KeyType, tuple[str, ...]] = {
    "rsa": (SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA, RSASSA_PSS, RSA_ENCRYPTION),
    "ec": (ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512),
}
"""``key/algo`` of a credential by its key type (§11.5): what ``signAlgo`` may name for it."""

# A SAD has 256 bits of entropy: the fast KDF setting signing sessions use is enough to make it a key.
_SAD_KDF = custody._SESSION_KDF


class SignatureActivation(Base):
    """Signature Activation Data handed out by ``credentials/authorize`` and not yet used up or purged."""

    __tablename__ = "signature_activations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    official_id: Mapped[str] = mapped_column(String(36))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, doc="PKCS#8 key sealed under the SAD (storage pin)")
    wrapped_pin: Mapped[bytes | None] = mapped_column(LargeBinary, doc="token PIN sealed under the SAD (storage pkcs11)")
    hashes: Mapped[list[str] | None] = mapped_column(JSON, doc="hex digests still to sign, when the SAD is bound to them")
    signatures_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=now)


class Refusal(enum.StrEnum):
    """Why a CSC request is refused. Each is one row of a method's error table in the spec; the API words
    it the way its version does (e.g. ``hashAlgo`` in v1.0.4.0 is ``hashAlgorithmOID`` in v2.0.0.2)."""

    INVALID_CREDENTIAL = "invalid_credential"
    CREDENTIAL_DISABLED = "credential_disabled"
    CERTIFICATE_EXPIRED = "certificate_expired"
    MISSING_PIN = "missing_pin"
    INVALID_NUM_SIGNATURES = "invalid_num_signatures"
    TOO_MANY_SIGNATURES = "too_many_signatures"
    INVALID_HASH = "invalid_hash"
    EMPTY_HASHES = "empty_hashes"
    INVALID_HASH_LENGTH = "invalid_hash_length"
    INVALID_SAD = "invalid_sad"
    SAD_EXPIRED = "sad_expired"
    HASH_NOT_AUTHORISED = "hash_not_authorised"
    INVALID_SIGN_ALGO = "invalid_sign_algo"
    MISSING_SIGN_ALGO_PARAMS = "missing_sign_algo_params"
    INVALID_SIGN_ALGO_PARAMS = "invalid_sign_algo_params"
    MISSING_HASH_ALGO = "missing_hash_algo"
    INVALID_HASH_ALGO = "invalid_hash_algo"
    INVALID_USER_ID = "invalid_user_id"
    INVALID_PAGE_TOKEN = "invalid_page_token"


class CscRefused(KeysError):
    """A CSC request refused before anything was signed or spent; ``message`` says why in plain words."""

    code = "invalid_request"

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal


# --- info ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceInfo:
    """CSC API v1.0.4.0 §11.1 / v2.0.0.2 §11.1 ``info``."""

    name: str
    description: str
    logo: str
    region: str
    lang: str
    auth_type: tuple[str, ...]
    """``external``: callers present this service's own bearer token (``esign token create``); the CSC
    API's OAuth 2.0 and HTTP Basic logins are not offered."""
    methods: tuple[str, ...]
    sign_algorithms: tuple[str, ...]


def info() -> ServiceInfo:
    return ServiceInfo(
        name="esign",
        description="电子签名服务：持有人以 PIN 授权，远程签署摘要 (remote signing of digests with PIN authorisation)",
        logo="",
        region="CN",
        lang="zh-CN",
        auth_type=("external",),
        methods=("info", *METHODS),
        sign_algorithms=tuple(dict.fromkeys(a for algos_ in KEY_ALGOS.values() for a in algos_)),
    )


# --- credentials/list and credentials/info ------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    status: Literal["enabled", "disabled"]
    algorithms: tuple[str, ...]
    length: int
    curve: str | None


@dataclass(frozen=True)
class CertificateInfo:
    status: Literal["valid", "expired", "revoked"]
    certificates: tuple[bytes, ...]
    """DER: none, the signer's certificate alone, or it followed by the issuing CA and the root."""
    issuer_dn: str
    subject_dn: str
    serial_number: str
    valid_from: datetime
    valid_to: datetime


@dataclass(frozen=True)
class CredentialInfo:
    """CSC API v1.0.4.0 §11.5 / v2.0.0.2 §11.5 ``credentials/info``: authorisation is always explicit, with
    the holder's PIN and no OTP; SCAL 1 (binding a SAD to hashes is offered, not required)."""

    credential_id: str
    description: str
    key: KeyInfo
    cert: CertificateInfo
    multisign: int = MAX_SIGNATURES
    scal: Literal["1", "2"] = "1"


CertificateChoice = Literal["none", "single", "chain"]


def _visible(session: Session, *, actor: Actor, credential_id: str) -> Credential:
    """The credential if the actor may sign with it (whatever its status); one answer for unknown and foreign."""
    credential = session.get(Credential, credential_id)
    if credential is None or credential.organisation_id != actor.organisation_id or not may_use(actor, credential):
        raise CscRefused(Refusal.INVALID_CREDENTIAL, f"no credential {credential_id} the caller may sign with")
    return credential


def list_credentials(
    session: Session, *, actor: Actor, user_id: str | None = None, only_valid: bool = False
) -> list[str]:
    """The ids of the credentials the caller may sign with, oldest first; revoked and expired ones left out,
    locked ones kept (an administrator can unlock them) unless ``only_valid``. ``user_id``, when a client
    sends it, can only name the caller (CSC API v1.0.4.0 §11.4: never another user's credentials)."""
    if user_id is not None and user_id != actor.official_id:
        raise CscRefused(Refusal.INVALID_USER_ID, "userID can only name the caller")
    keep = {Status.ACTIVE} if only_valid else {Status.ACTIVE, Status.LOCKED}
    return [
        c.id for c in list_visible(session, actor=actor)
        if may_use(actor, c) and effective_status(session, c) in keep
    ]


def _key_type(cert: x509.Certificate) -> tuple[KeyType, int, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, _CURVES.get(key.curve.name)
    raise KeysError(f"unsupported key in certificate {cert.serial_number:x}")


def credential_info(
    session: Session, *, actor: Actor, pki: Pki, credential_id: str, certificates: CertificateChoice = "single"
) -> CredentialInfo:
    credential = _visible(session, actor=actor, credential_id=credential_id)
    cert = certificate(session, credential)
    status = effective_status(session, credential)
    key_type, length, curve = _key_type(cert)
    chain = {"none": [], "single": [cert], "chain": [cert, *pki.chain]}[certificates]
    issued = session.get(IssuedCertificate, credential.serial)
    revoked = status is Status.REVOKED or (issued is not None and issued.revoked_at is not None)
    subject = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    name = str(subject[0].value) if subject else cert.subject.rfc4514_string()
    return CredentialInfo(
        credential_id=credential.id,
        description=("电子印章：" if credential.purpose == Purpose.SEAL.value else "个人签名：") + name,
        key=KeyInfo(
            status="enabled" if status is Status.ACTIVE else "disabled",
            algorithms=KEY_ALGOS[key_type], length=length, curve=curve,
        ),
        cert=CertificateInfo(
            status="revoked" if revoked else "expired" if status is Status.EXPIRED else "valid",
            certificates=tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
            issuer_dn=cert.issuer.rfc4514_string(),
            subject_dn=cert.subject.rfc4514_string(),
            serial_number=serial_hex(cert.serial_number).upper(),
            valid_from=cert.not_valid_before_utc,
            valid_to=cert.not_valid_after_utc,
        ),
    )


# --- credentials/authorize -------------------------------------------------------------------------


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


def _secret_hash(sad: str) -> str:
    return hashlib.sha256(sad.encode()).hexdigest()


def _context(credential_id: str) -> bytes:
    return f"csc-sad:credential:{credential_id}".encode()


@contextmanager
def _as_refusals(session: Session, credential_id: str) -> Iterator[None]:
    """Custody's answers about the credential itself, as CSC words them; PIN failures pass through."""
    try:
        yield
    except (NotFound, Forbidden):
        raise CscRefused(Refusal.INVALID_CREDENTIAL, f"no credential {credential_id} the caller may sign with") from None
    except CredentialUnusable as e:
        credential = session.get(Credential, credential_id)
        expired = credential is not None and effective_status(session, credential) is Status.EXPIRED
        raise CscRefused(Refusal.CERTIFICATE_EXPIRED if expired else Refusal.CREDENTIAL_DISABLED, e.message) from None


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

    The PIN is checked by ``custody.unlocked``: a wrong one is counted against the credential (commit it:
    ``PinInvalid`` keeps its changes) and the fifth in a row locks it, as for every other use of the key.
    """
    if pin is None:
        raise CscRefused(Refusal.MISSING_PIN, "the credential's PIN is required")
    if num_signatures < 1:
        raise CscRefused(Refusal.INVALID_NUM_SIGNATURES, "numSignatures must be at least 1")
    if num_signatures > MAX_SIGNATURES:
        raise CscRefused(Refusal.TOO_MANY_SIGNATURES, f"one SAD authorises at most {MAX_SIGNATURES} signatures")
    if hashes is not None:
        if len(hashes) != num_signatures:
            raise CscRefused(Refusal.INVALID_NUM_SIGNATURES, "numSignatures must equal the number of hashes")
        named = _hash_named(hash_algo)
        sizes = {_DIGEST_SIZES[named]} if named is not None else set(_DIGEST_SIZES.values())
        if any(len(h) not in sizes for h in hashes):
            raise CscRefused(Refusal.INVALID_HASH_LENGTH, "a hash is not a SHA-256, SHA-384 or SHA-512 digest")
    sad = SAD_PREFIX + secrets.token_urlsafe(32)
    wrapped_key = wrapped_pin = None
    key: PrivateKey | None = None
    with _as_refusals(session, credential_id):
        with custody.unlocked(
            session, actor=actor, credential_id=credential_id, pin=pin, pki=pki, settings=settings
        ) as signer:
            credential = session.get(Credential, credential_id)
            assert credential is not None
            if credential.storage == Storage.PKCS11.value:
                wrapped_pin = envelope.seal_bytes(pin.encode(), sad.encode(), context=_context(credential.id), params=_SAD_KDF)
            else:
                assert isinstance(signer, KeySigner)
                assert isinstance(signer.key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
                key = signer.key
                wrapped_key = envelope.seal_key(key, sad.encode(), context=_context(credential.id), params=_SAD_KDF)
    issued_at = now()
    expires_at = min(issued_at + SAD_LIFETIME, certificate(session, credential).not_valid_after_utc)
    session.execute(
        delete(SignatureActivation).where(
            SignatureActivation.credential_id == credential.id, SignatureActivation.expires_at <= issued_at
        )
    )
    record = SignatureActivation(
        id=new_id(),
        secret_hash=_secret_hash(sad),
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
        _keys.put(record.secret_hash, credential.id, key)
    audit.append(
        session, actor=actor.label, action="credential.csc_authorized", subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
        payload={
            "activation": record.id, "num_signatures": num_signatures,
            "hashes": None if hashes is None else len(hashes), "description": description,
        },
    )
    return Authorization(sad=sad, expires_in=max(0, int((expires_at - issued_at).total_seconds())))


# --- signatures/signHash ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureAlgorithm:
    """What ``signAlgo``, ``signAlgoParams`` and ``hashAlgo`` ask for, checked (v1.0.4.0 §11.9)."""

    oid: str
    key_type: KeyType
    scheme: Scheme
    hash: HashName
    salt_length: int | None = None
    """RSASSA-PSS only; its MGF1 uses ``hash`` too (the only combination accepted)."""

    @property
    def digest_size(self) -> int:
        return _DIGEST_SIZES[self.hash]

    @property
    def signing(self) -> DigestSigning:
        return DigestSigning(scheme=self.scheme, hash=self.hash, salt_length=self.salt_length)


def _hash_named(oid: str | None) -> HashName | None:
    if oid is None:
        return None
    if oid not in _HASHES:
        raise CscRefused(Refusal.INVALID_HASH_ALGO, f"unsupported hash algorithm {oid}: use SHA-256, SHA-384 or SHA-512")
    return _HASHES[oid]


def _pss(params: bytes | None) -> tuple[HashName, int]:
    """RFC 8017 §A.2.3 RSASSA-PSS-params; the MGF must be MGF1 over the same hash, the trailer field 1."""
    if params is None:
        raise CscRefused(Refusal.MISSING_SIGN_ALGO_PARAMS, "RSASSA-PSS needs signAlgoParams")
    try:
        parsed = algos.RSASSAPSSParams.load(params)
        hash_oid = parsed["hash_algorithm"]["algorithm"].dotted
        mgf = parsed["mask_gen_algorithm"]
        mgf_hash = mgf["parameters"]["algorithm"].dotted
        salt, trailer = parsed["salt_length"].native, parsed["trailer_field"].native
        mgf_name = mgf["algorithm"].native
    except (ValueError, TypeError, KeyError):
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "signAlgoParams is not DER RSASSA-PSS-params") from None
    if hash_oid not in _HASHES or mgf_name != "mgf1" or mgf_hash != hash_oid or trailer not in (1, "trailer_field_bc"):
        raise CscRefused(
            Refusal.INVALID_SIGN_ALGO_PARAMS, "RSASSA-PSS needs SHA-256/384/512 with MGF1 over the same hash"
        )
    if not isinstance(salt, int) or salt < 0:
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "invalid PSS salt length")
    return _HASHES[hash_oid], salt


def resolve_algorithm(sign_algo: str, *, params: bytes | None = None, hash_algo: str | None = None) -> SignatureAlgorithm:
    """The algorithm a ``signHash`` request names. ``hashAlgo`` is needed only when ``signAlgo`` does not
    imply a hash (plain rsaEncryption); when given, it must agree with ``signAlgo`` and its parameters."""
    if sign_algo not in _SIGN_ALGOS:
        raise CscRefused(Refusal.INVALID_SIGN_ALGO, f"unsupported signature algorithm {sign_algo}")
    key_type, scheme, implied = _SIGN_ALGOS[sign_algo]
    named = _hash_named(hash_algo)
    salt = None
    if scheme == "pss":
        implied, salt = _pss(params)
    if implied is None:
        if named is None:
            raise CscRefused(Refusal.MISSING_HASH_ALGO, f"signAlgo {sign_algo} needs hashAlgo")
        implied = named
    if named is not None and named != implied:
        raise CscRefused(Refusal.INVALID_HASH_ALGO, f"hashAlgo {hash_algo} contradicts signAlgo {sign_algo}")
    return SignatureAlgorithm(oid=sign_algo, key_type=key_type, scheme=scheme, hash=implied, salt_length=salt)


def _max_pss_salt(key_bits: int, algorithm: SignatureAlgorithm) -> int:
    """RFC 8017 §9.1.1: emLen ≥ hLen + sLen + 2, with emLen = ⌈(modBits − 1)/8⌉."""
    return (key_bits - 1 + 7) // 8 - algorithm.digest_size - 2


def _check_fits(algorithm: SignatureAlgorithm, key_type: KeyType, key_bits: int) -> None:
    if algorithm.key_type != key_type:
        raise CscRefused(Refusal.INVALID_SIGN_ALGO, f"signAlgo {algorithm.oid} does not fit this credential's {key_type} key")
    if algorithm.salt_length is not None and algorithm.salt_length > _max_pss_salt(key_bits, algorithm):
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "the PSS salt is too long for this key")


def _digest_info(hash_name: HashName, digest: bytes) -> bytes:
    """RFC 8017 §9.2 DigestInfo: what RSASSA-PKCS1-v1_5 pads, for a token's raw CKM_RSA_PKCS."""
    return algos.DigestInfo({"digest_algorithm": {"algorithm": hash_name}, "digest": digest}).dump()


def _sign_in_token(
    ref: pkcs11.TokenKey, pin: str, cert: asn1_x509.Certificate, algorithm: SignatureAlgorithm, digests: Sequence[bytes]
) -> list[bytes]:
    """Log in to the holder's token once for the batch and sign each digest with a raw mechanism
    (CKM_ECDSA, CKM_RSA_PKCS over DigestInfo, CKM_RSA_PKCS_PSS), which any token implements for prehashed data."""
    try:
        with pkcs11.open_signer(ref, user_pin=pin, cert=cert) as signer:
            found = signer.pkcs11_session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: ref.key_label, Attribute.ID: ref.key_id}
            )
            [key] = [k for k in found if isinstance(k, SignMixin)]
            if algorithm.scheme == "ecdsa":
                return [encode_ecdsa_signature(key.sign(d, mechanism=Mechanism.ECDSA)) for d in digests]
            if algorithm.scheme == "pss":
                param = (_P11_HASHES[algorithm.hash], _P11_MGFS[algorithm.hash], algorithm.salt_length)
                return [key.sign(d, mechanism=Mechanism.RSA_PKCS_PSS, mechanism_param=param) for d in digests]
            return [key.sign(_digest_info(algorithm.hash, d), mechanism=Mechanism.RSA_PKCS) for d in digests]
    except pkcs11.TokenPinRejected:
        raise CscRefused(Refusal.INVALID_SAD, "the token no longer accepts the PIN this SAD was authorised with") from None
    except p11_errors.PKCS11Error as e:
        raise TokenDeviceError(f"token {ref.token_label!r}: [{type(e).__name__}] {e}") from e


def _covered(record: SignatureActivation | Row[Any], digests: Sequence[bytes]) -> list[str] | None:
    """The SAD's hashes left once ``digests`` are signed (None when it is not bound to hashes), or a refusal
    when it does not cover them: too many, or a hash it does not authorise (or authorised once, and signed)."""
    if record.signatures_left < len(digests):
        raise CscRefused(
            Refusal.INVALID_SAD, f"the SAD authorises {record.signatures_left} more signatures, not {len(digests)}"
        )
    if record.hashes is None:
        return None
    left = Counter(record.hashes)
    wanted = Counter(d.hex() for d in digests)
    if wanted - left:
        raise CscRefused(Refusal.HASH_NOT_AUTHORISED, "a hash is not among those the SAD authorises (or was signed already)")
    return list((left - wanted).elements())


def _check_credential(found: Row[Any], *, actor: Actor) -> None:
    """Whether the credential of a live SAD may still sign: what ``custody._usable`` decides, without
    reading the certificate. A SAD never outlives its certificate (``authorize`` clamps its expiry to the
    certificate's notAfter), so only the status column can have changed since: locked, or revoked."""
    if found.credential_organisation_id != actor.organisation_id or not holder_may_use(
        actor, purpose=found.purpose, holder_id=found.holder_id
    ):
        raise CscRefused(Refusal.INVALID_CREDENTIAL, f"no credential {found.credential_id} the caller may sign with")
    if found.status == Status.LOCKED.value:
        raise CredentialLocked(f"credential {found.credential_id} is locked after {MAX_PIN_ATTEMPTS} wrong PINs")
    if found.status != Status.ACTIVE.value:
        raise CscRefused(Refusal.CREDENTIAL_DISABLED, f"credential {found.credential_id} is {found.status}")


# Built once: a signHash runs them, and building a statement costs about as much as running it.
_ACTIVATIONS = table_of(SignatureActivation)
_CREDENTIALS = table_of(Credential)
_LOCK_ACTIVATION = (
    select(
        _ACTIVATIONS, _CREDENTIALS.c.organisation_id.label("credential_organisation_id"),
        _CREDENTIALS.c.official_id.label("holder_id"), _CREDENTIALS.c.purpose, _CREDENTIALS.c.status,
        _CREDENTIALS.c.storage, _CREDENTIALS.c.token_uri,
    )
    .join(_CREDENTIALS, _CREDENTIALS.c.id == _ACTIVATIONS.c.credential_id)
    .where(_ACTIVATIONS.c.secret_hash == bindparam("secret_hash"))
    .with_for_update(of=_ACTIVATIONS)
)
_SPEND = (
    update(_ACTIVATIONS)
    .where(_ACTIVATIONS.c.id == bindparam("activation_id"))
    .values(hashes=bindparam("hashes_left"), signatures_left=bindparam("count_left"))
)
_SPENT = delete(_ACTIVATIONS).where(_ACTIVATIONS.c.id == bindparam("activation_id"))


def _locked_activation(session: Session, *, actor: Actor, credential_id: str, sad_hash: str) -> Row[Any]:
    """The SAD's row, locked, with what its credential's checks need, in one query of plain columns, if the
    SAD is the caller's, for this credential and unexpired."""
    found = session.connection().execute(_LOCK_ACTIVATION, {"secret_hash": sad_hash}).one_or_none()
    if (
        found is None
        or found.organisation_id != actor.organisation_id
        or found.official_id != (actor.official_id or "")
        or found.credential_id != credential_id
    ):
        raise CscRefused(Refusal.INVALID_SAD, "unknown SAD, or one issued for another credential or caller")
    if found.expires_at <= now():
        raise CscRefused(Refusal.SAD_EXPIRED, "the SAD has expired; authorise again")
    return found


_ROW = tuple(c.key for c in _ACTIVATIONS.columns)


@dataclass(frozen=True)
class SpentBatch:
    """A ``signHash`` batch checked against its SAD and spent on it, ready to sign outside any transaction.
    Holds the unsealed key (or the token's PIN) meanwhile, and the SAD's row as it was before the spending,
    so that ``refund`` can give the batch back if the key cannot sign it."""

    activation: dict[str, object] = field(repr=False)
    sad_hash: str
    credential_id: str
    algorithm: SignatureAlgorithm
    hashes: tuple[bytes, ...]
    key: PrivateKey | None = field(default=None, repr=False)
    token: tuple[pkcs11.TokenKey, str, asn1_x509.Certificate] | None = field(default=None, repr=False)
    """The token's key, the PIN to log in with, and the certificate it must match."""

    def sign(self) -> list[bytes]:
        """Each digest signed as prehashed: per hash, the private-key operation alone; a software key's
        batch in the signing process (see ``keys.signing_process``), a token's in its token."""
        if self.key is not None:
            return signing_process.sign(self.key, self.algorithm.signing, self.hashes)
        assert self.token is not None
        ref, pin, cert = self.token
        return _sign_in_token(ref, pin, cert, self.algorithm, self.hashes)


def spend(
    session: Session,
    *,
    actor: Actor,
    credential_id: str,
    sad: str,
    hashes: Sequence[bytes],
    sign_algo: str,
    sign_algo_params: bytes | None = None,
    hash_algo: str | None = None,
) -> SpentBatch:
    """Every check of ``signatures/signHash`` (CSC API v1.0.4.0 §11.9, v2.0.0.2 §11.10), then the batch spent
    on its SAD under the SAD row's lock and logged, in the caller's transaction: the algorithm, the hashes,
    the SAD (the caller's, for this credential, unexpired, covering these hashes) and the credential (still
    active). A refusal comes before anything is spent or signed.

    The signatures are made afterwards, by ``SpentBatch.sign`` outside any transaction, so no database lock
    (SQLite's is the whole database's) is held while the key works, and none of them exists before its
    spending has committed. The key is unsealed from the SAD's row at most once per SAD and process (then
    cached for its later batches); a token's PIN is unsealed for this batch alone.
    """
    if not hashes:
        raise CscRefused(Refusal.EMPTY_HASHES, "no hashes to sign")
    algorithm = resolve_algorithm(sign_algo, params=sign_algo_params, hash_algo=hash_algo)
    if any(len(h) != algorithm.digest_size for h in hashes):
        raise CscRefused(Refusal.INVALID_HASH_LENGTH, f"every hash must be a {algorithm.hash} digest")
    digest = _secret_hash(sad)
    record = _locked_activation(session, actor=actor, credential_id=credential_id, sad_hash=digest)
    left = _covered(record, hashes)
    _check_credential(record, actor=actor)
    batch = SpentBatch(
        activation={name: record._mapping[name] for name in _ROW}, sad_hash=digest, credential_id=credential_id,
        algorithm=algorithm, hashes=tuple(hashes),
    )
    if record.storage == Storage.PKCS11.value:
        assert record.wrapped_pin is not None and record.token_uri is not None
        credential = session.get(Credential, credential_id)
        assert credential is not None
        cert = certificate(session, credential)
        key_type, bits, _ = _key_type(cert)
        _check_fits(algorithm, key_type, bits)
        pin = envelope.open_bytes(record.wrapped_pin, sad.encode(), context=_context(credential_id)).decode()
        batch = replace(batch, token=(pkcs11.TokenKey.from_uri(record.token_uri), pin, to_asn1(cert)))
    else:
        key = _keys.get(digest, credential_id)
        if key is None:
            assert record.wrapped_key is not None
            key = envelope.open_key(record.wrapped_key, sad.encode(), context=_context(credential_id))
            _keys.put(digest, credential_id, key)
        _check_fits(algorithm, "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa", key.key_size)
        batch = replace(batch, key=key)
    count_left = record.signatures_left - len(hashes)
    if count_left == 0:
        session.connection().execute(_SPENT, {"activation_id": record.id})
        _keys.drop(digest)
    else:
        session.connection().execute(
            _SPEND, {"activation_id": record.id, "hashes_left": left, "count_left": count_left}
        )
    audit.append(
        session, actor=actor.label, action="credential.csc_signed", subject=f"credential:{credential_id}",
        chain=record.credential_organisation_id,
        payload={
            "activation": record.id, "signatures": len(hashes), "sign_algo": algorithm.oid,
            "hashes_sha256": hashlib.sha256(b"".join(hashes)).hexdigest(),
        },
    )
    return batch


def refund(session: Session, *, actor: Actor, batch: SpentBatch, reason: str) -> None:
    """Give a spent batch back to its SAD when it could not be signed (a token that failed or no longer takes
    the PIN, a signing process that stopped): the SAD authorises those hashes again, as if the batch had never
    been sent, and the log says why. A SAD used up by the batch is restored."""
    activation_id = str(batch.activation["id"])
    record = session.scalar(
        select(SignatureActivation).filter_by(id=activation_id).with_for_update().execution_options(populate_existing=True)
    )
    bound = batch.activation["hashes"] is not None
    if record is None:
        record = SignatureActivation(**{**batch.activation, "signatures_left": 0, "hashes": [] if bound else None})
        session.add(record)
    record.signatures_left += len(batch.hashes)
    if bound:
        record.hashes = [*(record.hashes or []), *(h.hex() for h in batch.hashes)]
    session.flush()
    audit.append(
        session, actor=actor.label, action="credential.csc_refunded", subject=f"credential:{batch.credential_id}",
        chain=actor.organisation_id,
        payload={"activation": activation_id, "signatures": len(batch.hashes), "reason": reason},
    )


def sign_hash(
    session: Session,
    *,
    actor: Actor,
    credential_id: str,
    sad: str,
    hashes: Sequence[bytes],
    sign_algo: str,
    sign_algo_params: bytes | None = None,
    hash_algo: str | None = None,
) -> list[bytes]:
    """Raw signatures of ``hashes``, in order, under one SAD (CSC API v1.0.4.0 §11.9, v2.0.0.2 §11.10
    ``signatures/signHash``): RSASSA-PKCS1-v1_5, RSASSA-PSS or ECDSA (DER ``Ecdsa-Sig-Value``), in the
    caller's one transaction, which must not release them unless it commits.

    The HTTP API instead commits ``spend`` first and runs ``SpentBatch.sign`` outside any transaction,
    giving the batch back with ``refund`` if the key fails. Either way, per batch: one token lookup (the
    caller's), one SAD row lock, at most one key unseal, one audit event; per hash, the signature alone.
    """
    return spend(
        session, actor=actor, credential_id=credential_id, sad=sad, hashes=hashes, sign_algo=sign_algo,
        sign_algo_params=sign_algo_params, hash_algo=hash_algo,
    ).sign()


class _KeyCache:
    """Keys unsealed for live SADs in this process, so a SAD's later batches skip the unseal and the parse.

    An entry is only ever used after the SAD's row has been found and checked, and it is keyed by the
    SAD's hash and the credential: it saves work, never a check.
    """

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[str, tuple[str, PrivateKey]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, sad_hash: str, credential_id: str) -> PrivateKey | None:
        with self._lock:
            item = self._items.get(sad_hash)
            if item is None or item[0] != credential_id:
                return None
            self._items.move_to_end(sad_hash)
            return item[1]

    def put(self, sad_hash: str, credential_id: str, key: PrivateKey) -> None:
        with self._lock:
            self._items[sad_hash] = (credential_id, key)
            self._items.move_to_end(sad_hash)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, sad_hash: str) -> None:
        with self._lock:
            self._items.pop(sad_hash, None)


_keys = _KeyCache()
