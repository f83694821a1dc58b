"""Errors of the kernel and the signature engine.

Each carries a stable ``code`` that clients can rely on; ``api/`` maps the classes to HTTP statuses.
"""

from __future__ import annotations


class EsignError(Exception):
    code = "esign_error"
    keeps_changes = False
    """True when what the failed operation wrote must still be committed (a counted wrong PIN, a lock):
    ``Database.transaction`` commits before letting such an error through."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def details(self) -> dict[str, object]:
        """Machine-readable facts a client may act on, beside code and message."""
        return {}


class NotFound(EsignError):
    """Unknown id, or one that belongs to another organisation: the caller cannot tell the two apart."""

    code = "not_found"


class Conflict(EsignError):
    """The record is not in a state that allows this (numbered twice, disabled, already decided)."""

    code = "conflict"


class InvalidInput(EsignError):
    code = "invalid_request"


class Unauthenticated(EsignError):
    code = "unauthorized"


class Forbidden(EsignError):
    code = "forbidden"


class PdfError(EsignError):
    code = "pdf_invalid"


class PdfMalformed(PdfError):
    code = "pdf_malformed"


class PdfEncrypted(PdfError):
    code = "pdf_encrypted"


class TooLarge(EsignError):
    code = "too_large"


class KeyMaterialError(EsignError):
    """Key or certificate files that cannot be read (wrong password, wrong format)."""

    code = "key_material_invalid"


class SigningError(EsignError):
    code = "signing_failed"


class AppearanceError(SigningError):
    code = "appearance_failed"


class TrustError(EsignError):
    """Trust anchors that cannot be read."""

    code = "trust_anchor_invalid"


class SecretUnreadable(EsignError):
    """A stored secret does not decrypt: the server secret it was encrypted under has changed."""

    code = "secret_unreadable"


class BlobNotFound(EsignError):
    code = "blob_not_found"


class BlobCorrupted(EsignError):
    code = "blob_corrupted"


class BlobStoreUnavailable(EsignError):
    """The object store cannot be reached, refuses the credentials or lacks the bucket: nothing was stored or read."""

    code = "blob_store_unavailable"


class PdfTooComplex(PdfError):
    """A PDF refused before or while parsing because it exceeds a hard limit of the parsing budget.

    ``limit`` names the limit hit (``objects``, ``xref_width``, ``xref_chain``, ``time``, ``memory``...), so
    a client can tell a declared structure that cannot fit the file from a parse that ran out of budget.
    """

    code = "pdf_too_complex"

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.limit, self.message))

    @property
    def details(self) -> dict[str, object]:
        return {"limit": self.limit}


class RangeNotSatisfiable(EsignError):
    """A ``Range`` that starts past the end of what is served (RFC 9110 §15.5.17)."""

    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"the requested range is outside the {size} bytes of the file")
        self.size = size


class Busy(EsignError):
    """Every parsing worker is taken and the queue in front of them is full: try again later."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def details(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}
