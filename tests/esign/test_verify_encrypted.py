"""Encrypted PDFs: one that opens without a password (owner password only) is verified and reported
encrypted; one that needs a user password is refused with advice that keeps its signatures whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from esign import pdf
from esign.errors import PdfEncrypted, PdfMalformed
from esign.sign import sign
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import ENCRYPTED_NOTE, verify
from tests.esign.encrypted import Scheme, encrypt, signed_encrypted
from tests.validators import pdfsig

SCHEMES: list[Scheme] = ["aes256", "aes128"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_signed_pdf_with_an_owner_password_only_is_verified_and_said_to_be_encrypted(
    scheme: Scheme, ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, nssdir: Path, tmp_path: Path
) -> None:
    signed = signed_encrypted(one_page_pdf, ec_signer, user_password="", scheme=scheme)
    assert PdfFileReader(io.BytesIO(signed)).encrypted
    report = verify(signed, trust)
    assert report.valid, report.summary
    assert report.encrypted and report.notes == [ENCRYPTED_NOTE]
    [signature] = report.signatures
    assert signature.coverage == "entire_file" and signature.pades_level == "B-B" and signature.signer is not None
    assert signature.signer.subject.startswith("Common Name: 张三")

    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    [independent] = pdfsig(path, nssdir)
    assert independent.signature_valid and independent.whole_document, independent


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_pdf_that_needs_a_user_password_is_refused_with_advice_to_keep_the_encryption(
    scheme: Scheme, ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    signed = signed_encrypted(one_page_pdf, ec_signer, user_password="user-secret", scheme=scheme)
    with pytest.raises(PdfEncrypted) as refused:
        verify(signed, trust)
    assert refused.value.message == pdf.NEEDS_PASSWORD
    assert "without a password" in refused.value.message and "Do not remove the encryption" in refused.value.message


def test_an_unencrypted_pdf_is_not_said_to_be_encrypted(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    report = verify(sign(one_page_pdf, ec_signer), trust)
    assert report.valid and not report.encrypted and report.notes == []


def test_signing_still_takes_unencrypted_pdfs_only(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    readable = encrypt(one_page_pdf, user_password="", scheme="aes128")
    with pytest.raises(PdfEncrypted) as refused:
        sign(readable, ec_signer)
    assert refused.value.message == pdf.NOT_SIGNABLE


def test_an_encrypted_pdf_altered_after_encryption_fails_its_mac(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    signed = bytearray(signed_encrypted(one_page_pdf, ec_signer, user_password="", scheme="aes256"))
    at = signed.index(b"stream\n") + 20
    signed[at : at + 8] = bytes(b ^ 0xFF for b in signed[at : at + 8])
    with pytest.raises(PdfMalformed, match="ISO/TS 32004"):
        verify(bytes(signed), trust)
