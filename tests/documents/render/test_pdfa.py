"""PDF/A-2b (ISO 19005-2 level B), checked in the file itself and with poppler's pdffonts."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.render import Rendered

from .pdfpages import pdffonts, write

STANDARD_14 = re.compile(r"^(Times|Helvetica|Courier|Symbol|ZapfDingbats)", re.IGNORECASE)


@pytest.fixture(scope="module", params=["notice", "letter", "long_notice"])
def rendered(request: pytest.FixtureRequest) -> Rendered:
    value: Rendered = request.getfixturevalue(request.param)
    return value


def test_every_font_is_an_embedded_subset_and_none_is_standard_14(rendered: Rendered, tmp_path: Path) -> None:
    fonts = pdffonts(write(tmp_path, "doc.pdf", rendered.pdf))
    assert len(fonts) >= 3
    for font in fonts:
        assert font["emb"] == "yes" and font["sub"] == "yes" and font["uni"] == "yes", font
        assert font["type"] == "TrueType"
        assert not STANDARD_14.match(font["name"].split("+")[-1]), font
    # Nothing names a font the file does not embed, in any resource dictionary.
    assert b"/BaseFont /Helvetica" not in rendered.pdf and b"/Type1" not in rendered.pdf


def test_xmp_identifies_pdfa_2b_and_agrees_with_the_info_dictionary(rendered: Rendered) -> None:
    reader = PdfFileReader(io.BytesIO(rendered.pdf))
    metadata = reader.root["/Metadata"].get_object()
    assert metadata["/Type"] == "/Metadata" and metadata["/Subtype"] == "/XML"
    assert "/Filter" not in metadata
    xmp = metadata.data.decode("utf-8")
    assert re.search(r'pdfaid:part(="|>)2', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp)
    info = reader.trailer["/Info"]
    assert f'<rdf:li xml:lang="x-default">{info["/Title"]}</rdf:li>' in xmp
    assert f"<rdf:li>{info['/Author']}</rdf:li>" in xmp
    assert f'xmp:CreatorTool="{info["/Creator"]}"' in xmp and f'pdf:Producer="{info["/Producer"]}"' in xmp
    created = generic.parse_pdf_date(info["/CreationDate"])
    assert f'xmp:CreateDate="{created.isoformat()}"' in xmp
    assert "/ModDate" not in info and "/Keywords" not in info


def test_srgb_output_intent_with_an_icc_profile(rendered: Rendered) -> None:
    reader = PdfFileReader(io.BytesIO(rendered.pdf))
    [intent] = reader.root["/OutputIntents"]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/Type"] == "/OutputIntent"
    assert intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    profile = intent["/DestOutputProfile"]
    assert profile["/N"] == 3
    data = profile.data
    assert data[36:40] == b"acsp" and data[12:16] == b"mntr" and data[16:20] == b"RGB " and data[8] <= 4


def test_file_structure_is_a_single_revision_with_an_id(rendered: Rendered) -> None:
    pdf = rendered.pdf
    assert pdf.startswith(b"%PDF-1.7\n%") and all(b > 127 for b in pdf.split(b"\n")[1][1:5])
    assert pdf.count(b"%%EOF") == 1 and pdf.count(b"startxref") == 1
    reader = PdfFileReader(io.BytesIO(pdf))
    first, second = reader.trailer["/ID"]
    assert len(first) == 16 and len(second) == 16
    assert "/Encrypt" not in reader.trailer
    # ISO 19005-2 §6.1.7.1: Length counts the bytes between "stream" EOL and the EOL before "endstream".
    for match in re.finditer(rb"/Length (\d+)\b[^>]*>>\s*stream(\r\n|\n)", pdf):
        end = match.end() + int(match.group(1))
        assert pdf[end : end + 10] in (b"\nendstream", b"\r\nendstrea")
    assert b"/Annots" not in pdf and b"/JavaScript" not in pdf and b"/SMask" not in pdf
    assert b"/DeviceCMYK" not in pdf and b" k\n" not in pdf
