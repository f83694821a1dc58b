"""Changes an attacker (or a careless tool) makes to a signed PDF, as incremental updates."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_page(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (Added later) Tj ET"))
    page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
            generic.pdf_name("/Contents"): content,
            generic.pdf_name("/Resources"): generic.DictionaryObject(),
        }
    )
    writer.insert_page(page)
    return _write(writer)


def add_content_stream(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = writer.add_object(generic.StreamObject(stream_data=b"1 0 0 rg 72 72 200 200 re f"))
    writer.add_stream_to_page(0, stream)
    return _write(writer)


def fill_text_field(pdf: bytes, name: str, value: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if field.get("/T") == name:
            field[generic.pdf_name("/V")] = generic.TextStringObject(value)
            writer.update_container(field)
            break
    else:
        raise LookupError(name)
    return _write(writer)


def flip_byte(pdf: bytes, marker: bytes) -> bytes:
    """Change one byte inside ``marker``, which must sit in a signed byte range."""
    at = pdf.index(marker) + len(marker) // 2
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]
