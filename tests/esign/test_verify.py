"""The verification report: tampering, disallowed changes, untrusted chains, and what a valid one says."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from esign import signers
from esign.errors import PdfEncrypted, PdfMalformed
from esign.report import Indication, Verdict
from esign.sign import Certification, PadesLevel, SignOptions, sign
from esign.signers import KeySigner, to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from tests.conftest import make_pdf
from tests.esign import tampering
from tests.pki import TestPki


def test_a_valid_signature_is_reported_in_full(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, pki: TestPki
) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions(reason="同意"))
    report = verify(signed, trust)

    assert report.verdict is Verdict.VALID and report.valid
    assert report.revisions == 2 and report.size == len(signed)
    [sig] = report.signatures
    assert sig.indication is Indication.TOTAL_PASSED and sig.sub_indication is None
    assert sig.type == "approval" and sig.pades_level == "B-B"
    assert sig.intact and sig.signature_valid and sig.trusted
    assert sig.coverage == "entire_file" and sig.signed_revision == 2
    assert sig.modifications.level == "none" and sig.modifications.allowed is True
    assert sig.digest_algorithm == "sha256" and sig.signature_algorithm == "sha256_ecdsa"
    assert sig.signer is not None and "张三" in sig.signer.subject
    assert sig.signer.serial == format(ec_signer.signing_cert.serial_number, "x")
    assert {"digital_signature", "non_repudiation"} <= set(sig.signer.key_usage)
    assert sig.trust_anchor is not None and "esign test root CA" in sig.trust_anchor
    assert next(c.subject for c in sig.chain) == sig.trust_anchor and len(sig.chain) == 3
    assert sig.claimed_signing_time is not None
    assert abs(sig.claimed_signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert sig.revocation is not None and not sig.revocation.revoked
    assert (sig.provable_by, sig.provable_until) == ("signer_certificate", sig.signer.not_after)
    assert report.document_timestamps == [] and report.summary == "有效：全部 1 个签名有效；签名后文档未被改动"


def test_rsa_signature_names_its_algorithm(rsa_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings) -> None:
    [sig] = verify(sign(one_page_pdf, rsa_signer), trust).signatures
    assert sig.indication is Indication.TOTAL_PASSED and sig.signature_algorithm == "sha256_rsa"


def test_one_flipped_byte_is_a_hash_failure(ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings) -> None:
    signed = sign(one_page_pdf, ec_signer)
    report = verify(tampering.flip_byte(signed, b"Hello, signed world"), trust)
    [sig] = report.signatures
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, "HASH_FAILURE")
    assert not sig.intact
    assert report.verdict is Verdict.INVALID and not report.valid


@pytest.mark.parametrize("tamper", [tampering.add_page, tampering.add_content_stream])
def test_page_or_content_added_after_signing_is_a_disallowed_modification(
    tamper, ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    report = verify(tamper(sign(one_page_pdf, ec_signer)), trust)
    [sig] = report.signatures
    assert sig.intact and sig.signature_valid, "the signed revision itself is untouched"
    assert sig.coverage == "entire_revision"
    assert sig.modifications.level == "other" and sig.modifications.allowed is False
    assert sig.indication is Indication.TOTAL_FAILED and "disallowed modification" in sig.message
    assert report.verdict is Verdict.INVALID and not report.valid


def test_form_fill_after_a_no_changes_certification_is_reported(ec_signer: KeySigner, trust: TrustSettings) -> None:
    certified = sign(make_pdf(form_field=True), ec_signer, SignOptions(certify=Certification.NO_CHANGES))
    report = verify(tampering.fill_text_field(certified, "remark", "已阅"), trust)
    [sig] = report.signatures
    assert sig.type == "certification" and sig.docmdp == "no_changes"
    assert sig.modifications.level == "form_filling" and sig.modifications.allowed is False
    assert "remark" in sig.modifications.changed_fields
    assert sig.indication is Indication.TOTAL_FAILED and not report.valid


def test_form_fill_after_a_form_filling_certification_is_allowed(ec_signer: KeySigner, trust: TrustSettings) -> None:
    certified = sign(make_pdf(form_field=True), ec_signer, SignOptions(certify=Certification.FORM_FILLING))
    report = verify(tampering.fill_text_field(certified, "remark", "已阅"), trust)
    [sig] = report.signatures
    assert sig.modifications.level == "form_filling" and sig.modifications.allowed is True
    assert report.valid, report.summary


def test_chain_to_an_unknown_root_is_indeterminate(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    stranger = TrustSettings().with_anchors(TestPki.create("some other authority").root.cert_pem())
    report = verify(sign(one_page_pdf, ec_signer), stranger)
    [sig] = report.signatures
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    assert sig.intact and sig.signature_valid and not sig.trusted and sig.trust_anchor is None
    assert report.verdict is Verdict.INDETERMINATE and not report.valid


def test_no_trust_anchor_at_all_is_indeterminate(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    [sig] = verify(sign(one_page_pdf, ec_signer), TrustSettings()).signatures
    assert sig.indication is Indication.INDETERMINATE


def test_signature_by_an_expired_certificate_without_proof_of_time(
    pki: TestPki, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    issued = pki.signer("赵六", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=30), valid_days=10)
    expired = signers.from_pem(issued.key_pem(), issued.cert_pem(), [pki.chain_pem()])
    [sig] = verify(sign(one_page_pdf, expired), trust).signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication == "OUT_OF_BOUNDS_NO_POE"


def test_an_unsigned_document_is_not_valid(one_page_pdf: bytes, trust: TrustSettings) -> None:
    report = verify(one_page_pdf, trust)
    assert report.verdict is Verdict.UNSIGNED and not report.valid and report.signatures == []


def test_two_signatures_are_both_reported(
    ec_signer: KeySigner, rsa_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    twice = sign(sign(one_page_pdf, ec_signer), rsa_signer)
    report = verify(twice, trust)
    first, second = report.signatures
    assert first.modifications.level == "form_filling" and first.modifications.allowed
    assert first.coverage == "entire_revision" and second.coverage == "entire_file"
    assert first.signed_revision == 2 and second.signed_revision == 3
    assert report.valid


def _timestamper(pki: TestPki) -> DummyTimeStamper:
    tsa = pki.tsa()
    key = asn1_keys.PrivateKeyInfo.load(
        tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return DummyTimeStamper(tsa_cert=to_asn1(tsa.cert), tsa_key=key, certs_to_embed=[to_asn1(pki.issuing.cert)])


def test_a_time_stamped_signature_is_pades_b_t(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, pki: TestPki
) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions(level=PadesLevel.B_T, timestamper=_timestamper(pki)))
    report = verify(signed, trust)
    [sig] = report.signatures
    assert sig.pades_level == "B-T"
    assert sig.timestamp is not None and sig.timestamp.valid and sig.timestamp.trusted
    assert sig.timestamp.tsa is not None and "TSA" in sig.timestamp.tsa.subject
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert report.valid


def test_unreadable_input_raises_the_right_error(encrypted_pdf: bytes, trust: TrustSettings) -> None:
    with pytest.raises(PdfMalformed):
        verify(b"not a pdf at all", trust)
    with pytest.raises(PdfMalformed):
        verify(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 9 0 R >>\n%%EOF", trust)
    with pytest.raises(PdfEncrypted):
        verify(encrypted_pdf, trust)


def test_truncated_signed_pdf_is_malformed_or_failed(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings
) -> None:
    signed = sign(one_page_pdf, ec_signer)
    truncated = signed[: len(signed) - 300]
    try:
        report = verify(truncated, trust)
    except PdfMalformed:
        return
    assert not report.valid


def test_verification_stays_offline_unless_fetching_is_allowed(pki: TestPki, one_page_pdf: bytes) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    requests: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/crl/issuing.crl"
        issued = pki.signer("孙八", crl_url=url)
        signed = sign(one_page_pdf, signers.from_pem(issued.key_pem(), issued.cert_pem(), [pki.chain_pem()]))
        offline = TrustSettings().with_anchors(pki.root.cert_pem())

        report = verify(signed, offline)
        assert requests == [] and report.fetching_allowed is False
        assert report.valid, "soft-fail: revocation data that cannot be had does not fail the signature"

        from dataclasses import replace

        verify(signed, replace(offline, allow_fetching=True))
        assert requests and requests[0] == "/crl/issuing.crl"
    finally:
        server.shutdown()
