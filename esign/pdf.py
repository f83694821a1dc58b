"""Opening PDFs handed to the engine, with one clear error for what cannot be read."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import TypeVar

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyhankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from . import pdf_limits, pyhanko_speedups
from .errors import PdfEncrypted, PdfMalformed

pyhanko_speedups.install()

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


def _check_header(data: bytes) -> None:
    if b"%PDF-" not in data[:1024]:
        raise PdfMalformed("not a PDF: the %PDF- header is missing")


def _check_not_encrypted(reader: PdfFileReader) -> None:
    if reader.encrypted:
        raise PdfEncrypted("the PDF is encrypted; remove the encryption before signing or verifying")


def _open(data: bytes, open_with: Callable[[bool], T], reader_of: Callable[[T], PdfFileReader]) -> T:
    """Strictly first, then with pyhanko's tolerant mode for repairable damage; never a file whose declared
    structure exceeds the parsing limits (``pdf_limits``), which pyhanko would allocate as declared."""
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
        _check_not_encrypted(reader_of(opened))
        return opened
    raise PdfMalformed(f"the PDF cannot be read: {last}") from last


def read(data: bytes) -> PdfFileReader:
    return _open(data, lambda strict: PdfFileReader(io.BytesIO(data), strict=strict), lambda r: r)


def incremental_writer(data: bytes) -> IncrementalPdfFileWriter:
    """A writer appending an incremental update to ``data``; the original bytes stay a prefix."""
    return _open(data, lambda strict: IncrementalPdfFileWriter(io.BytesIO(data), strict=strict), lambda w: w.prev)
