"""The report for a clerk as a PDF: Chinese first, the document's title and number, the verdict on one line at the
top, plain words per signature, the technical findings in an appendix; the same through ``esign verify --report``."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.pdfgen import canvas

from esign import report_pdf
from esign.sign import sign
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import verify
from tests.api.cli import esign
from tests.esign import tampering
from tests.pki import TestPki


def _numbered_document() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    c.setTitle("关于做好2026年春节期间安全生产工作的通知")
    c.setSubject("通知 粤府办〔2026〕12号")
    c.drawString(72, 760, "Hello, signed world")
    c.showPage()
    c.save()
    return buf.getvalue()


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_report_names_the_document_and_puts_the_verdict_first(
    ec_signer: KeySigner, trust: TrustSettings, tmp_path: Path
) -> None:
    signed = sign(_numbered_document(), ec_signer)
    report = verify(signed, trust)
    assert report.title == "关于做好2026年春节期间安全生产工作的通知" and report.number == "粤府办〔2026〕12号"
    text = _text(report_pdf.render(report.localised(ZoneInfo("Asia/Shanghai"))), tmp_path)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "签名验证报告" and lines[2].startswith("结论：有效"), lines[:3]
    assert "粤府办〔2026〕12号" in text and "安全生产工作的通知" in text
    assert "签名人" in text and "张三" in text and "个人签名" in text and "（UTC+08:00）" in text
    first_page = text.split("\f")[0]
    assert "TOTAL-PASSED" not in first_page and "ecdsa" not in first_page.lower(), "the technical terms wait"
    appendix = text[text.index("附录") :]
    assert "TOTAL-PASSED" in appendix and "sha256" in appendix.lower()


def test_an_invalid_document_says_so_at_the_top(ec_signer: KeySigner, trust: TrustSettings, tmp_path: Path) -> None:
    tampered = tampering.flip_byte(sign(_numbered_document(), ec_signer), b"Hello, signed world")
    text = _text(report_pdf.render(verify(tampered, trust)), tmp_path)
    assert "结论：无效" in text and "签名所覆盖的内容在签名后被改动了" in text
    assert "HASH_FAILURE" in text[text.index("附录") :]


def test_esign_verify_writes_the_same_report(pki: TestPki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ESIGN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ESIGN_TRUST_ANCHORS", raising=False)
    paths = pki.write(tmp_path / "keys", pki.signer("张三"), password=b"p12-secret")
    document = tmp_path / "in.pdf"
    document.write_bytes(_numbered_document())
    signed, out = tmp_path / "signed.pdf", tmp_path / "out.pdf"
    keys = ("--key", paths["key"], "--cert", paths["cert"], "--chain", paths["chain"])
    assert esign("sign", document, "-o", signed, "--level", "B-B", *keys).returncode == 0
    result = esign("verify", signed, "--trust", paths["root"], "--report", out)
    assert result.returncode == 0, result.stderr
    text = _text(out.read_bytes(), tmp_path)
    assert "结论：有效" in text and "粤府办〔2026〕12号" in text
    assert esign("verify", signed, "--report", tmp_path / "missing" / "out.pdf").returncode == 2
