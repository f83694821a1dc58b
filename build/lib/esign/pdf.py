"""Opening PDFs handed to the engine, with one clear error for what cannot be read."""

from __future__ import annotations

import io
import struct
import zlib

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyhankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from . import pyhanko_speedups
from .errors import PdfEncrypted, PdfMalformed

pyhanko_speedups.install()

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


def _check_header(data: bytes) -> None:
    if b"%PDF-" not in data[:1024]:
        raise PdfMalformed("not a PDF: the %PDF- header is missing")


def _check_not_encrypted(reader: PdfFileReader) -> None:
    if reader.encrypted:
        raise PdfEncrypted("the PDF is encrypted; remove the encryption before signing or verifying")


def read(data: bytes) -> PdfFileReader:
    """Parse ``data`` strictly, falling back to pyhanko's tolerant mode for repairable damage."""
    _check_header(data)
    last: BaseException | None = None
    for strict in (True, False):
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=strict)
            reader.root  # noqa: B018 - forces the trailer and catalogue to resolve
        except PARSE_ERRORS as e:
            last = e
            continue
        _check_not_encrypted(reader)
        return reader
    raise PdfMalformed(f"the PDF cannot be read: {last}") from last


def incremental_writer(data: bytes) -> IncrementalPdfFileWriter:
    """A writer appending an incremental update to ``data``; the original bytes stay a prefix."""
    _check_header(data)
    last: BaseException | None = None
    for strict in (True, False):
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=strict)
            writer.root  # noqa: B018
        except PARSE_ERRORS as e:
            last = e
            continue
        _check_not_encrypted(writer.prev)
        return writer
    raise PdfMalformed(f"the PDF cannot be read: {last}") from last
