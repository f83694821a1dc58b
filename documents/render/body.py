"""The main part (GB/T 9704-2012 §7.3): title, recipients, body text, headings, tables, the attachment list and
the attendance of minutes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .content import Heading, Paragraph, Table
from .errors import RenderError
from .fonts import Role
from .geometry import (
    CHAR_PITCH,
    LINES_PER_PAGE,
    SIZE_2,
    SIZE_4,
    TYPE_BOTTOM,
    TYPE_CENTRE,
    TYPE_HEIGHT,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
    em_bottom,
    line_top,
)
from .grid import Grid, Span
from .linebreak import break_lines
from .pages import Bar

TABLE_RULE = 0.5
TABLE_LEADING = 1.5


def chinese_numeral(n: int) -> str:
    """一 … 九十九, the numbering of first- and second-level headings (§7.3.3)."""
    digits = "〇一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


def heading_label(level: int, n: int) -> str:
    """§7.3.3: 一、 （一） 1． （1）."""
    if level == 1:
        return f"{chinese_numeral(n)}、"
    if level == 2:
        return f"（{chinese_numeral(n)}）"
    if level == 3:
        return f"{n}．"
    return f"（{n}）"


def _balanced_width(text: str, widths: list[float], lines: int) -> float:
    """The narrowest width, from an even share upwards, at which ``text`` still breaks into ``lines`` lines."""
    width = sum(widths) / lines
    while width < TYPE_WIDTH and len(break_lines(text, widths, _constant(width))) > lines:
        width += SIZE_2 / 2
    return min(width, TYPE_WIDTH)


def _constant(value: float) -> Callable[[int], float]:
    return lambda _: value


HEADING_ROLES = {1: Role.HEADING, 2: Role.KAI, 3: Role.BODY, 4: Role.BODY}


class Body(Grid):
    """Places the main part on the grid, line after line (tables in points, the grid resuming below them)."""

    def title(self, text: str) -> None:
        """§7.3.1: 二号 小标宋, centred on one or more lines; long lines are balanced, longest first."""
        for segment in text.split("\n"):
            widths = [self.fonts.cell_width(c, Role.TITLE, SIZE_2) for c in segment]
            natural = sum(widths)
            width = _balanced_width(segment, widths, max(1, math.ceil(natural / TYPE_WIDTH - 1e-9)))
            self.place_all(
                self.compose(
                    [(segment, Role.TITLE)], cell=SIZE_2, width=width, left=TYPE_CENTRE - width / 2, align="centre"
                ),
                SIZE_2,
            )

    def recipients(self) -> None:
        """§7.3.2: one line below the title, flush left, ending with a full-width colon; the body follows on the
        next line (§7.3.3), or one line below the title when there are no recipients (minutes)."""
        self.skip()
        if self.content.recipients:
            self.place_all(self.compose([("、".join(self.content.recipients) + "：", Role.BODY)]))

    def blocks(self, blocks: Sequence[Paragraph | Heading | Table]) -> None:
        counters = [0, 0, 0, 0]
        for block in blocks:
            if isinstance(block, Paragraph):
                self.place_all(self.compose([(block.text, Role.BODY)], first_indent=2 * CHAR_PITCH))
            elif isinstance(block, Heading):
                counters[block.level - 1] += 1
                for deeper in range(block.level, 4):
                    counters[deeper] = 0
                label = heading_label(block.level, counters[block.level - 1])
                spans = [(label + block.text, HEADING_ROLES[block.level])]
                if block.body:
                    spans.append((block.body, Role.BODY))
                lines = self.compose(spans, first_indent=2 * CHAR_PITCH)
                if not block.body and self.line + len(lines) >= LINES_PER_PAGE:
                    self.new_page()
                self.place_all(lines)
                self.lines[-1].keep_with_next = not block.body
            else:
                self.table(block)

    def table(self, table: Table) -> None:
        """A ruled table in 四号 type across the type area; rows flow over pages, header rows repeated."""
        size, pad = SIZE_4, SIZE_4 * 0.3
        leading = size * TABLE_LEADING
        columns = len(table.rows[0])
        widths = self._column_widths(table, size, pad)
        lefts = [TYPE_LEFT + sum(widths[:i]) for i in range(columns)]
        rows = []
        for r, row in enumerate(table.rows):
            header = r < table.header_rows
            role = Role.HEADING if header else Role.BODY
            cells = [
                self.compose(
                    [(cell, role)],
                    cell=size,
                    width=widths[i] - 2 * pad,
                    left=lefts[i] + pad,
                    align="centre" if header else "left",
                    justify=False,
                )
                for i, cell in enumerate(row)
            ]
            height = max(1, *(len(c) for c in cells)) * leading + 2 * pad
            if height > TYPE_HEIGHT:
                raise RenderError(f"table row {r + 1} is taller than a page")
            rows.append((cells, height))

        if self.line >= LINES_PER_PAGE:
            self.new_page()
        y = segment_top = line_top(self.line)

        def close_segment() -> None:
            self.fixed[self.page].append(Bar(TYPE_LEFT, y - TABLE_RULE / 2, TYPE_RIGHT, y + TABLE_RULE / 2))

        def draw_row(cells: list[list[list[Span]]], height: float) -> None:
            nonlocal y
            page = self.fixed[self.page]
            page.append(Bar(TYPE_LEFT, y - TABLE_RULE / 2, TYPE_RIGHT, y + TABLE_RULE / 2))
            for x in [*lefts, TYPE_RIGHT]:
                page.append(Bar(x - TABLE_RULE / 2, y - height, x + TABLE_RULE / 2, y))
            for lines in cells:
                for n, spans in enumerate(lines):
                    self.spans_at(self.page, spans, em_bottom(y - pad - n * leading, size, leading), size)
            y -= height

        headers = rows[: table.header_rows]
        header_height = sum(height for _, height in headers)
        for r, (cells, height) in enumerate(rows):
            needed = height
            if r == 0 and headers:
                needed = header_height + (rows[len(headers)][1] if len(rows) > len(headers) else 0)
            if y - needed < TYPE_BOTTOM - 1e-6 and not (self.line == 0 and y == segment_top == TYPE_TOP):
                if y < segment_top:
                    close_segment()
                self.new_page()
                y = segment_top = TYPE_TOP
                if r >= len(headers):
                    for header_cells, height_of_header in headers:
                        draw_row(header_cells, height_of_header)
            draw_row(cells, height)
        close_segment()
        self.line = self._grid_line_below(y - TABLE_RULE)
        self.last_was_text = False

    def _column_widths(self, table: Table, size: float, pad: float) -> list[float]:
        columns = len(table.rows[0])
        if table.widths is not None:
            total = sum(table.widths)
            return [TYPE_WIDTH * w / total for w in table.widths]
        natural = [max(self.width(row[i], Role.BODY, size) for row in table.rows) + 2 * pad for i in range(columns)]
        if sum(natural) <= TYPE_WIDTH:
            return [TYPE_WIDTH * n / sum(natural) for n in natural]
        floor = [min(n, 3 * size + 2 * pad) for n in natural]
        spare = TYPE_WIDTH - sum(floor)
        excess = sum(n - f for n, f in zip(natural, floor, strict=True))
        return [f + spare * (n - f) / excess for n, f in zip(natural, floor, strict=True)]

    def attachment_list(self) -> None:
        """§7.3.4: one line below the body, two characters in: 附件：1．name, names aligned when they wrap."""
        attachments = self.content.attachments
        if not attachments:
            return
        self.skip()
        label = "附件："
        start = 2 * CHAR_PITCH + self.width(label, Role.BODY)
        if len(attachments) == 1:
            self.place_all(
                self.compose(
                    [(label + attachments[0].title, Role.BODY)],
                    first_indent=2 * CHAR_PITCH,
                    rest_indent=start,
                    label=len(label),
                )
            )
            return
        for n, attachment in enumerate(attachments, 1):
            number = f"{n}．"
            text = (label if n == 1 else "") + number + attachment.title
            self.place_all(
                self.compose(
                    [(text, Role.BODY)],
                    first_indent=2 * CHAR_PITCH if n == 1 else start,
                    rest_indent=start + self.width(number, Role.BODY),
                    label=len(text) - len(attachment.title),
                )
            )

    def attendance(self) -> None:
        """§10.3: one line below the body, 出席： in Hei then the names, likewise 请假 and 列席 on lines of their
        own."""
        lists = [("出席", self.content.attendees), ("请假", self.content.absentees), ("列席", self.content.observers)]
        present = [(label, names) for label, names in lists if names]
        if not present:
            return
        self.skip()
        for label, names in present:
            head = label + "："
            self.place_all(
                self.compose(
                    [(head, Role.HEADING), ("、".join(names), Role.BODY)],
                    first_indent=2 * CHAR_PITCH,
                    rest_indent=2 * CHAR_PITCH + self.width(head, Role.HEADING),
                    label=len(head),
                )
            )
