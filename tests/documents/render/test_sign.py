"""A rendered document is a normal PDF that the signature engine signs incrementally and verifies."""

from __future__ import annotations

import io

from pyhanko.pdf_utils.reader import PdfFileReader

from documents.render import FontSet, render
from esign.sign import sign
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
