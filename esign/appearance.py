"""Visible signature appearances: a text block (signer, time, reason) and a red round seal.

The seal follows the common form of Chinese official seals (公章): a red ring, a five-pointed star in the
centre and the organisation's name set clockwise along the upper arc. It is drawn once per name as a small
vector PDF with reportlab and imported into the signature's appearance stream as a form XObject.

Every font subset an appearance embeds is named with a tag derived from its font program (``_retag``): reportlab
names its first subset ``AAAAAA+`` in every file it makes and pyhanko draws its tags at random, so two seals in
one document would otherwise share a tag for different subsets, against ISO 32000-1 §9.6.4.
"""

from __future__ import annotations

import binascii
import io
import math
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import PdfContent
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import BaseStampStyle, StaticStampStyle, TextStampStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .errors import AppearanceError
from .fonts import seal_font, subset_tag
from .signature_block import block_style

SEAL_RED = (0.86, 0.08, 0.08)
_SEAL_SIZE = 170.0


@dataclass(frozen=True)
class Appearance:
    """Where and how a visible signature is drawn.

    ``page`` counts from 1; a negative number counts from the last page (-1 is the last).
    ``box`` is (x1, y1, x2, y2) in PDF points from the page's lower-left corner.
    ``seal_text``, when given, draws a red round seal with that text (the organisation's name).
    ``show_details`` adds a framed block with the signer's name and organisation, the signing time in ``zone``
    (an IANA name; Beijing time by default) and the reason.
    ``text`` instead draws just that text, e.g. a document number stamped where the layout left room for
    it, in ``font`` (default: the engine's CJK face) aligned ``align`` in the box.
    """

    page: int = 1
    box: tuple[float, float, float, float] = (360.0, 60.0, 560.0, 160.0)
    seal_text: str | None = None
    show_details: bool = True
    font_size: int = 9
    text: str | None = None
    font: Path | None = None
    align: Literal["left", "centre", "right"] = "centre"
    zone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        # NaN compares false with everything, so the test below would let it through to pyhanko.
        if not all(math.isfinite(v) for v in self.box):
            raise AppearanceError(f"signature box {self.box} must be finite numbers")
        if x2 <= x1 or y2 <= y1:
            raise AppearanceError(f"signature box {self.box} must have x2 > x1 and y2 > y1")
        if self.page == 0:
            raise AppearanceError("pages count from 1 (or from -1 for the last page)")
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise AppearanceError(f"unknown time zone {self.zone!r} for the signature's time") from e
        if not self.show_details and not self.seal_text and not self.text:
            raise AppearanceError("an appearance needs details, a seal, a text, or a combination")


def _register_font(font_path: Path) -> str:
    name = "esign-" + binascii.hexlify(str(font_path).encode()).decode()[-24:]
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font_path), subfontIndex=0))  # the first face of a collection
    return name


def arc_baseline(inner_radius: float, font_size: float, gap: float) -> float:
    """The radius of the baseline of characters set upright along a ring whose inside edge is ``inner_radius``:
    as far out as keeps each character's em square, outer corners included, ``gap`` inside the ring."""
    reach = inner_radius - gap
    return math.sqrt(reach * reach - (font_size / 2) ** 2) - font_size * _ASCENT


def _arc_layout(count: int, inner_radius: float, *, gap: float, size: float) -> tuple[float, float, float]:
    """Font size, baseline radius and angle between characters (degrees) for ``count`` characters along the
    upper arc: the largest size up to 0.15 of the seal at which they sit an em apart, the first and last no
    further round than ``_MAX_SPAN`` allows, which keeps them clear of the ring and of each other."""
    font_size = size * 0.15
    while True:
        baseline = arc_baseline(inner_radius, font_size, gap)
        middle = baseline + font_size * 0.4
        step = math.degrees(font_size * 1.05 / middle)
        if step * (count - 1) <= _MAX_SPAN or font_size <= size * 0.06:
            return font_size, baseline, min(step, _MAX_SPAN / max(count - 1, 1))
        font_size *= 0.96


_MAX_SPAN = 240.0
_ASCENT = 0.9
"""How far above its baseline a CJK glyph reaches, in ems (ideographs sit on about -0.1 to 0.9)."""
_STROKE = 0.025
"""The outline stroked around the seal's characters, in ems: the weight an inked seal has."""


@lru_cache(maxsize=128)
def seal_pdf(text: str, font_path: Path, caption: str = "") -> bytes:
    """A one-page PDF holding the round seal for ``text`` (and an optional caption under the star)."""
    font = _register_font(font_path)
    size = _SEAL_SIZE
    buf = io.BytesIO()
    # The initial font is the embedded face: reportlab's default Helvetica would otherwise sit in the page's
    # resources unembedded, which PDF/A forbids even for a font that draws nothing.
    c = canvas.Canvas(buf, pagesize=(size, size), pageCompression=1, invariant=1, initialFontName=font)
    c.setStrokeColorRGB(*SEAL_RED)
    c.setFillColorRGB(*SEAL_RED)
    centre = size / 2
    ring = size * 0.035
    radius = size / 2 - ring / 2 - 1
    c.setLineWidth(ring)
    c.circle(centre, centre, radius, stroke=1, fill=0)

    star_r = size * 0.16
    points = []
    for i in range(10):
        r = star_r if i % 2 == 0 else star_r * 0.382
        angle = math.radians(90 + i * 36)
        points.append((centre + r * math.cos(angle), centre + r * math.sin(angle)))
    path = c.beginPath()
    path.moveTo(*points[0])
    for p in points[1:]:
        path.lineTo(*p)
    path.close()
    c.drawPath(path, stroke=0, fill=1)

    chars = [ch for ch in text if not ch.isspace()]
    if chars:
        font_size, baseline, step = _arc_layout(len(chars), radius - ring / 2, gap=ring * 0.9, size=size)
        span = step * (len(chars) - 1)
        c.setFont(font, font_size)
        c.setLineWidth(font_size * _STROKE)
        for i, ch in enumerate(chars):
            angle = 90 + span / 2 - i * step if len(chars) > 1 else 90
            c.saveState()
            c.translate(centre, centre)
            c.rotate(angle - 90)
            c.drawCentredString(0, baseline, ch, mode=2)  # fill and stroke
            c.restoreState()
    if caption:
        cap_size = size * 0.1
        c.setFont(font, cap_size)
        c.drawCentredString(centre, centre - star_r - cap_size * 1.6, caption)
    c.showPage()
    c.save()
    return buf.getvalue()


_TAGGED = re.compile(r"^/[A-Z]{6}\+")
_PROGRAMS = ("/FontFile2", "/FontFile3", "/FontFile")


def _retag(font: generic.DictionaryObject) -> None:
    """Rename a subset font (simple, or Type0 with its CIDFont) after its embedded program; a font that is
    not a tagged subset, or embeds no program, keeps its name."""
    descendant = font["/DescendantFonts"][0] if "/DescendantFonts" in font else font
    descriptor = descendant["/FontDescriptor"]
    program = next((descriptor[key] for key in _PROGRAMS if key in descriptor), None)
    if not isinstance(program, generic.StreamObject) or not _TAGGED.match(descriptor["/FontName"]):
        return
    tag = subset_tag(_TAGGED.sub("", descendant["/BaseFont"]).encode(), program.data)
    for holder, key in ((font, "/BaseFont"), (descendant, "/BaseFont"), (descriptor, "/FontName")):
        holder[pdf_name(key)] = pdf_name(_TAGGED.sub(f"/{tag}+", holder[key]))


class _TaggedGlyphAccumulator(GlyphAccumulator):
    def prepare_write(self) -> None:
        super().prepare_write()  # type: ignore[no-untyped-call]
        _retag(self.as_resource().get_object())


@dataclass(frozen=True)
class TaggedGlyphAccumulatorFactory(GlyphAccumulatorFactory):
    """pyhanko's glyph accumulator (text in appearances), with the subset's tag derived from its program."""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: object = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _TaggedGlyphAccumulator(
            writer=writer,
            font_handle=open(self.font_file, "rb"),  # fontTools reads the face lazily, as in pyhanko
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


class ImportedPdfBytes(PdfContent):
    """The first page of a PDF held in memory, imported as a form XObject (pyhanko's ImportedPdfPage reads files)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    def render(self) -> bytes:
        reader = PdfFileReader(io.BytesIO(self.data))
        xobj = self._ensure_writer.import_page_as_xobject(reader, page_ix=0)
        resources = xobj.get_object()["/Resources"]
        fonts = resources["/Font"] if "/Font" in resources else generic.DictionaryObject()
        for name in fonts:
            _retag(fonts[name])
        resource_name = "/Import" + uuid.uuid4().hex
        self.resources.xobject[resource_name] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = layout.BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return resource_name.encode("ascii") + b" Do"


_SEAL_LAYOUT = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MID,
    y_align=layout.AxisAlignment.ALIGN_MID,
    margins=layout.Margins.uniform(2),
    inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
)


_ALIGN = {
    "left": layout.AxisAlignment.ALIGN_MIN,
    "centre": layout.AxisAlignment.ALIGN_MID,
    "right": layout.AxisAlignment.ALIGN_MAX,
}


def stamp_style(appearance: Appearance, *, font_path: Path, reason: str | None) -> BaseStampStyle:
    """The pyhanko stamp style drawing ``appearance``: a text, a seal, or the signature block
    (``esign.signature_block``, which takes ``signer``, ``ts`` and ``organisation`` from pyhanko's text
    parameters), with the seal behind it when both are asked for."""
    if appearance.text is not None:
        return TextStampStyle(
            stamp_text=appearance.text.replace("%", "%%"),
            text_box_style=TextBoxStyle(
                font=TaggedGlyphAccumulatorFactory(str(appearance.font or font_path), font_size=appearance.font_size),
                font_size=appearance.font_size,
            ),
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=_ALIGN[appearance.align],
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=layout.Margins.uniform(0),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
            border_width=0,
        )
    background = ImportedPdfBytes(seal_pdf(appearance.seal_text, seal_font())) if appearance.seal_text else None
    if not appearance.show_details:
        return StaticStampStyle(
            background=background, background_layout=_SEAL_LAYOUT, border_width=0, background_opacity=0.9
        )
    return block_style(
        font=lambda size: TaggedGlyphAccumulatorFactory(str(font_path), font_size=size),
        font_name=_register_font(font_path),
        zone=appearance.zone,
        reason=reason,
        background=background,
    )
