"""The text block of a visible signature: who signed, for which organisation, when (in the organisation's time
zone, with its offset) and why, framed and set at a size a reader can read.

pyhanko's text stamp shrinks whatever it is given until it fits the box, so a long reason once made the
whole stamp vanish (a 3,000-character reason drew it at 0.007 of its size). Here the lines are wrapped to
the box's width and the font size is chosen from the box: the largest of ``MAX_FONT_SIZE`` down to
``MIN_FONT_SIZE`` at which every line fits. A reason over ``MAX_REASON_CHARS``, or text that does not fit
at the smallest size, is refused with an ``AppearanceError`` that says what to change; nothing is scaled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.content import PdfContent
from pyhanko.pdf_utils.font import FontEngineFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStamp, TextStampStyle
from reportlab.pdfbase import pdfmetrics

from .errors import AppearanceError

MAX_REASON_CHARS = 200
"""The longest reason a visible signature prints (and the HTTP API accepts)."""

MIN_FONT_SIZE = 7
MAX_FONT_SIZE = 12
MARGIN = 6
LEADING = 1.3
FRAME_WIDTH = 2  # pyhanko strokes the frame on the box's edge, so half of it shows: a 1 pt line
FRAME_COLOUR = (0.2, 0.2, 0.2)

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
"""How pyhanko hands over the signing time (``ts``): parsed back here and shown in the block's zone."""


def check_reason(reason: str | None) -> None:
    """``AppearanceError`` when ``reason`` is too long to print in a signature block."""
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise AppearanceError(
            f"reason: at most {MAX_REASON_CHARS} characters can be printed in a visible signature; "
            f"this one has {len(reason)}. Shorten it, or sign without a visible box"
        )


def local_time(ts: str, zone: str) -> str:
    """The signing time as ``2026-12-06 09:00:00 +08:00`` in ``zone``."""
    moment = datetime.strptime(ts, _TS_FORMAT).astimezone(ZoneInfo(zone))
    offset = moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + offset[:3] + ":" + offset[3:]


def wrap(text: str, width: float, measure: TextMeasure) -> list[str]:
    """``text`` broken into lines no wider than ``width``: between any two characters for CJK text, at a space
    for Latin words when one is near, so a long reason of either kind wraps."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if ch == "\n":
            lines.append(line.rstrip())
            line = ""
            continue
        if not line and ch.isspace():
            continue
        if measure(line + ch) <= width:
            line += ch
            continue
        space = line.rfind(" ")
        if ch != " " and space > len(line) // 2:
            lines.append(line[:space].rstrip())
            line = line[space + 1 :] + ch
        else:
            lines.append(line.rstrip())
            line = "" if ch.isspace() else ch
    if line.strip():
        lines.append(line.rstrip())
    return lines


class TextMeasure:
    """Width of a string in points, from the advance widths of the face the block is drawn in."""

    def __init__(self, font_name: str, size: float) -> None:
        self.font_name = font_name
        self.size = size

    def __call__(self, text: str) -> float:
        return float(pdfmetrics.stringWidth(text, self.font_name, self.size))


@dataclass(frozen=True)
class Fitted:
    lines: list[str]
    font_size: int


def leading(font_size: int) -> int:
    """The distance between baselines; pyhanko writes it as an integer (``TL``)."""
    return round(font_size * LEADING)


def fit(fields: list[tuple[str, str, bool]], *, font_name: str, width: float, height: float) -> Fitted:
    """The block's lines (``label`` then ``value``; a value marked to wrap continues on lines indented under
    it) at the largest font size from ``MAX_FONT_SIZE`` down to ``MIN_FONT_SIZE`` that fits ``width`` × ``height``."""
    inner_w, inner_h = width - 2 * MARGIN, height - 2 * MARGIN
    for size in range(MAX_FONT_SIZE, MIN_FONT_SIZE - 1, -1):
        measure = TextMeasure(font_name, size)
        lines: list[str] = []
        for label, value, wraps in fields:
            indent = measure(label)
            wrapped = (wrap(value, inner_w - indent, measure) if wraps else [value]) or [""]
            lines.append(label + wrapped[0])
            pad = " " * max(0, round(indent / max(measure(" "), 0.1)))
            lines.extend(pad + rest for rest in wrapped[1:])
        fits_width = all(measure(line) <= inner_w + 0.01 for line in lines)
        if fits_width and leading(size) * len(lines) <= inner_h:
            return Fitted(lines=lines, font_size=size)
    raise AppearanceError(
        f"the signature's text does not fit its box of {width:g} × {height:g} points at {MIN_FONT_SIZE} pt: "
        "make the box larger or the reason shorter"
    )


_TEXT_IN_ITS_BOX = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MIN,
    y_align=layout.AxisAlignment.ALIGN_MAX,
    margins=layout.Margins.uniform(0),
    inner_content_scaling=layout.InnerScaling.NO_SCALING,
)
"""pyhanko pads a text box by 10 points on every side unless told otherwise; the block's margin is ``MARGIN``."""


@dataclass(frozen=True)
class SignatureBlockStyle(TextStampStyle):
    """A framed block: 签名人 (the signer's name), 单位 (organisation, when the certificate names one), 时间 (the
    signing time in ``zone`` with its offset) and 原因 (``reason``, when given), laid out per ``fit``.

    pyhanko fills in ``signer`` and ``ts`` when it draws; ``organisation`` comes in the text parameters.
    """

    zone: str = "Asia/Shanghai"
    reason: str | None = None
    font: Callable[[int], FontEngineFactory] | None = None
    font_name: str = ""
    timestamp_format: str = _TS_FORMAT

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, object]
    ) -> TextStamp:
        assert self.font is not None
        fields = [("签名人：", str(text_params.get("signer") or ""), True)]
        if text_params.get("organisation"):
            fields.append(("单位：", str(text_params["organisation"]), True))
        fields.append(("时间：", local_time(str(text_params["ts"]), self.zone), False))
        if self.reason:
            fields.append(("原因：", self.reason, True))
        fitted = fit(fields, font_name=self.font_name, width=box.width, height=box.height)
        style = dataclasses.replace(
            self,
            stamp_text="\n".join(fitted.lines).replace("%", "%%"),
            text_box_style=TextBoxStyle(
                font=self.font(fitted.font_size),
                font_size=fitted.font_size,
                leading=leading(fitted.font_size),
                box_layout_rule=_TEXT_IN_ITS_BOX,
            ),
        )
        return TextStamp(writer=writer, style=style, box=box, text_params={})


def block_style(
    *,
    font: Callable[[int], FontEngineFactory],
    font_name: str,
    zone: str,
    reason: str | None,
    background: PdfContent | None = None,
) -> SignatureBlockStyle:
    """The style drawing the block in ``font`` (a factory for a size; ``font_name`` is the same face registered
    with reportlab, to measure the text); ``background`` (a seal) sits behind it, to the right."""
    check_reason(reason)
    return SignatureBlockStyle(
        zone=zone,
        reason=reason,
        font=font,
        font_name=font_name,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(MARGIN),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
        background=background,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MAX,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(4),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
        background_opacity=0.85,
        border_width=FRAME_WIDTH,
        border_color=FRAME_COLOUR,
    )
