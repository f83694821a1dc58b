"""Rendering an official document's content to a PDF/A-2b file laid out per GB/T 9704-2012."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .content import DocumentContent
from .fonts import FontSet
from .geometry import Box, NumberBox
from .layout import lay_out
from .paint import FontUsage, paint
from .pdfa import Metadata
from .pdffile import write_pdf


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    number_box: NumberBox | None
    """Where the document number goes when the content had none: its line left blank, one line cell high."""
    seal_box: Box
    """The square the organisation's round seal is pressed into, over the issuer's name and the date (§7.3.5.1)."""

    def layout(self) -> dict[str, object]:
        """The boxes as JSON-ready lists ``[page, x1, y1, x2, y2]`` (page from 0), with the number's alignment."""
        return {
            "pages": self.pages,
            "number_box": self.number_box.as_list() if self.number_box else None,
            "number_align": self.number_box.align if self.number_box else None,
            "seal_box": self.seal_box.as_list(),
        }


def render(content: DocumentContent, fonts: FontSet, *, now: datetime | None = None) -> Rendered:
    """Lay ``content`` out and write it as PDF/A-2b; ``now`` is the creation time recorded in the metadata."""
    layout = lay_out(content, fonts)
    usage = FontUsage()
    streams = [paint(page, fonts, usage) for page in layout.pages]
    metadata = Metadata(
        title=content.title.replace("\n", ""),
        author=content.issuer,
        subject=content.kind.label + (f" {content.number}" if content.number else ""),
        created=now or datetime.now(UTC),
    )
    return Rendered(
        pdf=write_pdf(streams, usage.subsets, metadata),
        pages=len(layout.pages),
        number_box=layout.number_box,
        seal_box=layout.seal_box,
    )
