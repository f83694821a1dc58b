"""Checks of an ETSI TS 119 102-2 validation report against the schema and against the JSON report it renders."""

from __future__ import annotations

from typing import Any

from lxml import etree

from esign.etsi.validation_report import NAMESPACE, schema

NS = {"vr": NAMESPACE}
MAIN = {
    "TOTAL-PASSED": "urn:etsi:019102:mainindication:total-passed",
    "TOTAL-FAILED": "urn:etsi:019102:mainindication:total-failed",
    "INDETERMINATE": "urn:etsi:019102:mainindication:indeterminate",
}


def valid_xml(xml: bytes) -> etree._Element:
    """The parsed report, after checking it against the XSD and that every VOReference names a validation object.

    libxml2 does not resolve xs:IDREFS while validating, so the references are checked here.
    """
    root = etree.fromstring(xml)
    schema().assertValid(root)
    ids = set(root.xpath("//vr:ValidationObject/@id", namespaces=NS))
    for refs in root.xpath("//@VOReference"):
        assert set(refs.split()) <= ids, f"dangling VOReference {refs}"
    return root


def indications(root: etree._Element) -> dict[str, tuple[str, list[str]]]:
    """Main and sub-indication URNs of each signature's report, by PDF field name."""
    found: dict[str, tuple[str, list[str]]] = {}
    for report in root.xpath("vr:SignatureValidationReport[vr:SignatureIdentifier]", namespaces=NS):
        [name] = report.xpath("vr:SignatureIdentifier/vr:DAIdentifier/text()", namespaces=NS)
        [main] = report.xpath("vr:SignatureValidationStatus/vr:MainIndication/text()", namespaces=NS)
        subs = report.xpath("vr:SignatureValidationStatus/vr:SubIndication/text()", namespaces=NS)
        found[name] = (main, subs)
    return found


def assert_same_indications(xml: bytes, report: dict[str, Any]) -> etree._Element:
    """The XML is schema-valid and says for every signature what the JSON report of the same file says."""
    root = valid_xml(xml)
    expected = {
        s["field_name"]: (
            MAIN[s["indication"]],
            [f"urn:etsi:019102:subindication:{s['sub_indication']}"] if s["sub_indication"] else [],
        )
        for s in report["signatures"]
    }
    assert indications(root) == expected
    return root
