"""A verification report handed to the browser so that it can ask for the PDF report later, without the server
keeping the upload or verifying it a second time.

The page carries the report (compressed JSON) with an HMAC-SHA256 tag; the report button posts it back and
the server renders the PDF from it once the tag checks. The tag is what stops a forged "valid" report from
coming out of esign under its name. Its key is derived (HKDF) from the server secret, so that every process of
a deployment accepts what another one sealed; before ``esign init`` there is no secret and each process uses a
random key of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import zlib
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import ValidationError

from esign.errors import InvalidInput
from esign.report import VerificationReport
from esign.settings import Settings
from keys import authorities
from keys.errors import PkiNotInitialised

MAX_TOKEN = 512 * 1024
"""Characters: far beyond any real report, and a bound on what a posted token costs to check."""


@cache
def _process_key(purpose: str) -> bytes:
    return secrets.token_bytes(32)


def derive_key(settings: Settings, purpose: str) -> bytes:
    """A key for one ``purpose`` of the pages, derived (HKDF) from the server secret, so that every process of
    the deployment shares it; before the PKI exists, a random one for this process."""
    try:
        secret = authorities.passphrase(settings)
    except PkiNotInitialised:
        return _process_key(purpose)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"esign/{purpose}/v1".encode()).derive(secret)


def key(settings: Settings) -> bytes:
    return derive_key(settings, "web-report")


def _tag(key: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode("ascii")


def seal(report: VerificationReport, key: bytes) -> str:
    payload = base64.urlsafe_b64encode(zlib.compress(report.model_dump_json().encode(), 6))
    return f"v1.{payload.decode('ascii')}.{_tag(key, payload)}"


def unseal(token: str, key: bytes) -> VerificationReport:
    """The report a page was given; ``InvalidInput`` for anything esign did not seal."""
    version, _, rest = token.partition(".")
    payload, _, tag = rest.partition(".")
    if version != "v1" or len(token) > MAX_TOKEN or not hmac.compare_digest(tag, _tag(key, payload.encode())):
        raise InvalidInput("this report was not issued by this service")
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.urlsafe_b64decode(payload), 16 * MAX_TOKEN)
        return VerificationReport.model_validate_json(data)
    except (ValueError, zlib.error, ValidationError):
        raise InvalidInput("this report was not issued by this service") from None
