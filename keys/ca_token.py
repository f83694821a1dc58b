"""The root and issuing CA keys in a PKCS#11 token (an HSM): generated there, signing there, never exported.

With ``ESIGN_CA_TOKEN`` set, ``esign init`` generates both CA keys in that token (sensitive, not extractable,
``keys.pkcs11.generate_key``) and the database keeps only their ``pkcs11:`` URIs beside the certificates. Every
certificate and CRL the CAs sign is then signed in the token (``keys.ca.signed``); a host that can reach the
token and knows its PIN can sign with the keys but can never copy them, and revoking that host's access (the
HSM's client certificate, its PIN) ends it. The time-stamping unit, the OCSP responder and the registry keep
software keys under the CA passphrase: they sign on every request, and their certificates are short-lived and
revocable by the CA.

A wrong or missing PIN, or a token that is not there, is the deployment's fault, not a request's:
``PkiNotInitialised`` (503) naming the setting to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from esign.errors import Conflict
from esign.settings import Settings

from . import pkcs11
from .ca import KeyKind, PrivateKey, PublicKey
from .errors import CredentialLocked, PinInvalid, PkiNotInitialised
from .pkcs11 import TokenKey
from .signing_process import DigestSigning

KEY_LABELS = {"root": "esign root CA", "issuing": "esign issuing CA"}
"""The labels of the CA keys in the token, by authority."""


@dataclass(frozen=True)
class TokenCaKey:
    """A CA key in a token, as ``keys.ca.HeldKey``: each signature logs in to the token once."""

    ref: TokenKey
    public: PublicKey
    user_pin: str = field(repr=False)

    def public_key(self) -> PublicKey:
        return self.public

    def sign_sha256(self, digest: bytes) -> bytes:
        how = DigestSigning(scheme="pkcs1v15" if isinstance(self.public, rsa.RSAPublicKey) else "ecdsa", hash="sha256")
        with _configured(self.ref):
            [signature] = pkcs11.sign_with(self.ref, user_pin=self.user_pin, how=how, digests=[digest])
        return signature


def in_use(settings: Settings) -> bool:
    return settings.ca_token is not None


def generate(settings: Settings, authority: str, *, kind: KeyKind) -> TokenCaKey:
    """A new key pair for ``authority`` (``root`` or ``issuing``) in the CA token."""
    ref, pin = _reference(settings, KEY_LABELS[authority])
    with _configured(ref):
        public = pkcs11.generate_key(ref, user_pin=pin, kind=kind)
    return TokenCaKey(ref=ref, public=public, user_pin=pin)


def moved(settings: Settings, authority: str, key: PrivateKey) -> TokenCaKey:
    """``key``, the CA key of ``authority`` (``root`` or ``issuing``) so far kept in the database, put into the CA
    token. A token already holding that very key (a move whose database commit failed) is used as it is."""
    ref, pin = _reference(settings, KEY_LABELS[authority])
    with _configured(ref):
        public = pkcs11.public_key_of(ref, user_pin=pin) or pkcs11.import_key(ref, user_pin=pin, key=key)
    if public != key.public_key():
        raise Conflict(f"token {ref.token_label!r} already holds another key labelled {ref.key_label!r}")
    return TokenCaKey(ref=ref, public=public, user_pin=pin)


def opened(settings: Settings, uri: str, cert: x509.Certificate) -> TokenCaKey:
    """The key a stored ``pkcs11:`` URI names, checked to be there and to be the one ``cert`` certifies."""
    stored = TokenKey.from_uri(uri, default_module=settings.pkcs11_module)
    ref, pin = _reference(settings, stored.key_label)
    if ref != stored:
        raise PkiNotInitialised(
            f"the CA key {stored.key_label!r} is in token {stored.token_label!r} of {stored.module}, "
            f"but ESIGN_CA_TOKEN and ESIGN_PKCS11_MODULE name token {ref.token_label!r} of {ref.module}"
        )
    with _configured(ref):
        public = pkcs11.public_key_of(ref, user_pin=pin)
    if public is None:
        raise PkiNotInitialised(f"token {ref.token_label!r} holds no key labelled {ref.key_label!r}")
    if public != cert.public_key():
        raise PkiNotInitialised(f"the key {ref.key_label!r} in token {ref.token_label!r} is not the one certified")
    return TokenCaKey(ref=ref, public=public, user_pin=pin)


def _reference(settings: Settings, label: str) -> tuple[TokenKey, str]:
    if settings.ca_token is None or settings.pkcs11_module is None or settings.ca_token_pin is None:
        raise PkiNotInitialised(
            "the CA keys are in a PKCS#11 token: set ESIGN_CA_TOKEN, ESIGN_CA_TOKEN_PIN and ESIGN_PKCS11_MODULE"
        )
    ref = TokenKey(module=settings.pkcs11_module, token_label=settings.ca_token, key_label=label)
    return ref, settings.ca_token_pin.get_secret_value()


@contextmanager
def _configured(ref: TokenKey) -> Iterator[None]:
    """The token's PIN refusals as the deployment's misconfiguration, not a signer's wrong PIN."""
    try:
        yield
    except (PinInvalid, CredentialLocked) as e:
        raise PkiNotInitialised(
            f"the CA token {ref.token_label!r} refused ESIGN_CA_TOKEN_PIN ({type(e).__name__}: {e})"
        ) from e
