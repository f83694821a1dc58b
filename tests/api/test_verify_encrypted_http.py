"""POST /v1/verify with encrypted PDFs: verified when they open without a password, in the worker that runs
every verification under the parsing budget; refused with advice that keeps the signatures whole otherwise."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from esign import pdf
from esign.signers import KeySigner
from esign.verify import ENCRYPTED_NOTE
from tests.esign.encrypted import signed_encrypted


def _post(client: TestClient, data: bytes, **kwargs: object):
    return client.post("/v1/verify", files={"file": ("doc.pdf", data, "application/pdf")}, **kwargs)


def test_an_owner_password_only_pdf_is_verified_and_the_report_says_it_is_encrypted(
    client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path
) -> None:
    signed = signed_encrypted(one_page_pdf, ec_signer, user_password="", scheme="aes128")
    response = _post(client, signed)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] == "valid" and report["valid"] is True
    assert report["encrypted"] is True and report["notes"] == [ENCRYPTED_NOTE]
    assert report["signatures"][0]["indication"] == "TOTAL-PASSED"

    as_pdf = _post(client, signed, headers={"Accept": "application/pdf"})
    path = tmp_path / "report.pdf"
    path.write_bytes(as_pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "结论：有效" in text and "empty user password" in " ".join(text.split())


def test_a_pdf_that_needs_a_user_password_gets_422_with_the_right_advice(
    client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes
) -> None:
    signed = signed_encrypted(one_page_pdf, ec_signer, user_password="user-secret", scheme="aes256")
    response = _post(client, signed)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "pdf_encrypted" and body["message"] == pdf.NEEDS_PASSWORD
    assert "opens without a password" in body["message"] and "Do not remove the encryption" in body["message"]
