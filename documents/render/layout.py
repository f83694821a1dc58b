"""Laying a document out on GB/T 9704-2012 pages: what goes where, before anything is drawn.

Body text sits on the page's grid of 22 lines of 28 characters (§5.2.3): every text line takes one line cell with
its em box centred in it. The head of the first page is placed by the distances the standard gives from the type
area's top (§7.2) or the paper's edge (§10.1); the title then takes the first grid line at least two lines below
the separator, and everything after it follows on the grid. Tables are the one thing measured in points rather
than lines; the grid resumes below them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .content import DocumentContent, Format, Heading, Paragraph, Table, date_text
from .errors import RenderError
from .fonts import FontSet, Role
from .geometry import (
    BLACK,
    CHAR_PITCH,
    LINE_PITCH,
    LINES_PER_PAGE,
    MM,
    PAGE_HEIGHT,
    RED,
    SEAL_DIAMETER,
    SIZE_2,
    SIZE_3,
    SIZE_4,
    TYPE_BOTTOM,
    TYPE_CENTRE,
    TYPE_HEIGHT,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
    Align,
    Box,
    Colour,
    NumberBox,
    em_bottom,
    line_top,
)
from .linebreak import break_lines

SEPARATOR = 2.25
"""Thickness of the red separator under the number (§7.2.7 gives its position and width, not its weight)."""
SEPARATOR_GAP = 4 * MM
"""§7.2.7: the separator is 4 mm below the document number."""
FILE_MARK_TOP = TYPE_TOP - 35 * MM
"""§7.2.4 and §10.3: the mark's top edge is 35 mm below the type area's top edge."""
FILE_TITLE_LINE = 11
FILE_MARK_SIZE = (FILE_MARK_TOP - line_top(FILE_TITLE_LINE)) - (
    2 * LINE_PITCH + (LINE_PITCH + SIZE_3) / 2 + SEPARATOR_GAP + SEPARATOR + 2 * LINE_PITCH
) - 0.01
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
LETTER_MARK_SIZE = (LETTER_MARK_TOP - line_top(LETTER_TITLE_LINE)) - (
    4 * MM + DOUBLE_THICK + DOUBLE_GAP + DOUBLE_THIN + LETTER_CLEARANCE - (LINE_PITCH - SIZE_3) / 2 + 3 * LINE_PITCH
) - 0.01
"""Em height of the letter's mark (about 19 mm): the size that puts the title on grid line 6 when the number is
the only element under the double line."""

COLOPHON_THICK = 0.35 * MM
COLOPHON_THIN = 0.25 * MM
"""§7.4.1: the first and last rules of the colophon are 0.35 mm, the middle ones 0.25 mm."""
FOLIO_GAP = 7 * MM
"""§7.5: the page number's dashes are 7 mm below the type area."""
TABLE_RULE = 0.5
TABLE_LEADING = 1.5
_JUSTIFY_LIMIT = 0.1
"""Largest extra space between two characters, in characters, that justifying a line may add."""


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


@dataclass(slots=True)
class _Span:
    text: str
    xs: list[float]
    role: Role


@dataclass(slots=True)
class _Line:
    """A line of text placed on a page's grid; a few may still move to the next page to keep the seal company."""

    page: int
    index: int
    spans: list[_Span]
    size: float
    keep_with_next: bool = False


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


class _Builder:
    def __init__(self, content: DocumentContent, fonts: FontSet) -> None:
        self.content = content
        self.fonts = fonts
        self.fixed: list[list[Item]] = [[]]
        self.lines: list[_Line] = []
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
    ) -> list[list[_Span]]:
        """Break the text into lines of the given width and place every character horizontally.

        The first ``label`` characters (附件：, 抄送：, 出席：) take no justifying space, so that the text after them
        stays aligned with the continuation lines' indent."""
        text = "".join(t for t, _ in spans)
        roles = [role for t, role in spans for _ in t]
        widths = [self.fonts.cell_width(c, r, cell) for c, r in zip(text, roles, strict=True)]

        def room(n: int) -> float:
            return width - (first_indent if n == 0 else rest_indent)

        breaks = break_lines(text, widths, room)
        composed: list[list[_Span]] = []
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
            line: list[_Span] = []
            for i in range(start, end):
                if not line or line[-1].role is not roles[i]:
                    line.append(_Span("", [], roles[i]))
                line[-1].text += text[i]
                line[-1].xs.append(x)
                x += widths[i] + gaps.get(i, 0.0)
            composed.append(line)
        return composed

    def _justify(self, text: str, roles: list[Role], start: int, end: int, extra: float, cell: float) -> dict[int, float]:
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

    def place(self, spans: list[_Span], size: float = SIZE_3) -> None:
        if self.line >= LINES_PER_PAGE:
            self.new_page()
        self.lines.append(_Line(self.page, self.line, spans, size))
        self.line += 1
        self.last_was_text = True

    def place_all(self, lines: list[list[_Span]], size: float = SIZE_3) -> None:
        for spans in lines:
            self.place(spans, size)

    def skip(self, count: int = 1) -> None:
        """Blank lines; none at the top of a page."""
        if self.line > 0:
            self.line += count

    def text(self, page: int, text: str, xs: Sequence[float], bottom: float, size: float, role: Role,
             colour: Colour = BLACK, hscale: float = 1.0) -> None:
        self.fixed[page].append(Text(text, tuple(xs), bottom, size, role, colour, hscale))

    def spans_at(self, page: int, spans: list[_Span], bottom: float, size: float) -> None:
        for span in spans:
            self.text(page, span.text, span.xs, bottom, size, span.role)

    # --- the head (§7.2, §10.1) -------------------------------------------------------------------------

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
            self.text(0, label, self._run_xs(label, Role.HEADING, TYPE_LEFT), em_bottom(line_top(index), SIZE_3), SIZE_3,
                      Role.HEADING)
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
        rows = ["　".join(names[i:i + 2]) for i in range(0, len(names), 2)]
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
            self.text(0, label, self._run_xs(label, Role.HEADING, TYPE_LEFT),
                      em_bottom(first_cell - n * LINE_PITCH, SIZE_3), SIZE_3, Role.HEADING)
        start = TYPE_LEFT + self.width(labels[0], Role.HEADING) + CHAR_PITCH if labels else TYPE_LEFT
        self.number(first_cell, (start, TYPE_RIGHT), "right")
        last_cell_bottom = first_cell - max(1, len(labels)) * LINE_PITCH
        self.line = self._grid_line_below(last_cell_bottom - 2 * LINE_PITCH)

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

    # --- the main part (§7.3) ---------------------------------------------------------------------------

    def title(self, text: str) -> None:
        """§7.3.1: 二号 小标宋, centred on one or more lines; long lines are balanced, longest first."""
        for segment in text.split("\n"):
            widths = [self.fonts.cell_width(c, Role.TITLE, SIZE_2) for c in segment]
            natural = sum(widths)
            width = _balanced_width(segment, widths, max(1, math.ceil(natural / TYPE_WIDTH - 1e-9)))
            self.place_all(self.compose([(segment, Role.TITLE)], cell=SIZE_2, width=width, left=TYPE_CENTRE - width / 2,
                                        align="centre"), SIZE_2)

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
                self.compose([(cell, role)], cell=size, width=widths[i] - 2 * pad, left=lefts[i] + pad,
                             align="centre" if header else "left", justify=False)
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

        def draw_row(cells: list[list[list[_Span]]], height: float) -> None:
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
            self.place_all(self.compose([(label + attachments[0].title, Role.BODY)], first_indent=2 * CHAR_PITCH,
                                        rest_indent=start, label=len(label)))
            return
        for n, attachment in enumerate(attachments, 1):
            number = f"{n}．"
            text = (label if n == 1 else "") + number + attachment.title
            self.place_all(self.compose([(text, Role.BODY)], first_indent=2 * CHAR_PITCH if n == 1 else start,
                                        rest_indent=start + self.width(number, Role.BODY),
                                        label=len(text) - len(attachment.title)))

    def attendance(self) -> None:
        """§10.3: one line below the body, 出席： in Hei then the names, likewise 请假 and 列席 on lines of their own."""
        lists = [("出席", self.content.attendees), ("请假", self.content.absentees), ("列席", self.content.observers)]
        present = [(label, names) for label, names in lists if names]
        if not present:
            return
        self.skip()
        for label, names in present:
            head = label + "："
            self.place_all(self.compose([(head, Role.HEADING), ("、".join(names), Role.BODY)],
                                        first_indent=2 * CHAR_PITCH,
                                        rest_indent=2 * CHAR_PITCH + self.width(head, Role.HEADING), label=len(head)))

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
        self.lines.append(_Line(self.page, name_line, [_Span(name, self._run_xs(name, Role.BODY, name_x), Role.BODY)],
                                SIZE_3))
        self.lines.append(_Line(self.page, date_line, [_Span(date, self._run_xs(date, Role.BODY, date_x), Role.BODY)],
                                SIZE_3))
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

    def _notes(self) -> list[list[_Span]]:
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
            self.place([_Span(label, self._run_xs(label, Role.HEADING, TYPE_LEFT), Role.HEADING)])
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
        lines: list[list[_Span]] = []
        if colophon.copy_to:
            head = "抄送："
            lines = self.compose([(head + "，".join(colophon.copy_to) + "。", Role.BODY)], cell=cell,
                                 first_indent=cell, rest_indent=cell + self.width(head, Role.BODY, cell),
                                 width=TYPE_WIDTH - cell, label=len(head))
        printed = not letter and colophon.printed_by is not None and colophon.printed_on is not None
        count = len(lines) + (1 if printed else 0)
        if count == 0:
            return
        first = LINES_PER_PAGE - count
        if self.line > first or self.clear_from > first:
            self.new_page()
        for n, spans in enumerate(lines):
            self.lines.append(_Line(self.page, first + n, spans, SIZE_4))
        page = self.fixed[self.page]
        if printed:
            assert colophon.printed_by is not None and colophon.printed_on is not None
            office = colophon.printed_by
            when = date_text(colophon.printed_on) + "印发"
            when_x = TYPE_RIGHT - cell - self.width(when, Role.BODY, cell)
            self.lines.append(_Line(self.page, LINES_PER_PAGE - 1, [
                _Span(office, self._run_xs(office, Role.BODY, TYPE_LEFT + cell, cell), Role.BODY),
                _Span(when, self._run_xs(when, Role.BODY, when_x, cell), Role.BODY),
            ], SIZE_4))
        if letter:
            return
        page.append(Bar(TYPE_LEFT, line_top(first) - COLOPHON_THICK / 2, TYPE_RIGHT, line_top(first) + COLOPHON_THICK / 2))
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

    def build(self) -> Layout:
        if self.content.layout is Format.LETTER:
            self.letter_head()
        else:
            self.file_head()
        self.title(self.content.title)
        self.recipients()
        self.blocks(self.content.body)
        self.attachment_list()
        self.attendance()
        self.signature()
        self.attachment_pages()
        self.colophon()
        self.folios()
        for line in self.lines:
            self.spans_at(line.page, line.spans, em_bottom(line_top(line.index), line.size), line.size)
        assert self.seal_box is not None
        return Layout(tuple(Page(tuple(items)) for items in self.fixed), self.number_box, self.seal_box)


def lay_out(content: DocumentContent, fonts: FontSet) -> Layout:
    """Where every element of ``content`` goes, page by page, per GB/T 9704-2012."""
    return _Builder(content, fonts).build()
