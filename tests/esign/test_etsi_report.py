"""The ETSI TS 119 102-2 XML form of the report: valid against the standard's XSD, saying what the JSON says."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from esign.etsi.validation_report import to_xml
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import verify
from tests.esign import tampering
from tests.esign.etsi_xml import NS, assert_same_indications
from tests.esign.test_verify import _timestamper
from tests.pki import TestPki

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _both(data: bytes, trust: TrustSettings) -> tuple[bytes, dict]:
    report = verify(data, trust).localised(SHANGHAI)
    return to_xml(report), report.model_dump(mode="json")


def test_a_valid_signature(ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings) -> None:
    xml, report = _both(sign(one_page_pdf, ec_signer, SignOptions(reason="同意")), trust)
    root = assert_same_indications(xml, report)
    assert report["signatures"][0]["indication"] == "TOTAL-PASSED"
    [chain] = root.xpath("//vr:SignatureValidationStatus//vr:CertificateChain", namespaces=NS)
    assert len(chain) == 3, "signer, issuing CA, trust anchor"
    assert root.xpath("//vr:Reason/vr:ReasonElement/text()", namespaces=NS) == ["同意"]
    assert root.xpath("//vr:SignatureValidationProcessID/text()", namespaces=NS) == [
        "urn:etsi:019102:validationprocess:Basic"
    ]
    [validation_time] = root.xpath("//vr:ValidationTime/text()", namespaces=NS)
    assert validation_time.endswith("+08:00")


def test_a_document_tampered_after_signing(ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings) -> None:
    tampered = tampering.flip_byte(sign(one_page_pdf, ec_signer), b"Hello, signed world")
    xml, report = _both(tampered, trust)
    assert_same_indications(xml, report)
    assert (report["signatures"][0]["indication"], report["signatures"][0]["sub_indication"]) == (
        "TOTAL-FAILED",
        "HASH_FAILURE",
    )


def test_a_page_added_after_signing(ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings) -> None:
    xml, report = _both(tampering.add_page(sign(one_page_pdf, ec_signer)), trust)
    assert_same_indications(xml, report)
    assert report["signatures"][0]["sub_indication"] == "FORMAT_FAILURE"


def test_an_untrusted_root(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    stranger = TrustSettings().with_anchors(TestPki.create("some other authority").root.cert_pem())
    xml, report = _both(sign(one_page_pdf, ec_signer), stranger)
    root = assert_same_indications(xml, report)
    assert report["signatures"][0]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert not root.xpath("//vr:TrustAnchor", namespaces=NS), "no anchor was found, none is named"


def test_a_time_stamped_signature_points_at_its_time_stamp(
    ec_signer: KeySigner, one_page_pdf: bytes, trust: TrustSettings, pki: TestPki
) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions(level=PadesLevel.B_T, timestamper=_timestamper(pki)))
    xml, report = _both(signed, trust)
    root = assert_same_indications(xml, report)
    [stamp_ref] = root.xpath("//vr:SignatureTimeStamp/vr:AttributeObject/@VOReference", namespaces=NS)
    [stamp] = root.xpath(f"//vr:ValidationObject[@id='{stamp_ref}']", namespaces=NS)
    assert stamp.xpath("vr:ObjectType/text()", namespaces=NS) == ["urn:etsi:019102:validationObject:timestamp"]
    assert stamp.xpath("vr:ValidationReport//vr:MainIndication/text()", namespaces=NS) == [
        "urn:etsi:019102:mainindication:passed"
    ]
    assert root.xpath("//vr:BestSignatureTime/vr:POEObject/@VOReference", namespaces=NS) == [stamp_ref]
    assert root.xpath("//vr:SignatureQualityInformation/text()", namespaces=NS) == ["urn:esign:padesLevel:B-T"]


def test_an_unsigned_document_still_makes_a_valid_report(one_page_pdf: bytes, trust: TrustSettings) -> None:
    xml, report = _both(one_page_pdf, trust)
    root = assert_same_indications(xml, report)
    assert root.xpath("//vr:MainIndication/text()", namespaces=NS) == ["urn:cef:dss:mainindication:noSignatureFound"]
