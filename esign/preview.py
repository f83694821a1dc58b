"""Small pictures of a PDF's pages, with where each visible signature sits: what a clerk glances at beside the
verdict. Rendered with PDFium (pypdfium2) at thumbnail resolution, only for a few pages, so that it costs little
beside verification; it runs in the same parsing worker as verification (``esign.budget``).
"""

from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .errors import PdfMalformed


@dataclass(frozen=True)
class Box:
    """A visible signature's widget on its page, in PDF points from the page's lower-left corner."""

    field_name: str
    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class PagePreview:
    number: int
    """1-based page number."""
    width: float
    """Page size in points."""
    height: float
    image: bytes
    """A WebP picture of the page, ``IMAGE_WIDTH`` pixels wide."""
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Preview:
    pages: tuple[PagePreview, ...]
    page_count: int


IMAGE_WIDTH = 240
"""Pixels: enough to recognise a page's layout and a seal, small enough to render and send in milliseconds."""
MAX_PAGES = 4


def _field_name(form: object, annot: object) -> str:
    size = pdfium_c.FPDFAnnot_GetFormFieldName(form, annot, None, 0)
    if size <= 2:
        return ""
    buffer = ctypes.create_string_buffer(size)
    pdfium_c.FPDFAnnot_GetFormFieldName(form, annot, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")


def _signature_boxes(document: pdfium.PdfDocument, page: pdfium.PdfPage) -> tuple[Box, ...]:
    """Widgets of signature fields with an area: the visible signatures on this page."""
    boxes = []
    form = document.formenv
    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        annot = pdfium_c.FPDFPage_GetAnnot(page, index)
        try:
            if pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET:
                continue
            if pdfium_c.FPDFAnnot_GetFormFieldType(form, annot) != pdfium_c.FPDF_FORMFIELD_SIGNATURE:
                continue
            rect = pdfium_c.FS_RECTF()
            if not pdfium_c.FPDFAnnot_GetRect(annot, rect):
                continue
            if rect.right - rect.left < 1 or rect.top - rect.bottom < 1:
                continue
            boxes.append(Box(_field_name(form, annot), rect.left, rect.bottom, rect.right, rect.top))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return tuple(boxes)


def preview(data: bytes, *, max_pages: int = MAX_PAGES) -> Preview:
    """The first page and the pages with visible signatures, ``max_pages`` at most; ``PdfMalformed`` when PDFium
    cannot open the file."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise PdfMalformed(f"the PDF cannot be rendered: {e}") from e
    try:
        document.init_forms()
        count = len(document)
        chosen: list[tuple[int, tuple[Box, ...]]] = []
        for index in range(count):
            page = document[index]
            try:
                boxes = _signature_boxes(document, page)
            finally:
                page.close()
            if index == 0 or boxes:
                chosen.append((index, boxes))
        if len(chosen) > max_pages:
            chosen = [chosen[0], *chosen[-(max_pages - 1) :]]
        return Preview(pages=tuple(_render(document, index, boxes) for index, boxes in chosen), page_count=count)
    finally:
        document.close()


def _render(document: pdfium.PdfDocument, index: int, boxes: tuple[Box, ...]) -> PagePreview:
    page = document[index]
    try:
        width, height = page.get_size()
        bitmap = page.render(scale=IMAGE_WIDTH / max(width, 1.0), may_draw_forms=True)
        buffer = io.BytesIO()
        bitmap.to_pil().save(buffer, "WEBP", quality=55)
        bitmap.close()
        return PagePreview(number=index + 1, width=width, height=height, image=buffer.getvalue(), boxes=boxes)
    finally:
        page.close()
