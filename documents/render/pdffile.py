"""Writing the PDF: pages, subset TrueType fonts and the archival parts, through pyhanko's writer.

pyhanko is the library that signs these files later, so its own writer produces them: a classic cross-reference
table, no incremental sections, and the same object model the signer reads back. Each subset's font program
(``subset``) is compressed once and cached, since the mark, the title and the page numbers come back in document
after document.
"""

from __future__ import annotations

import io
import zlib
from functools import lru_cache

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PdfFileWriter

from esign.fonts import subset_tag

from .fonts import Face
from .geometry import PAGE_HEIGHT, PAGE_WIDTH
from .paint import Subset
from .pdfa import Metadata, make_archival
from .subset import subset_program

_SYMBOLIC = 4
_NONSYMBOLIC = 32


@lru_cache(maxsize=128)
def font_program(face: Face, codepoints: tuple[int, ...]) -> tuple[bytes, int]:
    """The subset font program, deflated, and its length before deflating; the last 128 are kept."""
    data = subset_program(face, codepoints)
    return zlib.compress(data, 6), len(data)


def _to_unicode(codepoints: tuple[int, ...]) -> bytes:
    entries = [
        f"<{code:02X}> <{chr(cp).encode('utf-16-be').hex().upper()}>" for code, cp in enumerate(codepoints) if cp
    ]
    blocks = []
    for i in range(0, len(entries), 100):
        chunk = entries[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def _number(value: float) -> generic.NumberObject | generic.FloatObject:
    rounded = round(value, 3)
    return generic.NumberObject(int(rounded)) if rounded == int(rounded) else generic.FloatObject(rounded)


def _font(writer: PdfFileWriter, subset: Subset) -> generic.IndirectObject:
    face, codepoints = subset.face, tuple(subset.codepoints)
    tt = face.tt
    program, length = font_program(face, codepoints)
    font_file = generic.StreamObject(
        {pdf_name("/Length1"): generic.NumberObject(length), pdf_name("/Filter"): pdf_name("/FlateDecode")},
        encoded_data=program,
    )
    name = f"{subset_tag(face.key.encode(), repr(codepoints).encode())}+{face.postscript_name}"
    descriptor = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/FontDescriptor"),
            pdf_name("/FontName"): pdf_name("/" + name),
            pdf_name("/Flags"): generic.NumberObject((int(tt.flags) & ~_NONSYMBOLIC) | _SYMBOLIC),
            pdf_name("/FontBBox"): generic.ArrayObject([_number(v) for v in tt.bbox]),
            pdf_name("/ItalicAngle"): _number(float(tt.italicAngle)),
            pdf_name("/Ascent"): _number(float(tt.ascent)),
            pdf_name("/Descent"): _number(float(tt.descent)),
            pdf_name("/CapHeight"): _number(float(tt.capHeight)),
            pdf_name("/StemV"): _number(float(tt.stemV)),
            pdf_name("/FontFile2"): writer.add_object(font_file),
        }
    )
    to_unicode = generic.StreamObject(stream_data=_to_unicode(codepoints))
    to_unicode.compress()
    return writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/TrueType"),
                pdf_name("/BaseFont"): pdf_name("/" + name),
                pdf_name("/FirstChar"): generic.NumberObject(0),
                pdf_name("/LastChar"): generic.NumberObject(len(codepoints) - 1),
                pdf_name("/Widths"): generic.ArrayObject(
                    [
                        generic.NumberObject(round(face.width_per_mille(cp) if cp else tt.defaultWidth))
                        for cp in codepoints
                    ]
                ),
                pdf_name("/FontDescriptor"): writer.add_object(descriptor),
                pdf_name("/ToUnicode"): writer.add_object(to_unicode),
            }
        )
    )


def write_pdf(streams: list[bytes], subsets: list[Subset], metadata: Metadata) -> bytes:
    """A PDF/A-2b file of A4 pages with the given content streams, drawing with the given font subsets."""
    writer = PdfFileWriter(stream_xrefs=False)
    fonts = generic.DictionaryObject({pdf_name("/" + s.name): _font(writer, s) for s in subsets})
    resources = writer.add_object(generic.DictionaryObject({pdf_name("/Font"): fonts}))
    media_box = generic.ArrayObject(
        [generic.NumberObject(0), generic.NumberObject(0), _number(PAGE_WIDTH), _number(PAGE_HEIGHT)]
    )
    for stream in streams:
        content = generic.StreamObject(stream_data=stream)
        content.compress()
        writer.insert_page(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Page"),
                    pdf_name("/MediaBox"): media_box,
                    pdf_name("/Resources"): resources,
                    pdf_name("/Contents"): writer.add_object(content),
                }
            )
        )
    make_archival(writer, metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
