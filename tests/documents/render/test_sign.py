"""A rendered document is a normal PDF that the signature engine signs incrementally and verifies."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.render import FontSet, render
from esign.appearance import Appearance
from esign.sign import SignOptions, sign
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import verify

from . import samples


def test_rendered_document_signs_and_verifies(fonts: FontSet, ec_signer: KeySigner, trust: TrustSettings) -> None:
    pdf = render(samples.notice(number=None), fonts).pdf
    signed = sign(pdf, ec_signer)
    assert signed.startswith(pdf)
    report = verify(signed, trust)
    assert report.valid, report.summary
    assert report.signatures[0].coverage == "entire_file"
    # pyhanko's incremental update keeps the PDF/A identification in the XMP.
    reader = PdfFileReader(io.BytesIO(signed))
    assert 'pdfaid:part="2"' in reader.root["/Metadata"].get_object().data.decode()


def _entry(holder: generic.DictionaryObject, key: str, empty: generic.PdfObject | None = None) -> Any:
    """``holder[key]`` dereferenced, ``empty`` (a dictionary) when absent; pyhanko's ``get`` does not dereference."""
    return holder[key] if key in holder else empty if empty is not None else generic.DictionaryObject()


def _subset_fonts(reader: PdfFileReader) -> list[tuple[str, bytes]]:
    """Every font reachable from the pages, their annotations' appearances and the forms in them: (name,
    digest of the embedded program)."""
    found: dict[int, tuple[str, bytes]] = {}
    seen: set[int] = set()

    def walk(holder: Any) -> None:
        res = _entry(holder, "/Resources")
        fonts, xobjects = _entry(res, "/Font"), _entry(res, "/XObject")
        for name in fonts:
            font = fonts[name]
            descendant = font["/DescendantFonts"][0] if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"]
            program = next(descriptor[k] for k in ("/FontFile2", "/FontFile3") if k in descriptor)
            found[fonts.raw_get(name).idnum] = (str(font["/BaseFont"]), hashlib.sha256(program.data).digest())
        for name in xobjects:
            if (idnum := xobjects.raw_get(name).idnum) not in seen:
                seen.add(idnum)
                walk(xobjects[name])

    for page in reader.root["/Pages"]["/Kids"]:
        page = page.get_object()
        walk(page)
        for annot in _entry(page, "/Annots", generic.ArrayObject()):
            annot = annot.get_object()
            if "/AP" in annot:
                walk(annot["/AP"]["/N"])
    return list(found.values())


def test_every_font_subset_in_a_signed_document_has_its_own_tag(fonts: FontSet, ec_signer: KeySigner) -> None:
    """ISO 32000-1 §9.6.4: different subsets in one file have different tags; here two seals (reportlab
    names each first subset AAAAAA+), signer details and a number (pyhanko draws tags at random) join the
    body's subsets."""
    pdf = render(samples.notice(number=None), fonts).pdf
    for appearance in (
        Appearance(page=-1, box=(360, 60, 560, 160), seal_text="示例市人民政府办公室", show_details=False),
        Appearance(page=-1, box=(100, 60, 300, 160), seal_text="乙县人民政府", show_details=False),
        Appearance(page=-1, box=(100, 200, 300, 300)),
        Appearance(page=1, box=(100, 600, 300, 640), text="示府办〔2026〕12号", show_details=False),
    ):
        pdf = sign(pdf, ec_signer, SignOptions(appearance=appearance, reason="同意"))
    found = _subset_fonts(PdfFileReader(io.BytesIO(pdf)))
    tags = {name.split("+")[0] for name, _ in found}
    programs = {program for _, program in found}
    assert all(re.fullmatch(r"/[A-Z]{6}", tag) for tag in tags), tags
    assert len(programs) >= 9, "the body's faces, two seals, the details and the number"
    by_tag: dict[str, set[bytes]] = {}
    for name, program in found:
        by_tag.setdefault(name.split("+")[0], set()).add(program)
    assert all(len(p) == 1 for p in by_tag.values()), {t: len(p) for t, p in by_tag.items() if len(p) > 1}
