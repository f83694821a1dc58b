"""Page previews as the page draws them: each picture inline (nothing uploaded is kept to be fetched later) and
each visible signature's box, in the page's own coordinates, tied to its signature block by number."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from esign.preview import Preview
from esign.report import VerificationReport


@dataclass(frozen=True)
class Outline:
    field_name: str
    index: int | None
    """The signature's number on the page (``data-signature-index``); None when no report is at hand (the page's
    script numbers the boxes by field name) or the report does not list the field (an empty signature field)."""
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PageView:
    number: int
    width: float
    height: float
    src: str
    outlines: tuple[Outline, ...]


def pages(preview: Preview, report: VerificationReport | None) -> list[PageView]:
    numbers = {signature.field_name: n for n, signature in enumerate(report.signatures, start=1)} if report else {}
    return [
        PageView(
            number=page.number,
            width=round(page.width, 1),
            height=round(page.height, 1),
            src="data:image/webp;base64," + base64.b64encode(page.image).decode("ascii"),
            outlines=tuple(
                Outline(
                    field_name=box.field_name,
                    index=numbers.get(box.field_name),
                    x=round(box.left, 1),
                    y=round(page.height - box.top, 1),  # SVG counts from the top, PDF from the bottom
                    width=round(box.right - box.left, 1),
                    height=round(box.top - box.bottom, 1),
                )
                for box in page.boxes
            ),
        )
        for page in preview.pages
    ]
