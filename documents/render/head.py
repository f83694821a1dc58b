"""The head of the first page (GB/T 9704-2012 §7.2, §10.1): labels, the red mark, the signers, the document number
and the separator, or the letter's double lines."""

from __future__ import annotations

from .fonts import Role
from .geometry import (
    CHAR_PITCH,
    LINE_PITCH,
    MM,
    PAGE_HEIGHT,
    RED,
    SIZE_3,
    TYPE_CENTRE,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
    Align,
    NumberBox,
    em_bottom,
    line_top,
)
from .grid import Grid
from .pages import Bar

SEPARATOR = 2.25
"""Thickness of the red separator under the number (§7.2.7 gives its position and width, not its weight)."""
SEPARATOR_GAP = 4 * MM
"""§7.2.7: the separator is 4 mm below the document number."""
FILE_MARK_TOP = TYPE_TOP - 35 * MM
"""§7.2.4 and §10.3: the mark's top edge is 35 mm below the type area's top edge."""
FILE_TITLE_LINE = 11
FILE_MARK_SIZE = (
    (FILE_MARK_TOP - line_top(FILE_TITLE_LINE))
    - (2 * LINE_PITCH + (LINE_PITCH + SIZE_3) / 2 + SEPARATOR_GAP + SEPARATOR + 2 * LINE_PITCH)
    - 0.01
)
"""Em height of the mark (about 24 mm; the 1999 edition capped it at 22 mm of ink, the 2012 one leaves it to
醒目、美观、庄重). It is the size that puts the title exactly on grid line 12: mark, two blank lines, the number
(§7.2.5), 4 mm, the separator, two blank lines, the title (§7.3.1)."""

LETTER_MARK_TOP = PAGE_HEIGHT - 30 * MM
"""§10.1: the letter's mark is 30 mm below the paper's top edge."""
LETTER_RULE_LENGTH = 170 * MM
LETTER_BOTTOM_RULE = 20 * MM
"""§10.1: the lower double line is 20 mm above the paper's bottom edge."""
DOUBLE_THICK, DOUBLE_GAP, DOUBLE_THIN = 0.8 * MM, 0.5 * MM, 0.3 * MM
LETTER_CLEARANCE = SIZE_3 * 7 / 8
"""§10.1: number and labels sit 7/8 of a 三号 character's height below the upper double line."""
LETTER_TITLE_LINE = 5
LETTER_MARK_SIZE = (
    (LETTER_MARK_TOP - line_top(LETTER_TITLE_LINE))
    - (4 * MM + DOUBLE_THICK + DOUBLE_GAP + DOUBLE_THIN + LETTER_CLEARANCE - (LINE_PITCH - SIZE_3) / 2 + 3 * LINE_PITCH)
    - 0.01
)
"""Em height of the letter's mark (about 19 mm): the size that puts the title on grid line 6 when the number is
the only element under the double line."""


class Head(Grid):
    """Places the first page's head; the title's grid line follows from where it ends."""

    def mark(self, top: float, size: float) -> float:
        """The red mark centred in the type area, its top edge at ``top``; returns its bottom edge."""
        text = self.content.mark_text
        natural = self.width(text, Role.MARK, size)
        scale = min(1.0, TYPE_WIDTH / natural)
        x = TYPE_CENTRE - natural * scale / 2
        xs = []
        for c in text:
            xs.append(x)
            x += self.fonts.cell_width(c, Role.MARK, size) * scale
        self.text(0, text, xs, top - size, size, Role.MARK, RED, scale)
        return top - size

    def head_labels(self) -> list[str]:
        """§7.2.1–§7.2.3: copy number, secrecy and term, urgency, one a line in that order."""
        c = self.content
        return [t for t in (c.copy_number_text, c.secrecy_text, c.urgency) if t]

    def file_head(self) -> None:
        for index, label in enumerate(self.head_labels()):
            self.text(
                0,
                label,
                self._run_xs(label, Role.HEADING, TYPE_LEFT),
                em_bottom(line_top(index), SIZE_3),
                SIZE_3,
                Role.HEADING,
            )
        first_cell = self.mark(FILE_MARK_TOP, FILE_MARK_SIZE) - 2 * LINE_PITCH
        align: Align
        if self.content.kind.upward:
            number_cell, block_left = self.signers(first_cell)
            extent, align = (TYPE_LEFT + CHAR_PITCH, block_left - CHAR_PITCH), "left"
        else:
            number_cell = first_cell
            extent, align = (TYPE_LEFT, TYPE_RIGHT), "centre"
        number_bottom = self.number(number_cell, extent, align)
        separator = number_bottom - SEPARATOR_GAP
        self.fixed[0].append(Bar(TYPE_LEFT, separator - SEPARATOR, TYPE_RIGHT, separator, RED))
        self.line = self._grid_line_below(separator - SEPARATOR - 2 * LINE_PITCH)

    def signers(self, first_cell: float) -> tuple[float, float]:
        """§7.2.6: 签发人： and the names in Kai, two a line, right-aligned one character in; returns the number's
        line (the last one) and the block's left edge."""
        names = self.content.signers
        rows = ["　".join(names[i : i + 2]) for i in range(0, len(names), 2)]
        label = "签发人："
        label_width = self.width(label, Role.BODY)
        block = label_width + max(self.width(r, Role.KAI) for r in rows)
        left = TYPE_RIGHT - CHAR_PITCH - block
        for n, row in enumerate(rows):
            bottom = em_bottom(first_cell - n * LINE_PITCH, SIZE_3)
            if n == 0:
                self.text(0, label, self._run_xs(label, Role.BODY, left), bottom, SIZE_3, Role.BODY)
            self.text(0, row, self._run_xs(row, Role.KAI, left + label_width), bottom, SIZE_3, Role.KAI)
        return first_cell - (len(rows) - 1) * LINE_PITCH, left

    def number(self, cell_top: float, extent: tuple[float, float], align: Align) -> float:
        """The document number in the line cell at ``cell_top``, or the box kept for it; returns its em bottom."""
        bottom = em_bottom(cell_top, SIZE_3)
        x1, x2 = extent
        number = self.content.number
        if number is None:
            self.number_box = NumberBox(0, x1, cell_top - LINE_PITCH, x2, cell_top, align)
            return bottom
        width = self.width(number, Role.BODY)
        x = {"left": x1, "right": x2 - width, "centre": (x1 + x2 - width) / 2}[align]
        self.text(0, number, self._run_xs(number, Role.BODY, x), bottom, SIZE_3, Role.BODY)
        return bottom

    def letter_head(self) -> None:
        mark_bottom = self.mark(LETTER_MARK_TOP, LETTER_MARK_SIZE)
        top = mark_bottom - 4 * MM
        x1, x2 = TYPE_CENTRE - LETTER_RULE_LENGTH / 2, TYPE_CENTRE + LETTER_RULE_LENGTH / 2
        self.fixed[0].append(Bar(x1, top - DOUBLE_THICK, x2, top, RED))
        below = top - DOUBLE_THICK - DOUBLE_GAP - DOUBLE_THIN
        self.fixed[0].append(Bar(x1, below, x2, below + DOUBLE_THIN, RED))
        low = LETTER_BOTTOM_RULE
        self.fixed[0].append(Bar(x1, low, x2, low + DOUBLE_THICK, RED))
        thin = low + DOUBLE_THICK + DOUBLE_GAP
        self.fixed[0].append(Bar(x1, thin, x2, thin + DOUBLE_THIN, RED))

        first_cell = below - LETTER_CLEARANCE + (LINE_PITCH - SIZE_3) / 2
        labels = self.head_labels()
        for n, label in enumerate(labels):
            self.text(
                0,
                label,
                self._run_xs(label, Role.HEADING, TYPE_LEFT),
                em_bottom(first_cell - n * LINE_PITCH, SIZE_3),
                SIZE_3,
                Role.HEADING,
            )
        start = TYPE_LEFT + self.width(labels[0], Role.HEADING) + CHAR_PITCH if labels else TYPE_LEFT
        self.number(first_cell, (start, TYPE_RIGHT), "right")
        last_cell_bottom = first_cell - max(1, len(labels)) * LINE_PITCH
        self.line = self._grid_line_below(last_cell_bottom - 2 * LINE_PITCH)
