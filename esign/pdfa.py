"""The PDF/A conformance a document claims, read from its XMP metadata (ISO 19005-2 §6.6.4, the pdfaid schema).

Signing must not break the claim. PDF/A-1 rests on PDF 1.4, PDF/A-2 and PDF/A-3 on PDF 1.7 (ISO 19005-2 §6.1.2
allows only ``%PDF-1.n`` headers), PDF/A-4 on PDF 2.0: an incremental update to a PDF/A-1/2/3 file may not
declare PDF 2.0 in the catalogue's ``/Version``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
from pyhanko.pdf_utils.reader import PdfFileReader

from . import pdf

_PART = model.ExpandedName(ns=model.NS["pdfaid"], local_name="part")
_CONFORMANCE = model.ExpandedName(ns=model.NS["pdfaid"], local_name="conformance")


@dataclass(frozen=True)
class Identification:
    """``pdfaid:part`` and ``pdfaid:conformance`` (e.g. 2 and "B" for PDF/A-2b)."""

    part: int
    conformance: str | None

    @property
    def on_pdf_1(self) -> bool:
        """The part is built on ISO 32000-1 (PDF 1.x): PDF/A-1, -2 and -3."""
        return self.part <= 3


def _text(value: model.XmpValue) -> str | None:
    return value.value.strip() if isinstance(value.value, str) else None


def identification(reader: PdfFileReader) -> Identification | None:
    """What the document's XMP packet says it conforms to; ``None`` when it claims no PDF/A part (or its
    metadata cannot be read, which no PDF/A file allows)."""
    try:
        metadata = reader.root["/Metadata"]
        if not isinstance(metadata, MetadataStream):
            return None
        structures = metadata.xmp
    except pdf.PARSE_ERRORS:  # XmpXmlProcessingError is a ValueError
        return None
    properties = {name: value for structure in structures for name, value in structure}
    part = _text(properties[_PART]) if _PART in properties else None
    if part is None or not part.isdigit():
        return None
    conformance = _text(properties[_CONFORMANCE]) if _CONFORMANCE in properties else None
    return Identification(part=int(part), conformance=conformance)
