"""Cutting a TrueType face down to the glyphs one font subset of a document uses.

The result is what a PDF embeds for a simple TrueType font: the glyphs of the subset's characters (and the
components of composite ones), with a ``cmap`` of a single (1, 0) format-6 subtable that maps code n to the n-th
character (ISO 32000-1 §9.6.6.4; ISO 19005-2 §6.2.11.6 wants exactly one subtable for a symbolic font), and the
hinting and naming tables copied as they are. It reads the face reportlab has already parsed, through a
``memoryview`` of the file, so a subset costs its own glyphs and not a copy of the whole ``glyf`` table.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from functools import lru_cache

from .fonts import Face

_ARGS_ARE_WORDS = 0x0001
_HAVE_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAVE_XY_SCALE = 0x0040
_HAVE_TWO_BY_TWO = 0x0080
_COPIED = ("name", "OS/2", "cvt ", "fpgm", "prep")
_CHECKSUM_MAGIC = 0xB1B0AFBA


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


def _components(glyph: bytes | bytearray | memoryview) -> Iterator[tuple[int, int]]:
    """(position of the glyph-index field, glyph index) of each component of a composite glyph."""
    position = 10
    while True:
        flags, index = struct.unpack_from(">HH", glyph, position)
        yield position + 2, index
        position += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        if flags & _HAVE_SCALE:
            position += 2
        elif flags & _HAVE_XY_SCALE:
            position += 4
        elif flags & _HAVE_TWO_BY_TWO:
            position += 8
        if not flags & _MORE_COMPONENTS:
            return


@lru_cache(maxsize=64)
def _fixed_tables(face: Face) -> dict[str, bytes]:
    """The tables every subset of the face copies or patches, read once."""
    tt = face.tt
    tables = {}
    for tag in _COPIED:
        try:
            tables[tag] = bytes(tt.get_table(tag))
        except KeyError:
            continue
    tables["post"] = b"\x00\x03\x00\x00" + bytes(tt.get_table("post"))[4:16] + b"\0" * 16
    for tag in ("head", "hhea", "maxp"):
        tables[tag] = bytes(tt.get_table(tag))
    return tables


def subset_program(face: Face, codepoints: Sequence[int]) -> bytes:
    """A TrueType program holding the glyphs of ``codepoints``, the n-th under code n (0 for unused codes)."""
    tt = face.tt
    data = memoryview(tt._ttf_data)  # noqa: SLF001  (reportlab keeps the font file only there)
    glyf = tt.get_table_pos("glyf")[0]
    positions = tt.glyphPos
    char_to_glyph = tt.charToGlyph

    old_of_new = [0]
    new_of_old = {0: 0}
    codes = []
    for codepoint in codepoints:
        glyph = char_to_glyph.get(codepoint, 0) if codepoint else 0
        if glyph not in new_of_old:
            new_of_old[glyph] = len(old_of_new)
            old_of_new.append(glyph)
        codes.append(new_of_old[glyph])

    pieces: list[bytes | bytearray | memoryview] = []
    offsets = []
    position = 0
    n = 0
    while n < len(old_of_new):
        old = old_of_new[n]
        n += 1
        start, end = glyf + positions[old], glyf + positions[old + 1]
        piece: bytes | bytearray | memoryview = data[start:end]
        if end - start > 10 and struct.unpack_from(">h", data, start)[0] < 0:
            piece = bytearray(piece)
            for field, component in _components(piece):
                if component not in new_of_old:
                    new_of_old[component] = len(old_of_new)
                    old_of_new.append(component)
                struct.pack_into(">H", piece, field, new_of_old[component])
        offsets.append(position)
        pieces.append(piece)
        position += len(piece)
        if position % 4:
            pieces.append(b"\0" * (4 - position % 4))
            position += 4 - position % 4
    offsets.append(position)
    count = len(old_of_new)

    fixed = _fixed_tables(face)
    tables = {tag: fixed[tag] for tag in (*_COPIED, "post") if tag in fixed}
    tables["glyf"] = b"".join(pieces)
    long_offsets = position > 0x1FFFE
    tables["loca"] = (
        struct.pack(f">{len(offsets)}L", *offsets)
        if long_offsets
        else struct.pack(f">{len(offsets)}H", *(o // 2 for o in offsets))
    )
    metrics = tt.hmetrics
    tables["hmtx"] = b"".join(
        struct.pack(">HH", int(metrics[g][0]) & 0xFFFF, int(metrics[g][1]) & 0xFFFF) for g in old_of_new
    )
    tables["hhea"] = fixed["hhea"][:34] + struct.pack(">H", count) + fixed["hhea"][36:]
    tables["maxp"] = fixed["maxp"][:4] + struct.pack(">H", count) + fixed["maxp"][6:]
    head = bytearray(fixed["head"])
    struct.pack_into(">I", head, 8, 0)
    struct.pack_into(">h", head, 50, 1 if long_offsets else 0)
    tables["head"] = bytes(head)
    tables["cmap"] = struct.pack(
        f">4HL5H{len(codes)}H", 0, 1, 1, 0, 12, 6, 10 + 2 * len(codes), 0, 0, len(codes), *codes
    )
    return _assemble(tables)


def _assemble(tables: dict[str, bytes]) -> bytes:
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(">LHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, (count - power) * 16)
    offset = len(header) + 16 * count
    directory = []
    body = []
    for tag in tags:
        table = tables[tag]
        directory.append(struct.pack(">4sLLL", tag.encode("latin-1"), _checksum(table), offset, len(table)))
        padded = table + b"\0" * (-len(table) % 4)
        body.append(padded)
        offset += len(padded)
    font = bytearray(header + b"".join(directory) + b"".join(body))
    head_at = len(header) + 16 * count + sum(len(b) for b in body[: tags.index("head")])
    struct.pack_into(">L", font, head_at + 8, (_CHECKSUM_MAGIC - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)
