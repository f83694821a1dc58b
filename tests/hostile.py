"""Hostile PDFs: small files that declare, nest or compress far more than they hold.

Each builder returns the bytes of one file; ``HOSTILE`` names them all. None of them is meant to be valid:
an answer to any of them is a refusal (4xx) or a verdict, in bounded time and memory.
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable

_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def _body(objects: list[bytes]) -> tuple[bytes, list[int]]:
    """The header and ``objects`` numbered from 1, with each one's offset."""
    out, offsets = bytearray(_HEADER), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    return bytes(out), offsets


def _table(offsets: list[int]) -> bytes:
    entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1) + entries


def classic(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A well-formed file with a classic xref table around ``objects`` (object 1 is the catalogue)."""
    body, offsets = _body(objects)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(offsets) + 1, trailer_extra)
    return body + _table(offsets) + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)


def _xref_stream(objects: list[bytes], stream_dict: bytes, stream_data: bytes) -> bytes:
    body, _ = _body(objects)
    number = len(objects) + 1
    xref = b"%d 0 obj\n<< /Type /XRef /Root 1 0 R %s /Length %d >>\nstream\n" % (number, stream_dict, len(stream_data))
    return body + xref + stream_data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % len(body)


def huge_xref_stream_index() -> bytes:
    """The issue's file: an xref stream declaring two billion entries in a few hundred bytes."""
    data = zlib.compress(b"\x01\x00\x0f\x00" * 4)
    return _xref_stream(
        [_CATALOG, _PAGES, _PAGE], b"/Size 4 /Index [0 2000000000] /W [1 2 1] /Filter /FlateDecode", data
    )


def overstated_xref_stream() -> bytes:
    """Half a million entries declared in a file of a few hundred bytes: under the object limit, over the file."""
    data = zlib.compress(b"\x01\x00\x0f\x00" * 4)
    return _xref_stream([_CATALOG, _PAGES, _PAGE], b"/Size 4 /Index [0 500000] /W [1 2 1] /Filter /FlateDecode", data)


def huge_xref_stream_width() -> bytes:
    data = zlib.compress(b"\x00" * 64)
    return _xref_stream([_CATALOG, _PAGES, _PAGE], b"/Size 5 /W [1 2000000000 1] /Filter /FlateDecode", data)


def huge_xref_table() -> bytes:
    """Two million entries, each a well-formed 20 bytes: a 40 MB table the file really holds."""
    count = 2_000_000
    body, offsets = _body([_CATALOG, _PAGES, _PAGE])
    entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    filler = b"0000000000 00000 f \n" * (count - 1 - len(offsets))
    table = b"xref\n0 %d\n0000000000 65535 f \n" % count + entries + filler
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\n" % count
    return body + table + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)


def large_xref_table(count: int = 900_000) -> bytes:
    """Under the object limit and held by the file, yet costly: pyhanko parses every entry in Python."""
    body, offsets = _body([_CATALOG, _PAGES, _PAGE])
    entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    filler = b"0000000000 00000 f \n" * (count - 1 - len(offsets))
    table = b"xref\n0 %d\n0000000000 65535 f \n" % count + entries + filler
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\n" % count
    return body + table + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)


def padded_xref_stream_index(pad_mib: int = 20) -> bytes:
    """The issue's file padded with a comment so that its length can hold 20 million entries: the pre-scan
    lets it through once ``ESIGN_PARSE_MAX_OBJECTS`` allows that many, and pyhanko's tolerant reader then
    runs for long — a parse the deadline, the memory cap or shutdown must end."""
    count = pad_mib * 1024 * 1024
    data = zlib.compress(b"\x01\x00\x0f\x00" * 4)
    padding = b"%" + b"x" * count + b"\n"
    objects = [_CATALOG, _PAGES, _PAGE]
    body, _ = _body(objects)
    xref = (
        b"4 0 obj\n<< /Type /XRef /Root 1 0 R /Size 4 /Index [0 %d] /W [1 2 1] /Filter /FlateDecode /Length %d >>\n"
        % (
            count,
            len(data),
        )
    )
    start = len(body) + len(padding)
    return body + padding + xref + b"stream\n" + data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start


def prev_loop() -> bytes:
    """Two xref sections, each naming the other as /Prev (§7.5.5): a reader following them never stops."""
    body, offsets = _body([_CATALOG, _PAGES, _PAGE])
    first = len(body)
    section = _table(offsets)
    second = first + len(section) + len(b"trailer\n<< /Size 4 /Root 1 0 R /Prev 0000000000 >>\n")
    out = body + section + b"trailer\n<< /Size 4 /Root 1 0 R /Prev %010d >>\n" % second
    assert len(out) == second
    out += section + b"trailer\n<< /Size 4 /Root 1 0 R /Prev %010d >>\n" % first
    return out + b"startxref\n%d\n%%%%EOF\n" % second


def page_tree_cycle() -> bytes:
    """The page tree's leaf names the root as its kid (§7.7.3.2 forbids cycles)."""
    return classic(
        [_CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )


def deep_nesting(depth: int = 100_000) -> bytes:
    """Arrays and dictionaries 100,000 deep, inline in the catalogue, which every reader parses first."""
    arrays = b"[" * depth + b"]" * depth
    dicts = b"<< /A " * depth + b"null" + b" >>" * depth
    return classic([b"<< /Type /Catalog /Pages 2 0 R /Deep " + arrays + b" /Deeper " + dicts + b" >>", _PAGES, _PAGE])


def object_stream_bomb() -> bytes:
    """An object stream declaring two billion objects, referenced from an xref stream."""
    header = b"4 0 "
    objstm = b"<< /Type /ObjStm /N 2000000000 /First %d /Length %d >>\nstream\n%snull\nendstream" % (
        len(header),
        len(header) + 4,
        header,
    )
    rows = b"\x00\x00\x00\x00" + b"".join(b"\x01" + (9 + 40 * i).to_bytes(2, "big") + b"\x00" for i in range(4))
    rows += b"\x02\x00\x04\x00"
    return _xref_stream([_CATALOG, _PAGES, _PAGE, objstm], b"/Size 6 /W [1 2 1]", rows)


@functools.cache
def _zeros_deflated(mib: int) -> bytes:
    compressor, chunk = zlib.compressobj(9), b"\x00" * (1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(mib)) + compressor.flush()


def flate_bomb_xref(mib: int = 256) -> bytes:
    """An xref stream whose FlateDecode data inflates to ``mib`` MiB of zeros (ratio ~1000:1)."""
    data = _zeros_deflated(mib)
    return _xref_stream([_CATALOG, _PAGES, _PAGE], b"/Size 4 /W [1 2 1] /Filter /FlateDecode", data)


def flate_bomb_content(mib: int = 256) -> bytes:
    """A page whose content stream inflates to ``mib`` MiB."""
    data = _zeros_deflated(mib)
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    return classic([_CATALOG, _PAGES, page, content])


def open_unchecked(data: bytes) -> int:
    """pyhanko's tolerant reader without the pre-scan, as ``esign/pdf.py`` opened files before it had one."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return len(reader.root)


HOSTILE: dict[str, Callable[[], bytes]] = {
    "huge_xref_stream_index": huge_xref_stream_index,
    "overstated_xref_stream": overstated_xref_stream,
    "huge_xref_stream_width": huge_xref_stream_width,
    "huge_xref_table": huge_xref_table,
    "large_xref_table": large_xref_table,
    "prev_loop": prev_loop,
    "page_tree_cycle": page_tree_cycle,
    "deep_nesting": deep_nesting,
    "object_stream_bomb": object_stream_bomb,
    "flate_bomb_xref": flate_bomb_xref,
    "flate_bomb_content": flate_bomb_content,
}

REFUSED_BEFORE_PARSING = {
    "huge_xref_stream_index": "objects",
    "overstated_xref_stream": "xref_size",
    "huge_xref_stream_width": "xref_width",
    "huge_xref_table": "objects",
    "prev_loop": "xref_chain",
    "object_stream_bomb": "objects",
}
"""The files the pre-scan refuses, and the limit it names."""
