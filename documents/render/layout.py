"""Laying a document out on GB/T 9704-2012 pages: what goes where, before anything is drawn.

Body text sits on the page's grid of 22 lines of 28 characters (§5.2.3): every text line takes one line cell with
its em box centred in it. The head of the first page is placed by the distances the standard gives from the type
area's top (§7.2) or the paper's edge (§10.1); the title then takes the first grid line at least two lines below
the separator, and everything after it follows on the grid. Tables are the one thing measured in points rather
than lines; the grid resumes below them.
"""

from __future__ import annotations

from .body import chinese_numeral, heading_label
from .closing import Closing
from .content import DocumentContent, Format
from .fonts import FontSet
from .geometry import em_bottom, line_top
from .head import Head
from .pages import Bar, Item, Layout, Page, Text

__all__ = ["Bar", "Item", "Layout", "Page", "Text", "chinese_numeral", "heading_label", "lay_out"]


class _Builder(Head, Closing):
    """The whole document: its head, then the main part and what closes it."""

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
