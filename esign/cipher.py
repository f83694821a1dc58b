"""Secrets kept to be shown or used again, encrypted at rest under a key derived from the server secret."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import SecretUnreadable


@dataclass(frozen=True)
class SecretCipher:
    """Encrypts secrets at rest (webhook signing secrets, idempotent answers that show a token once):
    AES-256-GCM under a key derived with HKDF-SHA256 (RFC 5869) from a server secret, with the record's
    identity as associated data (``context``), so a ciphertext copied to another row does not open. The
    webhook worker must decrypt to sign, so a one-way hash would not do.

    The HKDF ``info`` still names webhook secrets, where the cipher began: changing it would make every
    stored secret unreadable."""

    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, server_secret: bytes) -> SecretCipher:
        if not server_secret:
            raise ValueError("the server secret is empty")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"esign/webhook-secrets/v1")
        return cls(hkdf.derive(server_secret))

    def encrypt(self, secret: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), context.encode())
        return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, *, context: str) -> str:
        version, _, encoded = token.partition(":")
        if version != "v1":
            raise SecretUnreadable(f"unknown secret format {version!r}")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            return AESGCM(self.key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise SecretUnreadable("a stored secret does not decrypt: has the server secret changed?") from None
