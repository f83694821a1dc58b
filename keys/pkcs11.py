"""Keys held in PKCS#11 tokens: generated inside the token, used there, never exported.

A credential whose key lives in a token is referenced by a ``TokenKey`` (module, token label, key label),
stored as an RFC 7512 ``pkcs11:`` URI. The holder's PIN is the token's user PIN: logging in with it opens a
session, and pyhanko's ``PKCS11Signer`` asks the token to sign over that session.

PKCS#11 v2.40 §5.6: the login state belongs to the application (this process) and the token, not to one
session: a second ``C_Login`` fails with CKR_USER_ALREADY_LOGGED_IN and ``C_Logout`` on one session logs
out all the others. Sessions on one token are therefore taken one at a time within a process.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pkcs11
from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, SignMixin, TokenFlag
from pkcs11 import exceptions as p11_errors
from pkcs11.util.ec import (
    decode_ec_private_key,
    decode_ec_public_key,
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)
from pkcs11.util.rsa import decode_rsa_private_key, decode_rsa_public_key
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import PKCS11Signer, find_token

from esign.errors import Conflict, InvalidInput
from esign.signers import ReusedAttributes

from .ca import KeyKind, PrivateKey, PublicKey
from .errors import CredentialLocked, PinInvalid, TokenDeviceError
from .signing_process import DigestSigning, HashName

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Module

URI_SCHEME = "pkcs11:"
TOKEN_LABEL_BYTES = 32
"""CK_TOKEN_INFO.label is 32 bytes of UTF-8, padded with blanks (PKCS#11 v2.40 §3.2)."""

RSA_BITS = 3072
EC_CURVE = "secp256r1"
TOKEN_BUSY_SECONDS = 30.0
"""How long ``open_signer`` waits for another session of this process on the same token to end."""

# RFC 7512 §2.3: characters left unescaped in path values (pk11-pchar) and in query values (pk11-qchar),
# besides the unreserved ones that ``quote`` never escapes.
_PATH_SAFE = ":[]@!$'()*+,=&"
_QUERY_SAFE = "/?|:[]@!$'()*+,="
_PATH_ATTRIBUTES = frozenset({"token", "object", "type", "id"})
_QUERY_ATTRIBUTES = frozenset({"module-path"})
_HASHES = {"sha256": Mechanism.SHA256, "sha384": Mechanism.SHA384, "sha512": Mechanism.SHA512}
_MGFS = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}


class TokenPinRejected(PinInvalid):
    """The token refused the user PIN (CKR_PIN_INCORRECT, or a PIN of a length or form it never accepts).

    ``tries_left`` is 1 when the token says the next wrong PIN locks it (CKF_USER_PIN_FINAL_TRY) and -1
    when it does not tell: the token keeps its own count, which PKCS#11 does not expose.
    """


class TokenPinLocked(CredentialLocked):
    """The token refused the user PIN and locked itself with that refusal: a wrong PIN like
    :class:`TokenPinRejected` (counted and audited by the caller), the last one the token takes."""


@dataclass(frozen=True)
class TokenKey:
    """Where a private key lives: which module, which token (by label), which key (by label)."""

    module: Path
    token_label: str
    key_label: str

    def __post_init__(self) -> None:
        size = len(self.token_label.encode("utf-8"))
        if not 0 < size <= TOKEN_LABEL_BYTES or self.token_label != self.token_label.rstrip(" "):
            raise InvalidInput(
                f"a token label is 1 to {TOKEN_LABEL_BYTES} bytes of UTF-8 without trailing blanks: "
                f"{self.token_label!r}"
            )
        if not self.key_label:
            raise InvalidInput("a token key needs a label")

    @property
    def key_id(self) -> bytes:
        """CKA_ID of the key pair: derived from its label, so the label alone finds both halves."""
        return hashlib.sha256(self.key_label.encode("utf-8")).digest()[:20]

    def to_uri(self) -> str:
        """``pkcs11:token=…;object=…;type=private;id=…?module-path=…`` (RFC 7512)."""
        key_id = "".join(f"%{b:02X}" for b in self.key_id)
        return (
            f"{URI_SCHEME}token={quote(self.token_label, safe=_PATH_SAFE)}"
            f";object={quote(self.key_label, safe=_PATH_SAFE)};type=private;id={key_id}"
            f"?module-path={quote(str(self.module), safe=_QUERY_SAFE)}"
        )

    @classmethod
    def from_uri(cls, uri: str, *, default_module: Path | None = None) -> TokenKey:
        """Read a ``pkcs11:`` URI naming a private key; ``default_module`` serves when it has no module-path.

        Attributes this reference cannot honour (slot ids, serial numbers, PIN sources, vendor extensions)
        are refused rather than ignored: ignoring one could pick another key than the URI's author meant.
        """
        if not uri.startswith(URI_SCHEME):
            raise InvalidInput(f"not a PKCS#11 URI: {uri!r}")
        path, _, query = uri[len(URI_SCHEME) :].partition("?")
        attributes = _uri_attributes(path, ";", _PATH_ATTRIBUTES, uri)
        options = _uri_attributes(query, "&", _QUERY_ATTRIBUTES, uri)
        if attributes.get("type", "private") != "private":
            raise InvalidInput(f"the URI does not name a private key: {uri!r}")
        if "token" not in attributes or "object" not in attributes:
            raise InvalidInput(f"the URI needs both a token and an object label: {uri!r}")
        module = Path(options["module-path"]) if "module-path" in options else default_module
        if module is None:
            raise InvalidInput(f"the URI names no module-path and no default PKCS#11 module is set: {uri!r}")
        ref = cls(module=module, token_label=attributes["token"], key_label=attributes["object"])
        if "id" in attributes and attributes["id"].encode("latin-1") != ref.key_id:
            raise InvalidInput(f"the URI's id does not belong to its object label: {uri!r}")
        return ref


def _uri_attributes(part: str, separator: str, known: frozenset[str], uri: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in filter(None, part.split(separator)):
        name, equals, value = item.partition("=")
        if not equals or name not in known:
            raise InvalidInput(f"unsupported PKCS#11 URI attribute {name!r} in {uri!r}")
        if name in found:
            raise InvalidInput(f"PKCS#11 URI attribute {name!r} appears twice in {uri!r}")
        # id is binary: read the escapes as bytes, one character each.
        found[name] = unquote(value, encoding="latin-1" if name == "id" else "utf-8", errors="strict")
    return found


_module_lock = threading.Lock()
_token_locks: dict[tuple[Path, str], threading.Lock] = {}


@functools.cache
def _loaded_module(path: Path) -> Module:
    return pkcs11.lib(str(path))


def _module(path: Path) -> Module:
    """The module, loaded and initialised (C_Initialize) once per process.

    The module reads its configuration when initialised, so SoftHSM2's ``SOFTHSM2_CONF`` must be set by
    then; SoftHSM2 also lists its tokens only then, so a token initialised later by another process is not
    seen until this process restarts.
    """
    with _module_lock:
        try:
            return _loaded_module(path)
        except p11_errors.PKCS11Error as e:
            raise TokenDeviceError(f"cannot load the PKCS#11 module {path}: {e}") from e


def _token_lock(ref: TokenKey) -> threading.Lock:
    with _module_lock:
        return _token_locks.setdefault((ref.module, ref.token_label), threading.Lock())


def _where(ref: TokenKey) -> str:
    return f"token {ref.token_label!r} of PKCS#11 module {ref.module}"


@contextmanager
def _device_errors(ref: TokenKey) -> Iterator[None]:
    try:
        yield
    except p11_errors.PKCS11Error as e:
        raise TokenDeviceError(f"{_where(ref)}: [{type(e).__name__}] {e}") from e


@contextmanager
def _session(ref: TokenKey, *, user_pin: str, rw: bool = False) -> Iterator[pkcs11.Session]:
    """A session logged in with the user PIN, alone on its token within this process, closed on exit."""
    lock = _token_lock(ref)
    if not lock.acquire(timeout=TOKEN_BUSY_SECONDS):
        raise Conflict(f"{_where(ref)} is still busy with another signing session")
    try:
        lib = _module(ref.module)
        with _device_errors(ref):
            token = find_token(lib.get_slots(token_present=True), token_criteria=TokenCriteria(label=ref.token_label))
            if token is None:
                raise TokenDeviceError(f"no {_where(ref)} is present")
            session = _login(ref, token, user_pin=user_pin, rw=rw)
            try:
                yield session
            finally:
                session.close()
    finally:
        lock.release()


def _login(ref: TokenKey, token: pkcs11.Token, *, user_pin: str, rw: bool) -> pkcs11.Session:
    try:
        return token.open(rw=rw, user_pin=user_pin)
    except p11_errors.PinLocked as e:
        raise CredentialLocked(f"the user PIN of {_where(ref)} is locked") from e
    except (p11_errors.PinIncorrect, p11_errors.PinInvalid, p11_errors.PinLenRange) as e:
        flags = token.slot.get_token().flags
        if flags & TokenFlag.USER_PIN_LOCKED:
            raise TokenPinLocked(f"the user PIN of {_where(ref)} is now locked") from e
        tries_left = 1 if flags & TokenFlag.USER_PIN_FINAL_TRY else -1
        raise TokenPinRejected(f"{_where(ref)} rejected the PIN", tries_left=tries_left) from e


def _objects(session: pkcs11.Session, ref: TokenKey, object_class: ObjectClass) -> list[pkcs11.Object]:
    return list(
        session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: ref.key_label, Attribute.ID: ref.key_id})
    )


def _refuse_taken(session: pkcs11.Session, ref: TokenKey) -> None:
    """A new key pair goes under a label no key of the token has yet: the label alone finds a key later."""
    if _objects(session, ref, ObjectClass.PRIVATE_KEY) or _objects(session, ref, ObjectClass.PUBLIC_KEY):
        raise Conflict(f"{_where(ref)} already holds a key labelled {ref.key_label!r}")


def _public_key(key: pkcs11.PublicKey) -> PublicKey:
    key_type = key[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(key[Attribute.MODULUS], "big")
        exponent = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    if key_type == KeyType.EC:
        loaded = serialization.load_der_public_key(encode_ec_public_key(key))
        if isinstance(loaded, ec.EllipticCurvePublicKey):
            return loaded
    raise TokenDeviceError(f"the public key {key.label!r} is neither RSA nor EC ({key_type!r})")


def generate_key(ref: TokenKey, *, user_pin: str, kind: KeyKind = "ec") -> PublicKey:
    """Generate a signing key pair inside the token; return its public half for the CA to certify.

    The private key is CKA_SENSITIVE and not CKA_EXTRACTABLE, so the token never reveals it, in clear or
    wrapped (PKCS#11 v2.40 §4.9: neither attribute can be turned back once set). It can sign and do nothing
    else.
    """
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
    }
    capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
    with _session(ref, user_pin=user_pin, rw=True) as session, _device_errors(ref):
        _refuse_taken(session, ref)
        if kind == "rsa":
            public, _ = session.generate_keypair(
                KeyType.RSA,
                RSA_BITS,
                id=ref.key_id,
                label=ref.key_label,
                store=True,
                capabilities=capabilities,
                public_template={Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                private_template=private_template,
            )
        else:
            parameters = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(EC_CURVE)}, local=True
            )
            public, _ = parameters.generate_keypair(
                id=ref.key_id,
                label=ref.key_label,
                store=True,
                capabilities=capabilities,
                private_template=private_template,
            )
        return _public_key(public)


def import_key(ref: TokenKey, *, user_pin: str, key: PrivateKey) -> PublicKey:
    """Put a software key pair into the token as :func:`generate_key` would have made it: the private key
    sensitive, not extractable, able to sign and nothing else. What the key was before (its copies elsewhere)
    the token cannot undo."""
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    if isinstance(key, rsa.RSAPrivateKey):
        private = decode_rsa_private_key(der, capabilities=MechanismFlag.SIGN)
        pkcs1 = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        public = decode_rsa_public_key(pkcs1, capabilities=MechanismFlag.VERIFY)
    else:
        private = {**decode_ec_private_key(der), Attribute.SIGN: True}
        public = {**decode_ec_public_key(_spki(key.public_key())), Attribute.VERIFY: True}
    named = {Attribute.TOKEN: True, Attribute.LABEL: ref.key_label, Attribute.ID: ref.key_id}
    with _session(ref, user_pin=user_pin, rw=True) as session, _device_errors(ref):
        _refuse_taken(session, ref)
        session.create_object(
            {
                **private,
                **named,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.DECRYPT: False,
                Attribute.UNWRAP: False,
            }
        )
        session.create_object({**public, **named})
    return key.public_key()


@contextmanager
def open_signer(
    ref: TokenKey,
    *,
    user_pin: str,
    cert: asn1_x509.Certificate,
    chain: Sequence[asn1_x509.Certificate] = (),
) -> Iterator[PKCS11Signer]:
    """A pyhanko signer over a session logged in with ``user_pin``: every signature made in the block pays
    the login once. The session is closed (and the token logged out) on exit.

    EC keys sign with raw CKM_ECDSA over a digest computed here: every EC token implements it, while the
    hash-and-sign CKM_ECDSA_SHA* mechanisms are optional (SoftHSM2 2.6 has none). RSA keys use
    CKM_SHA256_RSA_PKCS and its siblings.
    """
    with _session(ref, user_pin=user_pin) as session, _device_errors(ref):
        found = len(_objects(session, ref, ObjectClass.PRIVATE_KEY))
        if found != 1:
            raise TokenDeviceError(f"{_where(ref)} holds {found} private keys labelled {ref.key_label!r}, not one")
        publics = [k for k in _objects(session, ref, ObjectClass.PUBLIC_KEY) if isinstance(k, pkcs11.PublicKey)]
        if publics and _spki(_public_key(publics[0])) != cert.public_key.dump():
            raise InvalidInput(f"the certificate does not certify the key {ref.key_label!r} in {_where(ref)}")
        yield _PKCS11Signer(
            session,
            key_label=ref.key_label,
            key_id=ref.key_id,
            signing_cert=cert,
            ca_chain=list(chain),
            use_raw_mechanism=cert.public_key.algorithm == "ec",
        )


class _PKCS11Signer(ReusedAttributes, PKCS11Signer):
    pass


def sign_digests(
    ref: TokenKey, *, user_pin: str, cert: asn1_x509.Certificate, how: DigestSigning, digests: Sequence[bytes]
) -> list[bytes]:
    """Each digest signed as prehashed in the token, logged in once for the batch, with a raw mechanism
    (CKM_ECDSA, CKM_RSA_PKCS over DigestInfo, CKM_RSA_PKCS_PSS with MGF1 over the same hash), which any
    token implements for prehashed data. ECDSA signatures come back DER-encoded (``Ecdsa-Sig-Value``).
    ``TokenPinRejected`` when the token no longer takes ``user_pin``."""
    with open_signer(ref, user_pin=user_pin, cert=cert) as signer, _device_errors(ref):
        return _sign_prehashed(signer.pkcs11_session, ref, how, digests)


def sign_with(ref: TokenKey, *, user_pin: str, how: DigestSigning, digests: Sequence[bytes]) -> list[bytes]:
    """:func:`sign_digests` for a key whose certificate is checked by its caller (the CA's own,
    ``keys.ca_token``): each call logs in once."""
    with _session(ref, user_pin=user_pin) as session, _device_errors(ref):
        return _sign_prehashed(session, ref, how, digests)


def public_key_of(ref: TokenKey, *, user_pin: str) -> PublicKey | None:
    """The public half of the token's one key pair labelled as ``ref`` says; None when it holds no such key."""
    with _session(ref, user_pin=user_pin) as session, _device_errors(ref):
        privates = _objects(session, ref, ObjectClass.PRIVATE_KEY)
        publics = [k for k in _objects(session, ref, ObjectClass.PUBLIC_KEY) if isinstance(k, pkcs11.PublicKey)]
        if not privates and not publics:
            return None
        if len(privates) != 1 or len(publics) != 1:
            raise TokenDeviceError(
                f"{_where(ref)} holds {len(privates)} private and {len(publics)} public keys labelled "
                f"{ref.key_label!r}, not one pair"
            )
        return _public_key(publics[0])


def _sign_prehashed(
    session: pkcs11.Session, ref: TokenKey, how: DigestSigning, digests: Sequence[bytes]
) -> list[bytes]:
    keys = [k for k in _objects(session, ref, ObjectClass.PRIVATE_KEY) if isinstance(k, SignMixin)]
    if len(keys) != 1:
        raise TokenDeviceError(f"{_where(ref)} holds {len(keys)} signing keys labelled {ref.key_label!r}, not one")
    [key] = keys
    if how.scheme == "ecdsa":
        return [encode_ecdsa_signature(key.sign(d, mechanism=Mechanism.ECDSA)) for d in digests]
    if how.scheme == "pss":
        param = (_HASHES[how.hash], _MGFS[how.hash], how.salt_length)
        return [key.sign(d, mechanism=Mechanism.RSA_PKCS_PSS, mechanism_param=param) for d in digests]
    return [key.sign(_digest_info(how.hash, d), mechanism=Mechanism.RSA_PKCS) for d in digests]


def _digest_info(hash_name: HashName, digest: bytes) -> bytes:
    """RFC 8017 §9.2 DigestInfo: what RSASSA-PKCS1-v1_5 pads, for a token's raw CKM_RSA_PKCS."""
    info: bytes = algos.DigestInfo({"digest_algorithm": {"algorithm": hash_name}, "digest": digest}).dump()
    return info


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
