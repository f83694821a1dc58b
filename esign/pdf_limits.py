"""A cheap look at what a PDF's cross-reference sections declare, before pyhanko builds anything from them.

pyhanko trusts the sizes a file declares: its tolerant reader makes one entry for every object number an
xref stream's ``/Index`` names, so a 590-byte file declaring ``/Index [0 2000000000]`` costs unbounded time
and memory. This pre-scan reads only the sections reachable from ``startxref`` through ``/Prev`` and
``/XRefStm`` (ISO 32000-1 §7.5.4 to §7.5.8) and the headers of object streams (§7.5.7), and refuses a
declared structure larger than the limits or than the file's length can hold. It judges nothing else: what
it cannot find or parse is left to pyhanko, which runs under the parsing budget anyway.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import PdfTooComplex
from .settings import Settings

# An xref table entry is exactly 20 bytes (§7.5.4); files with sloppy line ends use 19.
_TABLE_ENTRY_MIN = 19
# A field of an xref stream holds a byte offset, an object number or a generation (§7.5.8.3): 8 bytes hold
# any offset a file can have.
_MAX_FIELD_WIDTH = 8
_DICT_WINDOW = 64 * 1024

_WS = rb"[\x00\t\n\x0c\r ]*"
_SUBSECTION = re.compile(_WS + rb"(\d{1,12})[ \t]+(\d{1,12})[ \t]*(?:\r\n|\r|\n)")
_OBJ_HEADER = re.compile(_WS + rb"\d{1,12}" + _WS + rb"\d{1,6}" + _WS + rb"obj\b")
_INT_KEY = {
    key: re.compile(rb"/" + key + rb"(?![A-Za-z0-9])" + _WS + rb"(\d{1,20})")
    for key in (b"Size", b"Prev", b"XRefStm", b"N")
}
_ARRAY_KEY = {key: re.compile(rb"/" + key + _WS + rb"\[([^\]]{0,4096})\]") for key in (b"Index", b"W")}
_OBJSTM = re.compile(rb"/Type" + _WS + rb"/ObjStm(?![A-Za-z0-9])")


@dataclass(frozen=True)
class StructureLimits:
    """Hard limits on what a PDF may declare."""

    max_objects: int = 1_000_000
    """Object numbers an xref section or an object stream may declare; a 10,000-page scan has ~100,000."""
    max_sections: int = 1_000
    """Cross-reference sections in the ``/Prev`` chain: one per incremental update."""


@dataclass(frozen=True)
class ParseBudget:
    """The budget of every PDF that comes from outside: the ``ESIGN_PARSE_*`` fields of the settings."""

    structure: StructureLimits
    timeout_s: float
    memory_mb: int
    workers: int
    queue: int
    isolate: bool
    shutdown_grace_s: int


def budget_of(settings: Settings) -> ParseBudget:
    return ParseBudget(
        structure=StructureLimits(max_objects=settings.parse_max_objects, max_sections=settings.parse_max_sections),
        timeout_s=settings.parse_timeout_s,
        memory_mb=settings.parse_memory_mb,
        workers=settings.parse_workers,
        queue=settings.parse_queue,
        isolate=settings.parse_isolate,
        shutdown_grace_s=settings.shutdown_grace_s,
    )


@functools.cache
def configured() -> ParseBudget:
    """The process's budget, read once: it guards every ``esign.pdf.open``, which is passed no settings."""
    return budget_of(Settings())


def _int(pattern: re.Pattern[bytes], text: bytes) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _ints(pattern: re.Pattern[bytes], text: bytes) -> list[int] | None:
    match = pattern.search(text)
    if match is None:
        return None
    try:
        return [int(token) for token in match.group(1).split()]
    except ValueError:
        return None


_CHUNK = 1024 * 1024
_OBJSTM_REACH = 4096


class _Source:
    """The file being scanned: bytes, or a seekable binary stream read in windows, so the scan of a file on
    disk holds a window at a time rather than the file."""

    def __init__(self, data: bytes | BinaryIO) -> None:
        self.data = data
        if isinstance(data, bytes):
            self.size = len(data)
        else:
            self.size = data.seek(0, io.SEEK_END)

    def window(self, offset: int, length: int) -> bytes:
        offset = max(offset, 0)
        if isinstance(self.data, bytes):
            return self.data[offset : offset + length]
        self.data.seek(offset)
        return self.data.read(length)

    def chunks(self, start: int = 0, overlap: int = 0) -> Iterator[tuple[int, bytes]]:
        """``(offset, bytes)`` from ``start`` to the end; each chunk repeats the last ``overlap`` bytes of
        the one before, so a match of up to ``overlap`` bytes is never cut in two."""
        if isinstance(self.data, bytes):
            yield start, self.data[start:] if start else self.data
            return
        at = start
        while at < self.size:
            chunk = self.window(at, _CHUNK + overlap)
            yield at, chunk
            if at + len(chunk) >= self.size:
                return
            at += _CHUNK

    def find(self, needle: bytes, start: int) -> int:
        for at, chunk in self.chunks(start, len(needle)):
            if (found := chunk.find(needle)) >= 0:
                return at + found
        return -1


def _startxref(source: _Source) -> int | None:
    tail_at = max(0, source.size - 4096)
    tail = source.window(tail_at, 4096)
    at = tail.rfind(b"startxref")
    if at < 0:
        return None
    match = re.match(_WS + rb"(\d{1,20})", tail[at + 9 : at + 64])
    return int(match.group(1)) if match else None


class _Scan:
    def __init__(self, data: bytes | BinaryIO, limits: StructureLimits) -> None:
        self.source = _Source(data)
        self.limits = limits
        # An object takes at least a byte of the file; a declared count beyond that describes nothing.
        self.fits = min(limits.max_objects, self.source.size)

    def declared(self, count: int, where: str) -> None:
        if count > self.fits:
            limit = "objects" if count > self.limits.max_objects else "xref_size"
            raise PdfTooComplex(
                limit,
                f"{where} declares {count} objects; at most {self.fits} fit "
                f"(limit {self.limits.max_objects}, file of {self.source.size} bytes)",
            )

    def run(self) -> None:
        start = _startxref(self.source)
        pending = [start] if start is not None else []
        seen: set[int] = set()
        while pending:
            offset = pending.pop()
            if offset in seen:
                raise PdfTooComplex("xref_chain", f"the chain of cross-reference sections loops at offset {offset}")
            seen.add(offset)
            if len(seen) > self.limits.max_sections:
                raise PdfTooComplex(
                    "xref_chain", f"more than {self.limits.max_sections} cross-reference sections are chained"
                )
            if not 0 <= offset < self.source.size:
                continue
            pending.extend(self.section(offset))
        self.object_streams()

    def section(self, offset: int) -> list[int]:
        """Checks the section at ``offset``; the offsets of the sections it chains to."""
        raw = self.source.window(offset, _DICT_WINDOW)
        head = raw[:64].lstrip(b"\x00\t\n\x0c\r ")
        if head.startswith(b"xref"):
            return self.table(offset + raw.index(b"xref") + 4)
        if _OBJ_HEADER.match(raw):
            return self.stream(raw)
        return []

    def table(self, pos: int) -> list[int]:
        total = 0
        length = self.source.size
        while (match := _SUBSECTION.match(self.source.window(pos, 256))) is not None:
            count = int(match.group(2))
            total += count
            end = pos + match.end()
            if count * _TABLE_ENTRY_MIN > length - end:
                raise PdfTooComplex(
                    "xref_size",
                    f"an xref table declares {count} entries; the {length - end} bytes after it "
                    f"hold at most {(length - end) // _TABLE_ENTRY_MIN}",
                )
            self.declared(total, "the xref table")
            pos = end + count * 20
        trailer_at = self.source.find(b"trailer", pos)
        if trailer_at < 0:
            return []
        trailer = self.source.window(trailer_at, _DICT_WINDOW)
        trailer = trailer[: trailer.find(b"startxref")] if b"startxref" in trailer else trailer
        if (size := _int(_INT_KEY[b"Size"], trailer)) is not None and size > self.limits.max_objects:
            self.declared(size, "the trailer's /Size")
        return [n for key in (b"Prev", b"XRefStm") if (n := _int(_INT_KEY[key], trailer)) is not None]

    def stream(self, raw: bytes) -> list[int]:
        end = raw.find(b"stream")
        head = raw[:end] if end >= 0 else raw
        size = _int(_INT_KEY[b"Size"], head)
        if size is not None and size > self.limits.max_objects:
            self.declared(size, "the xref stream's /Size")
        widths = _ints(_ARRAY_KEY[b"W"], head)
        if widths is not None and (len(widths) != 3 or any(w > _MAX_FIELD_WIDTH for w in widths)):
            raise PdfTooComplex(
                "xref_width", f"the xref stream's /W {widths} is not three field widths of at most 8 bytes"
            )
        index = _ints(_ARRAY_KEY[b"Index"], head)
        if index is not None:
            self.declared(sum(index[1::2]), "the xref stream's /Index")
        elif size is not None:
            self.declared(size, "the xref stream's /Size")
        prev = _int(_INT_KEY[b"Prev"], head)
        return [prev] if prev is not None else []

    def object_streams(self) -> None:
        seen = -1
        for at, chunk in self.source.chunks(overlap=64):
            for match in _OBJSTM.finditer(chunk):
                where = at + match.start()
                if where <= seen:
                    continue  # found again in the overlap
                seen = where
                self.object_stream(where, at + match.end())

    def object_stream(self, start: int, end: int) -> None:
        """The dictionary around /Type /ObjStm: from the nearest "obj" before it to "stream" after it."""
        before = max(0, start - _OBJSTM_REACH)
        around = self.source.window(before, end - before + _OBJSTM_REACH)
        match_start, match_end = start - before, end - before
        head_start = max(around.rfind(b"obj", max(0, match_start - _OBJSTM_REACH), match_start), 0)
        head_end = around.find(b"stream", match_end, match_end + _OBJSTM_REACH)
        head = around[head_start : head_end if head_end >= 0 else match_end + _OBJSTM_REACH]
        if (n := _int(_INT_KEY[b"N"], head)) is not None:
            self.declared(n, "an object stream's /N")


def check(data: bytes | BinaryIO, limits: StructureLimits = StructureLimits()) -> None:
    """Raises ``PdfTooComplex`` when what ``data`` (bytes, or a seekable binary stream) declares exceeds
    ``limits`` or cannot fit in it.

    Linear in the file's length; it reads only dictionaries and subsection headers, never the entries.
    """
    _Scan(data, limits).run()
