"""Opening PDFs handed to the engine, with one clear error for what cannot be read.

Encryption (ISO 32000-1 §7.6) is two different things to a clerk. A file whose user password is empty opens for
anyone: an owner password only restricts what a viewer lets its reader do (print, copy, edit), and such a file is
verified as it is (``read``). A file with a user password cannot be opened without it and is refused. Either way
the advice is never to remove the encryption from a signed file: that rewrites the bytes its signatures cover.
Signing (``incremental_writer``) still takes unencrypted files only.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.crypt.api import PdfMacStatus
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyhankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from . import pdf_limits, pyhanko_lazy, pyhanko_speedups
from .errors import PdfEncrypted, PdfMalformed

pyhanko_speedups.install()
pyhanko_lazy.install()

T = TypeVar("T")

# What a damaged file can make pyhanko's parser raise; all of it means "cannot be read", never a crash.
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    PyhankoPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    OverflowError,
    struct.error,
    zlib.error,
)


Source = bytes | BinaryIO
"""A PDF as bytes, or as a seekable binary stream (a file on disk) that pyhanko reads and copies in chunks."""


def stream_of(data: Source) -> BinaryIO:
    return io.BytesIO(data) if isinstance(data, bytes) else data


def _check_header(data: Source) -> None:
    if isinstance(data, bytes):
        head = data[:1024]
    else:
        data.seek(0)
        head = data.read(1024)
    if b"%PDF-" not in head:
        raise PdfMalformed("not a PDF: the %PDF- header is missing")


_ASK_FOR_A_COPY = (
    "Ask the sender for a copy that opens without a password (an owner password that only restricts printing "
    "or editing is fine). Do not remove the encryption from a signed file yourself: that rewrites the bytes its "
    "signatures cover."
)
NEEDS_PASSWORD = (
    "the PDF needs a password to open (it has a user password), so its signatures cannot be checked. " + _ASK_FOR_A_COPY
)
NEEDS_CERTIFICATE = (
    "the PDF is encrypted for the certificates of particular recipients and opens only with one of their keys, "
    "so its signatures cannot be checked. " + _ASK_FOR_A_COPY
)
NOT_SIGNABLE = (
    "the PDF is encrypted, and esign signs only unencrypted PDFs: ask for the document without encryption. "
    "A file that is already signed cannot lose its encryption without breaking those signatures; it can still "
    "be verified if it opens without a password."
)


def _open_with_empty_password(reader: PdfFileReader) -> None:
    """Authenticate with the empty user password (ISO 32000-1 §7.6.3.4, Algorithm 6), as every viewer does
    before it asks for one; ``PdfEncrypted`` when that does not open the file."""
    if not reader.encrypted:
        return
    try:
        handler = reader.security_handler
        if not isinstance(handler, StandardSecurityHandler):
            raise PdfEncrypted(NEEDS_CERTIFICATE)
        result = reader.decrypt(b"")
    except PARSE_ERRORS as e:
        raise PdfEncrypted(f"the PDF is encrypted in a way esign cannot open ({e}). {_ASK_FOR_A_COPY}") from e
    if result.mac_status is PdfMacStatus.FAILED:
        raise PdfMalformed(
            f"the encrypted PDF fails its integrity check (ISO/TS 32004 MAC: {result.mac_failure_reason}): "
            "it was altered after it was encrypted"
        )
    if result.status is AuthStatus.FAILED:
        raise PdfEncrypted(NEEDS_PASSWORD)


def _refuse_encrypted(reader: PdfFileReader) -> None:
    if reader.encrypted:
        raise PdfEncrypted(NOT_SIGNABLE)


def _open(
    data: Source,
    open_with: Callable[[bool], T],
    reader_of: Callable[[T], PdfFileReader],
    encryption: Callable[[PdfFileReader], None],
) -> T:
    """Strictly first, then with pyhanko's tolerant mode for repairable damage; never a file whose declared
    structure exceeds the parsing limits (``pdf_limits``), which pyhanko would allocate as declared.
    ``encryption`` opens an encrypted file or refuses it."""
    _check_header(data)
    pdf_limits.check(data, pdf_limits.configured().structure)
    last: BaseException | None = None
    for strict in (True, False):
        try:
            opened = open_with(strict)
            reader_of(opened).root  # noqa: B018 - forces the trailer and catalogue to resolve
        except PARSE_ERRORS as e:
            last = e
            continue
        encryption(reader_of(opened))
        return opened
    raise PdfMalformed(f"the PDF cannot be read: {last}") from last


def read(data: Source) -> PdfFileReader:
    """A reader of ``data``, decrypted when it opens without a password (``reader.encrypted`` says it was)."""
    return _open(
        data, lambda strict: PdfFileReader(stream_of(data), strict=strict), lambda r: r, _open_with_empty_password
    )


class _ValidationDataWriter(IncrementalPdfFileWriter):
    """Leaves the document's metadata as it is: pyhanko otherwise re-parses and rewrites the XMP stream, to
    move ModDate, in every update."""

    def _update_meta(self) -> None:
        return None


def incremental_writer(data: Source, *, validation_data: bool = False) -> IncrementalPdfFileWriter:
    """A writer appending an incremental update to ``data``; the original bytes stay a prefix.

    ``validation_data``: the update only adds validation material (DSS entries, document time-stamps), which
    modifies nothing a reader sees, so the metadata's ModDate stays that of the last real change; the Info
    dictionary and the XMP stream stay consistent (ISO 19005-2 §6.6.2.3 for PDF/A) because neither moves.
    """
    kind = _ValidationDataWriter if validation_data else IncrementalPdfFileWriter
    return _open(
        data,
        lambda strict: kind(stream_of(data), strict=strict),
        lambda w: w.prev,
        _refuse_encrypted,
    )
