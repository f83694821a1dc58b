"""The engine's signatures, judged by validators we did not write: poppler's pdfsig and pyhanko's CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from esign import pdf as pdf_module
from esign import signers
from esign.appearance import Appearance
from esign.errors import KeyMaterialError, PdfEncrypted, PdfMalformed, SigningError
from esign.sign import Certification, PadesLevel, SignOptions, sign
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import verify
from tests.conftest import make_pdf
from tests.pki import TestPki
from tests.validators import pdfsig, pyhanko_cli


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["ec_signer", "rsa_signer"])
def test_invisible_signature_is_accepted_by_pdfsig_and_pyhanko(
    kind: str, request: pytest.FixtureRequest, one_page_pdf: bytes, nssdir: Path, root_pem_path: Path, tmp_path: Path
) -> None:
    signer: KeySigner = request.getfixturevalue(kind)
    signed = sign(one_page_pdf, signer, SignOptions(reason="同意", location="广州"))

    assert signed.startswith(one_page_pdf), "a signature must be an incremental update"
    path = _write(tmp_path, "signed.pdf", signed)
    [result] = pdfsig(path, nssdir)
    assert result.signature_valid and result.certificate_trusted and result.whole_document
    assert result.signer == signer.signing_cert.subject.native["common_name"]
    code, lines = pyhanko_cli(path, [root_pem_path])
    assert code == 0 and len(lines) == 1 and ":INTACT:TRUSTED,UNTOUCHED" in lines[0], lines


def _red_pixels(png: Path, box: tuple[float, float, float, float], page_height: float, dpi: int) -> int:
    image = Image.open(png).convert("RGB")
    scale = dpi / 72
    x1, y1, x2, y2 = box
    region = image.crop(
        (int(x1 * scale), int((page_height - y2) * scale), int(x2 * scale), int((page_height - y1) * scale))
    )
    return sum(1 for r, g, b in region.get_flattened_data() if r > 180 and g < 90 and b < 90)


def test_visible_signature_with_red_seal_is_drawn_where_asked(
    ec_signer: KeySigner, nssdir: Path, root_pem_path: Path, tmp_path: Path
) -> None:
    import subprocess

    document = make_pdf(pages=2)
    box = (350.0, 80.0, 530.0, 200.0)
    signed = sign(
        document,
        ec_signer,
        SignOptions(
            reason="签发",
            appearance=Appearance(page=2, box=box, seal_text="广东省人民政府办公厅"),
        ),
    )
    path = _write(tmp_path, "visible.pdf", signed)
    [result] = pdfsig(path, nssdir)
    assert result.signature_valid and result.certificate_trusted
    code, lines = pyhanko_cli(path, [root_pem_path])
    assert code == 0, lines

    subprocess.run(["pdftoppm", "-r", "72", "-png", str(path), str(tmp_path / "page")], check=True)
    page1, page2 = sorted(tmp_path.glob("page-*.png"))
    assert _red_pixels(page2, box, 842, 72) > 500, "the seal must be drawn in the box on page 2"
    assert _red_pixels(page1, box, 842, 72) == 0, "page 1 must stay untouched"

    text = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(path), "-"], capture_output=True, text=True).stdout
    assert "签名人：张三" in text and "原因：签发" in text


def test_seal_only_appearance(ec_signer: KeySigner, one_page_pdf: bytes, nssdir: Path, tmp_path: Path) -> None:
    signed = sign(
        one_page_pdf,
        ec_signer,
        SignOptions(appearance=Appearance(box=(400, 100, 520, 220), seal_text="某某市人民政府", show_details=False)),
    )
    [result] = pdfsig(_write(tmp_path, "seal.pdf", signed), nssdir)
    assert result.signature_valid


def test_second_signature_leaves_the_first_valid(
    ec_signer: KeySigner, rsa_signer: KeySigner, one_page_pdf: bytes, nssdir: Path, root_pem_path: Path, tmp_path: Path
) -> None:
    first = sign(one_page_pdf, ec_signer, SignOptions(reason="审核"))
    second = sign(first, rsa_signer, SignOptions(reason="签发", appearance=Appearance(box=(72, 72, 272, 152))))
    assert second.startswith(first)

    path = _write(tmp_path, "two.pdf", second)
    results = pdfsig(path, nssdir)
    assert [r.field for r in results] == ["Signature1", "Signature2"]
    assert all(r.signature_valid and r.certificate_trusted for r in results)
    assert [r.whole_document for r in results] == [False, True]
    code, lines = pyhanko_cli(path, [root_pem_path])
    assert code == 0 and len(lines) == 2, lines
    assert "INTACT:TRUSTED" in lines[0] and "ACCEPTABLE_MODIFICATIONS" in lines[0]


@pytest.mark.parametrize("level", list(Certification))
def test_certification_signatures_carry_their_docmdp_level(
    level: Certification, ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, nssdir: Path, tmp_path: Path
) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions(certify=level))
    [result] = pdfsig(_write(tmp_path, "certified.pdf", signed), nssdir)
    assert result.signature_valid
    [report] = verify(signed, trust).signatures
    assert report.type == "certification" and report.docmdp == level.value


def test_a_no_changes_certification_refuses_another_signature(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    certified = sign(one_page_pdf, ec_signer, SignOptions(certify=Certification.NO_CHANGES))
    with pytest.raises(SigningError):
        sign(certified, ec_signer)


def test_form_filling_certification_accepts_an_approval_signature(
    ec_signer: KeySigner, rsa_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    certified = sign(one_page_pdf, ec_signer, SignOptions(certify=Certification.FORM_FILLING))
    report = verify(sign(certified, rsa_signer), trust)
    assert report.valid, report.summary


def test_named_field_cannot_be_signed_twice(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions(field_name="Approval"))
    with pytest.raises(SigningError, match="already signed"):
        sign(signed, ec_signer, SignOptions(field_name="Approval"))


def test_levels_above_b_b_need_a_time_stamp_authority(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    with pytest.raises(SigningError, match="time-stamp authority"):
        sign(one_page_pdf, ec_signer, SignOptions(level=PadesLevel.B_T))


def test_a_page_that_does_not_exist_is_refused(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    with pytest.raises(SigningError, match="page 3 does not exist"):
        sign(one_page_pdf, ec_signer, SignOptions(appearance=Appearance(page=3)))


def test_garbage_and_encrypted_input_are_refused(ec_signer: KeySigner, encrypted_pdf: bytes) -> None:
    with pytest.raises(PdfMalformed):
        sign(b"this is not a pdf", ec_signer)
    with pytest.raises(PdfMalformed):
        sign(b"%PDF-1.7\n" + b"\x00" * 200, ec_signer)
    with pytest.raises(PdfEncrypted):
        sign(encrypted_pdf, ec_signer)


def test_pkcs12_loading_and_a_wrong_password(
    pki: TestPki, tmp_path: Path, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    files = pki.write(tmp_path, pki.signer("王五"), password=b"right")
    signer = signers.from_files(p12=files["p12"], password=b"right")
    assert verify(sign(one_page_pdf, signer), trust).valid

    with pytest.raises(KeyMaterialError, match="wrong password for the PKCS#12 file"):
        signers.from_files(p12=files["p12"], password=b"wrong")
    (tmp_path / "junk.p12").write_bytes(b"junk")
    with pytest.raises(KeyMaterialError, match="not a PKCS#12 file"):
        signers.from_files(p12=tmp_path / "junk.p12", password=b"right")


def test_a_key_that_does_not_match_the_certificate_is_refused(pki: TestPki) -> None:
    one, other = pki.signer("甲"), pki.signer("乙")
    with pytest.raises(KeyMaterialError, match="does not belong"):
        signers.from_pem(one.key_pem(), other.cert_pem())


def test_pdf_reader_rejects_what_it_cannot_read() -> None:
    with pytest.raises(PdfMalformed, match="header"):
        pdf_module.read(b"GIF89a")


def test_an_outgrown_reservation_is_signed_again_with_room(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from esign import sign as sign_module

    monkeypatch.setattr(sign_module, "reserved_size", lambda signer, level, **_: 64)
    signed = sign(one_page_pdf, ec_signer)
    assert signed.startswith(one_page_pdf) and verify(signed, trust).valid
