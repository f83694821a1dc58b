"""POST /v1/verify through the ASGI app: reports, the PDF form, and refusals that leave the service up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.reports import negotiate
from esign.sign import SignOptions, sign
from esign.signers import KeySigner
from tests.esign import tampering
from tests.esign.etsi_xml import assert_same_indications
from tests.pki import TestPki


def _post(client: TestClient, data: bytes, **kwargs: object):
    return client.post("/v1/verify", files={"file": ("doc.pdf", data, "application/pdf")}, **kwargs)


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/verify" in spec["paths"]


def test_a_signed_pdf_gets_its_report(client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    response = _post(client, sign(one_page_pdf, ec_signer))
    assert response.status_code == 200
    report = response.json()
    assert report["verdict"] == "valid" and report["valid"] is True
    [sig] = report["signatures"]
    assert sig["indication"] == "TOTAL-PASSED" and sig["pades_level"] == "B-B"


def test_a_tampered_pdf_is_reported_invalid(client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    response = _post(client, tampering.flip_byte(sign(one_page_pdf, ec_signer), b"Hello, signed world"))
    assert response.status_code == 200
    [sig] = response.json()["signatures"]
    assert (sig["indication"], sig["sub_indication"]) == ("TOTAL-FAILED", "HASH_FAILURE")


def test_extra_trust_anchor_in_the_request(client: TestClient, one_page_pdf: bytes) -> None:
    other = TestPki.create("another ministry")
    issued = other.signer("钱七")
    from esign.signers import from_pem

    signed = sign(one_page_pdf, from_pem(issued.key_pem(), issued.cert_pem(), [other.chain_pem()]), SignOptions())
    assert _post(client, signed).json()["verdict"] == "indeterminate"
    response = client.post(
        "/v1/verify",
        files=[("file", ("doc.pdf", signed, "application/pdf")), ("trust", ("root.pem", other.root.cert_pem()))],
    )
    assert response.json()["verdict"] == "valid"
    assert _post(client, signed).json()["verdict"] == "indeterminate", "extra anchors last one request only"


def test_the_report_as_a_pdf(client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path) -> None:
    response = _post(client, sign(one_page_pdf, ec_signer), headers={"Accept": "application/pdf"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "结论：有效" in text and "张三" in text and "个人签名" in text, "Chinese first, in plain words"
    assert "+08:00" in text and "可证明至" in text
    assert text.index("结论") < text.index("附录") < text.index("TOTAL-PASSED"), "indications in the appendix"


def test_the_report_as_etsi_xml(client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    signed = sign(one_page_pdf, ec_signer)
    for data in (signed, tampering.flip_byte(signed, b"Hello, signed world")):
        as_json = _post(client, data).json()
        response = _post(client, data, headers={"Accept": "application/xml"})
        assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
        assert_same_indications(response.content, as_json)


def test_json_is_the_default_and_its_times_are_in_the_organisations_zone(
    client: TestClient, ec_signer: KeySigner, one_page_pdf: bytes
) -> None:
    signed = sign(one_page_pdf, ec_signer)
    for accept in (None, "*/*", "application/json", "text/html", "application/xml;q=0.5, application/json"):
        response = _post(client, signed, headers={"Accept": accept} if accept else {})
        assert response.headers["content-type"] == "application/json", accept
    report = _post(client, signed).json()
    assert report["verified_at"].endswith("+08:00") and report["signatures"][0]["provable_until"].endswith("+08:00")
    assert report["summary"].startswith("有效：全部 1 个签名有效") and report["document_timestamps"] == []


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("application/xml", "application/xml"),
        ("application/pdf", "application/pdf"),
        ("application/pdf, application/json", "application/json"),
        ("application/json;q=0.1, application/*;q=0.5", "application/xml"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/xml"),
        ("application/xml;q=0", "application/json"),
        ("image/png", "application/json"),
    ],
)
def test_content_negotiation(accept: str | None, chosen: str) -> None:
    assert negotiate(accept) == chosen


def test_bad_input_gets_clear_4xx_and_the_service_stays_up(
    client: TestClient, encrypted_pdf: bytes, ec_signer: KeySigner, one_page_pdf: bytes
) -> None:
    oversized = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024)
    response = _post(client, oversized)
    assert response.status_code == 413 and response.json()["code"] == "too_large"

    response = _post(client, b"GIF89a not a pdf")
    assert response.status_code == 422 and response.json()["code"] == "pdf_malformed"

    response = _post(client, b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << /Root 7 0 R >>\n%%EOF")
    assert response.status_code == 422 and response.json()["code"] == "pdf_malformed"

    response = _post(client, encrypted_pdf)
    assert response.status_code == 422 and response.json()["code"] == "pdf_encrypted"

    response = client.post("/v1/verify", files={"other": ("x", b"y")})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    assert "file" in response.json()["message"]

    response = client.post(
        "/v1/verify",
        files=[("file", ("doc.pdf", one_page_pdf, "application/pdf")), ("trust", ("root.pem", b"not a certificate"))],
    )
    assert response.status_code == 422 and response.json()["code"] == "trust_anchor_invalid"

    for response in (_post(client, oversized), _post(client, b"junk")):
        assert "Traceback" not in response.text
    assert _post(client, sign(one_page_pdf, ec_signer)).json()["valid"] is True


def test_unknown_route_answers_in_the_error_format(client: TestClient) -> None:
    response = client.get("/v1/nowhere")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
