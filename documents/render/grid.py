"""Composing text into lines and placing lines on the page grid (GB/T 9704-2012 §5.2.3: 22 lines of 28
characters); the base every part of the layout builds on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .content import DocumentContent
from .fonts import FontSet, Role
from .geometry import (
    BLACK,
    CHAR_PITCH,
    LINE_PITCH,
    LINES_PER_PAGE,
    SIZE_3,
    TYPE_LEFT,
    TYPE_TOP,
    TYPE_WIDTH,
    Align,
    Box,
    Colour,
    NumberBox,
)
from .linebreak import break_lines
from .pages import Item, Text

_JUSTIFY_LIMIT = 0.1
"""Largest extra space between two characters, in characters, that justifying a line may add."""


@dataclass(slots=True)
class Span:
    text: str
    xs: list[float]
    role: Role


@dataclass(slots=True)
class Line:
    """A line of text placed on a page's grid; a few may still move to the next page to keep the seal company."""

    page: int
    index: int
    spans: list[Span]
    size: float
    keep_with_next: bool = False


class Grid:
    """A document being laid out: the items fixed on each page, and the text lines placed on the grid."""

    def __init__(self, content: DocumentContent, fonts: FontSet) -> None:
        self.content = content
        self.fonts = fonts
        self.fixed: list[list[Item]] = [[]]
        self.lines: list[Line] = []
        self.page = 0
        self.line = 0
        self.last_was_text = False
        self.clear_from = 0
        """First grid line of the current page below the seal."""
        self.number_box: NumberBox | None = None
        self.seal_box: Box | None = None

    # --- composing lines --------------------------------------------------------------------------------

    def width(self, text: str, role: Role, cell: float = CHAR_PITCH) -> float:
        return sum(self.fonts.cell_width(c, role, cell) for c in text)

    def compose(
        self,
        spans: Sequence[tuple[str, Role]],
        *,
        cell: float = CHAR_PITCH,
        first_indent: float = 0.0,
        rest_indent: float = 0.0,
        width: float = TYPE_WIDTH,
        align: Align = "left",
        justify: bool = True,
        left: float = TYPE_LEFT,
        label: int = 0,
    ) -> list[list[Span]]:
        """Break the text into lines of the given width and place every character horizontally.

        The first ``label`` characters (附件：, 抄送：, 出席：) take no justifying space, so that the text after them
        stays aligned with the continuation lines' indent."""
        text = "".join(t for t, _ in spans)
        roles = [role for t, role in spans for _ in t]
        widths = [self.fonts.cell_width(c, r, cell) for c, r in zip(text, roles, strict=True)]

        def room(n: int) -> float:
            return width - (first_indent if n == 0 else rest_indent)

        breaks = break_lines(text, widths, room)
        composed: list[list[Span]] = []
        for n, (start, end) in enumerate(breaks):
            natural = sum(widths[start:end])
            x = left + (first_indent if n == 0 else rest_indent)
            if align == "centre":
                x += (room(n) - natural) / 2
            elif align == "right":
                x += room(n) - natural
            gaps: dict[int, float] = {}
            if justify and align == "left" and n < len(breaks) - 1:
                gaps = self._justify(text, roles, max(start, label), end, room(n) - natural, cell)
            line: list[Span] = []
            for i in range(start, end):
                if not line or line[-1].role is not roles[i]:
                    line.append(Span("", [], roles[i]))
                line[-1].text += text[i]
                line[-1].xs.append(x)
                x += widths[i] + gaps.get(i, 0.0)
            composed.append(line)
        return composed

    def _justify(
        self, text: str, roles: list[Role], start: int, end: int, extra: float, cell: float
    ) -> dict[int, float]:
        """Spread ``extra`` over the gaps after characters start…end-2 so the line ends flush right.

        Only gaps between two characters of the same face take space, where there are some: a gap between faces is
        where text extractors look hardest for word breaks. No gap grows past a tenth of a character (the most
        extractors tolerate inside a word); a line that would need more stays ragged.
        """
        if extra <= 1e-6 or end - start < 2:
            return {}
        faces = [self.fonts.face(text[i], roles[i]) for i in range(start, end)]
        same = [i for i in range(start, end - 1) if faces[i - start] is faces[i + 1 - start]]
        chosen = same or list(range(start, end - 1))
        each = extra / len(chosen)
        if each > _JUSTIFY_LIMIT * cell:
            return {}
        return dict.fromkeys(chosen, each)

    # --- placing lines ----------------------------------------------------------------------------------

    def new_page(self) -> None:
        self.fixed.append([])
        self.page += 1
        self.line = 0
        self.clear_from = 0

    def place(self, spans: list[Span], size: float = SIZE_3) -> None:
        if self.line >= LINES_PER_PAGE:
            self.new_page()
        self.lines.append(Line(self.page, self.line, spans, size))
        self.line += 1
        self.last_was_text = True

    def place_all(self, lines: list[list[Span]], size: float = SIZE_3) -> None:
        for spans in lines:
            self.place(spans, size)

    def skip(self, count: int = 1) -> None:
        """Blank lines; none at the top of a page."""
        if self.line > 0:
            self.line += count

    def text(
        self,
        page: int,
        text: str,
        xs: Sequence[float],
        bottom: float,
        size: float,
        role: Role,
        colour: Colour = BLACK,
        hscale: float = 1.0,
    ) -> None:
        self.fixed[page].append(Text(text, tuple(xs), bottom, size, role, colour, hscale))

    def spans_at(self, page: int, spans: list[Span], bottom: float, size: float) -> None:
        for span in spans:
            self.text(page, span.text, span.xs, bottom, size, span.role)

    @staticmethod
    def _grid_line_below(y: float) -> int:
        """The first grid line whose top is at or below ``y``."""
        return max(0, math.ceil((TYPE_TOP - y) / LINE_PITCH - 1e-6))

    def _run_xs(self, text: str, role: Role, x: float, cell: float = CHAR_PITCH) -> list[float]:
        xs = []
        for c in text:
            xs.append(x)
            x += self.fonts.cell_width(c, role, cell)
        return xs
