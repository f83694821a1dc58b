"""What follows the body (GB/T 9704-2012 §7.3.5–§7.5): the signature and the seal's box, notes, attachment
pages, the colophon and the page numbers."""

from __future__ import annotations

import math

from .body import Body
from .content import Format, date_text
from .fonts import Role
from .geometry import (
    CHAR_PITCH,
    LINE_PITCH,
    LINES_PER_PAGE,
    MM,
    SEAL_DIAMETER,
    SIZE_3,
    SIZE_4,
    TYPE_BOTTOM,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
    Box,
    line_top,
)
from .grid import Line, Span
from .pages import Bar

COLOPHON_THICK = 0.35 * MM
COLOPHON_THIN = 0.25 * MM
"""§7.4.1: the first and last rules of the colophon are 0.35 mm, the middle ones 0.25 mm."""
FOLIO_GAP = 7 * MM
"""§7.5: the page number's dashes are 7 mm below the type area."""


class Closing(Body):
    """Places what closes the document; attachment pages reuse the main part's title and blocks."""

    def signature(self) -> None:
        """§7.3.5.1: the date four characters from the right, the issuer centred over it, two blank lines above
        them so that the seal's top comes within a line of the text above and its centre a little above them.
        The notes follow on the next line (§7.3.6)."""
        if self.line + 4 > LINES_PER_PAGE:
            self._carry_lines_over()
        above = self.line
        name_line, date_line = above + 2, above + 3
        date = date_text(self.content.date)
        date_width = self.width(date, Role.BODY)
        date_x = TYPE_RIGHT - 4 * CHAR_PITCH - date_width
        centre = date_x + date_width / 2
        name = self.content.signature_text
        name_width = self.width(name, Role.BODY)
        name_x = min(centre - name_width / 2, TYPE_RIGHT - name_width)
        self.lines.append(
            Line(self.page, name_line, [Span(name, self._run_xs(name, Role.BODY, name_x), Role.BODY)], SIZE_3)
        )
        self.lines.append(
            Line(self.page, date_line, [Span(date, self._run_xs(date, Role.BODY, date_x), Role.BODY)], SIZE_3)
        )
        radius = SEAL_DIAMETER / 2
        seal_top = line_top(above) - 0.1 * LINE_PITCH
        self.seal_box = Box(self.page, centre - radius, seal_top - SEAL_DIAMETER, centre + radius, seal_top)
        self.line = date_line + 1
        self.clear_from = math.ceil((TYPE_TOP - (seal_top - SEAL_DIAMETER)) / LINE_PITCH)
        self.place_all(self._notes())

    def _carry_lines_over(self) -> None:
        """Start a page for the signature, taking the last two lines of text along so the seal is not alone (and a
        heading that would be left at the foot of the page with them)."""
        tail = [line for line in self.lines[-2:] if line.page == self.page] if self.last_was_text else []
        if len(tail) == 2 and len(self.lines) > 2:
            before = self.lines[-3]
            if before.page == self.page and before.keep_with_next:
                tail.insert(0, before)
        self.new_page()
        for n, line in enumerate(tail):
            line.page, line.index = self.page, n
        self.line = len(tail)

    def _notes(self) -> list[list[Span]]:
        """§7.3.6: 附注, two characters in, in parentheses."""
        notes = self.content.notes
        if not notes:
            return []
        if not notes.startswith("（"):
            notes = f"（{notes}）"
        return self.compose([(notes, Role.BODY)], first_indent=2 * CHAR_PITCH)

    def attachment_pages(self) -> None:
        """§7.3.7: each attachment on a new page: 附件N in Hei on line 1, its title centred on line 3."""
        numbered = len(self.content.attachments) > 1
        for n, attachment in enumerate(self.content.attachments, 1):
            if not attachment.blocks:
                continue
            self.new_page()
            label = "附件" + (str(n) if numbered else "")
            self.place([Span(label, self._run_xs(label, Role.HEADING, TYPE_LEFT), Role.HEADING)])
            self.line = 2
            self.title(attachment.title)
            self.skip()
            self.blocks(attachment.blocks)

    # --- the colophon (§7.4, §10.1) ---------------------------------------------------------------------

    def colophon(self) -> None:
        colophon = self.content.colophon
        if colophon is None:
            return
        letter = self.content.layout is Format.LETTER
        cell = SIZE_4
        lines: list[list[Span]] = []
        if colophon.copy_to:
            head = "抄送："
            lines = self.compose(
                [(head + "，".join(colophon.copy_to) + "。", Role.BODY)],
                cell=cell,
                first_indent=cell,
                rest_indent=cell + self.width(head, Role.BODY, cell),
                width=TYPE_WIDTH - cell,
                label=len(head),
            )
        printed = not letter and colophon.printed_by is not None and colophon.printed_on is not None
        count = len(lines) + (1 if printed else 0)
        if count == 0:
            return
        first = LINES_PER_PAGE - count
        if self.line > first or self.clear_from > first:
            self.new_page()
        for n, spans in enumerate(lines):
            self.lines.append(Line(self.page, first + n, spans, SIZE_4))
        page = self.fixed[self.page]
        if printed:
            assert colophon.printed_by is not None and colophon.printed_on is not None
            office = colophon.printed_by
            when = date_text(colophon.printed_on) + "印发"
            when_x = TYPE_RIGHT - cell - self.width(when, Role.BODY, cell)
            self.lines.append(
                Line(
                    self.page,
                    LINES_PER_PAGE - 1,
                    [
                        Span(office, self._run_xs(office, Role.BODY, TYPE_LEFT + cell, cell), Role.BODY),
                        Span(when, self._run_xs(when, Role.BODY, when_x, cell), Role.BODY),
                    ],
                    SIZE_4,
                )
            )
        if letter:
            return
        top = line_top(first)
        page.append(Bar(TYPE_LEFT, top - COLOPHON_THICK / 2, TYPE_RIGHT, top + COLOPHON_THICK / 2))
        if printed and lines:
            middle = line_top(LINES_PER_PAGE - 1)
            page.append(Bar(TYPE_LEFT, middle - COLOPHON_THIN / 2, TYPE_RIGHT, middle + COLOPHON_THIN / 2))
        page.append(Bar(TYPE_LEFT, TYPE_BOTTOM, TYPE_RIGHT, TYPE_BOTTOM + COLOPHON_THICK))

    # --- page numbers (§7.5) ----------------------------------------------------------------------------

    def folios(self) -> None:
        """— N — in 四号 宋体 7 mm below the type area: odd pages right, even pages left, one character in.
        The letter's first page has none (§10.1)."""
        bottom = TYPE_BOTTOM - FOLIO_GAP - SIZE_4
        for index in range(len(self.fixed)):
            if index == 0 and self.content.layout is Format.LETTER:
                continue
            text = f"— {index + 1} —"
            width = self.width(text, Role.SONG, SIZE_4)
            x = TYPE_RIGHT - SIZE_4 - width if index % 2 == 0 else TYPE_LEFT + SIZE_4
            self.text(index, text, self._run_xs(text, Role.SONG, x, SIZE_4), bottom, SIZE_4, Role.SONG)
