"""The page of GB/T 9704-2012 in PDF points (origin at the paper's lower-left corner), and the boxes a render reports.

§5.1: A4 paper. §5.2.1: top margin (天头) 37 mm, left margin (订口) 28 mm, type area (版心) 156 mm × 225 mm.
§5.2.3: 22 lines of 28 characters that fill the type area, so the character and line pitches are derived from it.
§3.1 and §3.2 make the character (字) and the line (行) the units of horizontal and vertical distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MM = 72 / 25.4

PAGE_WIDTH = 210 * MM
PAGE_HEIGHT = 297 * MM

TYPE_WIDTH = 156 * MM
TYPE_HEIGHT = 225 * MM
TYPE_LEFT = 28 * MM
TYPE_RIGHT = TYPE_LEFT + TYPE_WIDTH
TYPE_TOP = PAGE_HEIGHT - 37 * MM
TYPE_BOTTOM = TYPE_TOP - TYPE_HEIGHT
TYPE_CENTRE = TYPE_LEFT + TYPE_WIDTH / 2

LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
CHAR_PITCH = TYPE_WIDTH / CHARS_PER_LINE
"""One 字 of the body grid: 28 of them fill the type area's width (5.57 mm)."""
LINE_PITCH = TYPE_HEIGHT / LINES_PER_PAGE
"""One 行 of the body grid: 22 of them fill the type area's height (10.23 mm)."""

SIZE_2 = 22.0
"""二号, the title (§7.3.1)."""
SIZE_3 = 16.0
"""三号, the body and most other elements (§5.2.2)."""
SIZE_4 = 14.0
"""四号, the colophon (§7.4.2, §7.4.3) and page numbers (§7.5)."""

Colour = tuple[float, float, float]
BLACK: Colour = (0.0, 0.0, 0.0)
RED: Colour = (0.902, 0.0, 0.071)
"""The red of the mark and the rules of the head (#E60012, print red M100 Y100 in sRGB)."""

SEAL_DIAMETER = 42 * MM


def line_top(index: int) -> float:
    """Top of grid line ``index`` (0 is the type area's first line)."""
    return TYPE_TOP - index * LINE_PITCH


def em_bottom(cell_top: float, size: float, height: float = LINE_PITCH) -> float:
    """Bottom of the em box of ``size`` text centred in a line cell whose top is ``cell_top``."""
    return cell_top - height + (height - size) / 2


@dataclass(frozen=True)
class Box:
    """A rectangle on one page: ``page`` counts from 0; x1, y1, x2, y2 are PDF points from the page's lower-left."""

    page: int
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_list(self) -> list[float]:
        return [self.page, round(self.x1, 2), round(self.y1, 2), round(self.x2, 2), round(self.y2, 2)]


Align = Literal["centre", "left", "right"]


@dataclass(frozen=True)
class NumberBox(Box):
    """The line kept free for the document number (发文字号): one full line cell high, as wide as the standard
    lets it run.

    ``align`` is how the number sits in it: centred for downward documents (§7.2.5), left for upward ones, whose
    box starts one character in and ends before the 签发人 block (§7.2.5, §7.2.6), right for the letter format
    (§10.1). Drawn centred, a number fits exactly when the box is first narrowed to its width with ``fit``.
    """

    align: Align = "centre"

    def fit(self, width: float) -> Box:
        """The part of the box a number ``width`` points wide takes, so that centring it in there aligns it as due."""
        width = min(width, self.width)
        if self.align == "left":
            return Box(self.page, self.x1, self.y1, self.x1 + width, self.y2)
        if self.align == "right":
            return Box(self.page, self.x2 - width, self.y1, self.x2, self.y2)
        centre = (self.x1 + self.x2) / 2
        return Box(self.page, centre - width / 2, self.y1, centre + width / 2, self.y2)
