"""What a laid-out document is: pages of text runs and filled rectangles, each at its final place."""

from __future__ import annotations

from dataclasses import dataclass

from .fonts import Role
from .geometry import BLACK, Box, Colour, NumberBox


@dataclass(frozen=True, slots=True)
class Text:
    """Characters of one role on one line, each at its own x (its cell's left edge); their em boxes' bottom edge at
    ``em_bottom``."""

    text: str
    xs: tuple[float, ...]
    em_bottom: float
    size: float
    role: Role
    colour: Colour = BLACK
    hscale: float = 1.0


@dataclass(frozen=True, slots=True)
class Bar:
    """A filled rectangle: a rule of the head, of the colophon or of a table."""

    x1: float
    y1: float
    x2: float
    y2: float
    colour: Colour = BLACK


Item = Text | Bar


@dataclass(frozen=True)
class Page:
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Layout:
    pages: tuple[Page, ...]
    number_box: NumberBox | None
    seal_box: Box
