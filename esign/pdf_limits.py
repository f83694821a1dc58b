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
import re
from dataclasses import dataclass

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


def _startxref(data: bytes) -> int | None:
    at = data.rfind(b"startxref", max(0, len(data) - 4096))
    if at < 0:
        return None
    match = re.match(_WS + rb"(\d{1,20})", data[at + 9 : at + 64])
    return int(match.group(1)) if match else None


class _Scan:
    def __init__(self, data: bytes, limits: StructureLimits) -> None:
        self.data = data
        self.limits = limits
        # An object takes at least a byte of the file; a declared count beyond that describes nothing.
        self.fits = min(limits.max_objects, len(data))

    def declared(self, count: int, where: str) -> None:
        if count > self.fits:
            limit = "objects" if count > self.limits.max_objects else "xref_size"
            raise PdfTooComplex(
                limit,
                f"{where} declares {count} objects; at most {self.fits} fit "
                f"(limit {self.limits.max_objects}, file of {len(self.data)} bytes)",
            )

    def run(self) -> None:
        start = _startxref(self.data)
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
            if not 0 <= offset < len(self.data):
                continue
            pending.extend(self.section(offset))
        self.object_streams()

    def section(self, offset: int) -> list[int]:
        """Checks the section at ``offset``; the offsets of the sections it chains to."""
        head = self.data[offset : offset + 64].lstrip(b"\x00\t\n\x0c\r ")
        if head.startswith(b"xref"):
            return self.table(self.data.index(b"xref", offset) + 4)
        if _OBJ_HEADER.match(self.data, offset):
            return self.stream(offset)
        return []

    def table(self, pos: int) -> list[int]:
        total = 0
        while (match := _SUBSECTION.match(self.data, pos)) is not None:
            count = int(match.group(2))
            total += count
            if count * _TABLE_ENTRY_MIN > len(self.data) - match.end():
                raise PdfTooComplex(
                    "xref_size",
                    f"an xref table declares {count} entries; the {len(self.data) - match.end()} bytes after it "
                    f"hold at most {(len(self.data) - match.end()) // _TABLE_ENTRY_MIN}",
                )
            self.declared(total, "the xref table")
            pos = match.end() + count * 20
        trailer_at = self.data.find(b"trailer", pos)
        if trailer_at < 0:
            return []
        trailer = self.data[trailer_at : trailer_at + _DICT_WINDOW]
        trailer = trailer[: trailer.find(b"startxref")] if b"startxref" in trailer else trailer
        if (size := _int(_INT_KEY[b"Size"], trailer)) is not None and size > self.limits.max_objects:
            self.declared(size, "the trailer's /Size")
        return [n for key in (b"Prev", b"XRefStm") if (n := _int(_INT_KEY[key], trailer)) is not None]

    def stream(self, offset: int) -> list[int]:
        end = self.data.find(b"stream", offset, offset + _DICT_WINDOW)
        head = self.data[offset : end if end >= 0 else offset + _DICT_WINDOW]
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
        for match in _OBJSTM.finditer(self.data):
            # The dictionary around /Type /ObjStm: from the nearest "obj" before it to "stream" after it.
            start = max(self.data.rfind(b"obj", max(0, match.start() - 4096), match.start()), 0)
            end = self.data.find(b"stream", match.end(), match.end() + 4096)
            head = self.data[start : end if end >= 0 else match.end() + 4096]
            if (n := _int(_INT_KEY[b"N"], head)) is not None:
                self.declared(n, "an object stream's /N")


def check(data: bytes, limits: StructureLimits = StructureLimits()) -> None:
    """Raises ``PdfTooComplex`` when what ``data`` declares exceeds ``limits`` or cannot fit in it.

    Linear in the file's length; it reads only dictionaries and subsection headers, never the entries.
    """
    _Scan(data, limits).run()
