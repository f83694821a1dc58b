"""A rendered PDF/A-2b document stays PDF/A-2b in what it declares once signed, at B-B and at B-LTA.

PDF/A-2 rests on PDF 1.7 (ISO 19005-2 §6.1.2): the header and the catalogue's ``/Version`` must not say 2.0,
PAdES is announced by the ESIC extension (ETSI EN 319 142-1 §5.1), and the XMP identification survives.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.render import default_fonts, render
from esign import pdfa
from esign.appearance import Appearance
from esign.db import Database
from esign.settings import Settings
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import KeySigner, to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, credentials, envelope, levels
from keys.credentials import Credential
from tests.documents.render import samples
from tests.validators import nss_db, pdfsig
from tests.world import PIN, World


def _signer(db: Database, world: World) -> KeySigner:
    with db.transaction() as session:
        credential = session.get(Credential, world.orgs["A"].members["leader"].credential_id)
        assert credential is not None and credential.encrypted_key is not None
        key = envelope.open_key(credential.encrypted_key, PIN.encode(), context=credentials.context(credential.id))
        cert = credentials.certificate(session, credential)
    assert world.settings.key_kind == "ec", "ECDSA P-256 is what made pyhanko declare PDF 2.0"
    return KeySigner(key, to_asn1(cert), [to_asn1(c) for c in world.pki.chain])


def _declared_version(pdf: bytes) -> tuple[str, str | None]:
    header = re.match(rb"%PDF-(\d\.\d)", pdf)
    assert header is not None
    version = PdfFileReader(io.BytesIO(pdf)).root.get("/Version")
    return header.group(1).decode(), str(version)[1:] if version is not None else None


@pytest.mark.parametrize("level", [PadesLevel.B_B, PadesLevel.B_LTA])
def test_a_signed_pdfa_2b_document_still_declares_pdf_1_7_and_pdfa_2b(
    level: PadesLevel, world: World, db: Database, db_settings: Settings, tmp_path: Path
) -> None:
    document = render(samples.notice(number=None), default_fonts()).pdf
    signer = _signer(db, world)
    with db.transaction() as session:
        inputs = levels.engine_inputs(session, pki=world.pki, settings=db_settings, level=level)
    options = SignOptions(level=level, appearance=Appearance(page=-1, box=(360, 60, 560, 160)), **inputs)
    signed = sign(document, signer, options)
    resigned = sign(signed, signer, options)

    for pdf in (signed, resigned):
        header, catalogue = _declared_version(pdf)
        assert header == "1.7" and catalogue in (None, "1.4", "1.5", "1.6", "1.7"), (header, catalogue)
        reader = PdfFileReader(io.BytesIO(pdf))
        extensions = reader.root["/Extensions"]
        assert extensions["/ESIC"]["/BaseVersion"] == "/1.7" and "/ISO_" not in extensions
        assert pdfa.identification(reader) == pdfa.Identification(part=2, conformance="B")
        xmp = reader.root["/Metadata"].get_object().data.decode()
        assert re.search(r'pdfaid:part(="|>)2', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp)

    report = verify(resigned, TrustSettings().with_anchors(ca.pem(world.pki.root.cert)))
    assert report.valid, report.summary
    path = tmp_path / "signed.pdf"
    path.write_bytes(resigned)
    # poppler 22 does not check document time-stamps (ETSI.RFC3161), so only the approval signatures are asked.
    approvals = {s.field_name for s in report.signatures if s.type == "approval"}
    found = pdfsig(path, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    checked = [s for s in found if s.field in approvals]
    assert len(checked) == 2 and all(s.signature_valid for s in checked) and checked[0].certificate_trusted, found


def test_a_document_that_claims_no_pdfa_part_may_still_be_raised_to_pdf_2_0(
    world: World, db: Database, one_page_pdf: bytes
) -> None:
    """pyhanko's choice is kept where no archival claim forbids it."""
    signed = sign(one_page_pdf, _signer(db, world))
    assert _declared_version(signed)[1] == "2.0"
