"""Large stream payloads of a PDF read from a file left in the file until their bytes are asked for.

pyhanko reads a stream object's payload together with its dictionary. Verifying a signed document maps every
reference of the signed revision (pyhanko's difference analysis, ``_load_reverse_xref_cache``), so it reads
every object, images included: a 100 MB scan was read into the parsing worker whole although only
dictionaries were looked at. A payload above :data:`LAZY_ABOVE` bytes, of a PDF read from a file (not from
memory, where it is held anyway), is now skipped over when the object is read, its ``endstream`` checked as
before, and read from the file each time its bytes are used (``StreamObject._encoded_data``): decoding
keeps the decoded data as before; the encoded bytes are not kept, so a payload nothing decodes is never
held at all. A revision's view of the document (``HistoricalResolver``) copies the stream with its payload
still deferred.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError, read_non_whitespace, skip_over_whitespace
from pyhanko.pdf_utils.reader import HistoricalResolver

LAZY_ABOVE = 1024 * 1024
_STORED = "_esign_encoded_data"


class Deferred(bytes):
    """Stands (as empty bytes, never None) for ``length`` bytes at ``offset`` of ``source``."""

    source: BinaryIO
    offset: int
    length: int

    def load(self) -> bytes:
        at = self.source.tell()
        try:
            self.source.seek(self.offset)
            data = self.source.read(self.length)
        finally:
            self.source.seek(at)
        if len(data) != self.length:
            raise PdfReadError(f"the stream at byte {self.offset} ends before its /Length of {self.length}")
        return data


def _deferred(source: BinaryIO, offset: int, length: int) -> Deferred:
    payload = Deferred()
    payload.source, payload.offset, payload.length = source, offset, length
    return payload


_original_payload = generic._maybe_read_stream_payload  # noqa: SLF001


def maybe_read_stream_payload(stream: BinaryIO, data: generic.DictionaryObject, handler: Any) -> bytes | None:
    """pyhanko's ``_maybe_read_stream_payload``, deferring a large payload of a file."""
    length = data.get("/Length")
    if isinstance(stream, io.BytesIO) or not isinstance(length, int) or length <= LAZY_ABOVE:
        return _original_payload(stream, data, handler)  # type: ignore[no-untyped-call,no-any-return]
    pos = stream.tell()
    if read_non_whitespace(stream, allow_eof=True) != b"s" or stream.read(5) != b"tream":
        stream.seek(pos)
        return None
    skip_over_whitespace(stream, stop_after_eol=True)
    offset = stream.tell()
    stream.seek(length, os.SEEK_CUR)
    if read_non_whitespace(stream) + stream.read(8) != b"endstream":
        # As pyhanko: a /Length one too long (ReportLab once wrote such files) is taken one shorter.
        end_at = stream.tell()
        stream.seek(-10, os.SEEK_CUR)
        if stream.read(9) != b"endstream":
            raise PdfReadError(f"Unable to find 'endstream' marker after stream at byte {hex(end_at)}.")
        length -= 1
    return _deferred(stream, offset, length)


def _get_encoded(self: generic.StreamObject) -> bytes | None:
    value = self.__dict__.get(_STORED)
    return value.load() if isinstance(value, Deferred) else value


def _set_encoded(self: generic.StreamObject, value: bytes | None) -> None:
    self.__dict__[_STORED] = value


_original_subsume = HistoricalResolver._subsume_object  # noqa: SLF001


def subsume_object(self: HistoricalResolver, obj: Any) -> Any:
    """``HistoricalResolver._subsume_object``, which copies a stream into a revision's view of the document
    through its ``encoded_data``: a deferred payload is handed on as it is, still unread."""
    stored = obj.__dict__.get(_STORED) if type(obj) is generic.StreamObject else None
    if not isinstance(stored, Deferred):
        return _original_subsume(self, obj)  # type: ignore[no-untyped-call]
    container = obj.get_container_ref()
    result = generic.StreamObject({k: self._subsume_object(v) for k, v in obj.items()})
    result.__dict__[_STORED] = stored
    result.container_ref = generic.Reference(idnum=container.idnum, generation=container.generation, pdf=self)
    return result


def install() -> None:
    generic._maybe_read_stream_payload = maybe_read_stream_payload  # noqa: SLF001
    HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]  # noqa: SLF001
    generic.StreamObject._encoded_data = property(_get_encoded, _set_encoded)  # type: ignore[assignment]  # noqa: SLF001
