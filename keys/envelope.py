"""Private keys encrypted at rest under a secret: a PIN, a passphrase, or a signing session's key.

The secret goes through scrypt (RFC 7914) into an AES-256-GCM key; the PKCS#8 DER of the private key is
the plaintext and ``context`` (e.g. the credential's id) the associated data, so an envelope moved to
another record does not open. The envelope records its KDF parameters, so they can be raised later
without re-encrypting old keys at once.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .ca import PrivateKey


class WrongSecret(Exception):
    """The secret does not open the envelope (or the envelope was tampered with)."""


@dataclass(frozen=True)
class KdfParams:
    n: int = 2**15
    r: int = 8
    p: int = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _key(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    return Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p).derive(secret)


def seal_bytes(plaintext: bytes, secret: bytes, *, context: bytes, params: KdfParams = KdfParams()) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_key(secret, salt, params)).encrypt(nonce, plaintext, context)
    envelope = {
        "v": 1,
        "kdf": "scrypt",
        "n": params.n,
        "r": params.r,
        "p": params.p,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "ct": _b64(ciphertext),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def open_bytes(envelope: bytes, secret: bytes, *, context: bytes) -> bytes:
    fields = json.loads(envelope)
    params = KdfParams(n=fields["n"], r=fields["r"], p=fields["p"])
    key = _key(secret, base64.b64decode(fields["salt"]), params)
    try:
        return AESGCM(key).decrypt(base64.b64decode(fields["nonce"]), base64.b64decode(fields["ct"]), context)
    except InvalidTag:
        raise WrongSecret from None


def seal_key(key: PrivateKey, secret: bytes, *, context: bytes, params: KdfParams = KdfParams()) -> bytes:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return seal_bytes(der, secret, context=context, params=params)


def open_key(envelope: bytes, secret: bytes, *, context: bytes) -> PrivateKey:
    der = open_bytes(envelope, secret, context=context)
    # The AEAD tag already proves these are the bytes we sealed, so OpenSSL's slow RSA consistency check
    # (tens of milliseconds) adds nothing.
    key = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    return key  # type: ignore[return-value]
