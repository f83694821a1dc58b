"""The verification report as an ETSI TS 119 102-2 V1.2.1 validation report (XML, ``http://uri.etsi.org/19102/v1.2.1#``).

One ``SignatureValidationReport`` per signature (§4.3), the document time-stamps, certificates, signed data,
CRLs and OCSP responses as ``SignatureValidationObjects`` (§4.4) that the signature reports point at. Main
indications and sub-indications are the ETSI EN 319 102-1 ones as URNs (TS 119 102-2 Annex B / §4.3.9);
validation objects that are time-stamps get their own report with the time-stamp validation's
PASSED / FAILED / INDETERMINATE (EN 319 102-1 §5.4).

Where the standard has no identifier for what we report, a ``urn:esign:`` one is used: the PAdES level found
as signature quality, and the finding in words as additional report data. A document without any signature
gets one report with DSS's ``urn:cef:dss:mainindication:noSignatureFound`` (the schema needs at least one).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from lxml.builder import ElementMaker

from ..report import (
    CertificateInfo,
    DocumentTimestampReport,
    Indication,
    SignatureReport,
    TimestampInfo,
    VerificationReport,
)

NAMESPACE = "http://uri.etsi.org/19102/v1.2.1#"
_DS = "http://www.w3.org/2000/09/xmldsig#"
_XSD_DIR = Path(__file__).parent / "xsd"
_SCHEMA_FILE = "TS119102-2-v122.xsd"
_IMPORTS = {
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://uri.etsi.org/01903/v1.3.2/XAdES.xsd": "XAdES.xsd",
    "http://uri.etsi.org/19612/v2.2.1/ts_119612v020201_201601xsd.xsd": "ts_119612v020101_xsd.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
}
"""The schema's imports by the location it names, and the copy kept beside it (see xsd/README.md)."""

_MAIN = {
    Indication.TOTAL_PASSED: "urn:etsi:019102:mainindication:total-passed",
    Indication.TOTAL_FAILED: "urn:etsi:019102:mainindication:total-failed",
    Indication.INDETERMINATE: "urn:etsi:019102:mainindication:indeterminate",
}
_TIMESTAMP_MAIN = {
    Indication.TOTAL_PASSED: "urn:etsi:019102:mainindication:passed",
    Indication.TOTAL_FAILED: "urn:etsi:019102:mainindication:failed",
    Indication.INDETERMINATE: "urn:etsi:019102:mainindication:indeterminate",
}
_NO_SIGNATURE = "urn:cef:dss:mainindication:noSignatureFound"
_SUB_INDICATIONS = frozenset(
    {
        "FORMAT_FAILURE",
        "HASH_FAILURE",
        "SIG_CRYPTO_FAILURE",
        "REVOKED",
        "EXPIRED",
        "NOT_YET_VALID",
        "SIG_CONSTRAINTS_FAILURE",
        "CHAIN_CONSTRAINTS_FAILURE",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE",
        "CRYPTO_CONSTRAINTS_FAILURE",
        "POLICY_PROCESSING_ERROR",
        "SIGNATURE_POLICY_NOT_AVAILABLE",
        "TIMESTAMP_ORDER_FAILURE",
        "NO_SIGNING_CERTIFICATE_FOUND",
        "NO_CERTIFICATE_CHAIN_FOUND",
        "NO_CERTIFICATE_CHAIN_FOUND_NO_POE",
        "REVOKED_NO_POE",
        "REVOKED_CA_NO_POE",
        "OUT_OF_BOUNDS_NOT_REVOKED",
        "OUT_OF_BOUNDS_NO_POE",
        "REVOCATION_OUT_OF_BOUNDS_NO_POE",
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
        "NO_POE",
        "TRY_LATER",
        "SIGNED_DATA_NOT_FOUND",
    }
)
"""EN 319 102-1 §5.1.3 sub-indications; pyhanko's GENERIC is none of them and is left out of the XML."""
_PROCESS = {
    "basic": "urn:etsi:019102:validationprocess:Basic",
    "ltvm": "urn:etsi:019102:validationprocess:LTVM",
    "lta": "urn:etsi:019102:validationprocess:LTA",
}
_OBJECT_TYPE = {
    "certificate": "urn:etsi:019102:validationObject:certificate",
    "crl": "urn:etsi:019102:validationObject:CRL",
    "ocsp": "urn:etsi:019102:validationObject:OCSPResponse",
    "timestamp": "urn:etsi:019102:validationObject:timestamp",
    "signed_data": "urn:etsi:019102:validationObject:signedData",
}
_REVOCATION_REASON = {
    "unspecified": "unspecified",
    "key_compromise": "keyCompromise",
    "ca_compromise": "cACompromise",
    "affiliation_changed": "affiliationChanged",
    "superseded": "superseded",
    "cessation_of_operation": "cessationOfOperation",
    "certificate_hold": "certificateHold",
    "remove_from_crl": "removeFromCRL",
    "privilege_withdrawn": "privilegeWithdrawn",
    "aa_compromise": "aACompromise",
}
_DIGEST_METHOD = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha224": "http://www.w3.org/2001/04/xmldsig-more#sha224",
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
_POE_VALIDATION = "urn:etsi:019102:poetype:validation"
_FINDING = "urn:esign:reportData:finding"

_E = ElementMaker(namespace=NAMESPACE, nsmap={None: NAMESPACE, "ds": _DS})
_DSE = ElementMaker(namespace=_DS, nsmap={"ds": _DS})


class _Resolver(etree.Resolver):  # type: ignore[misc]
    """Serves the schema's imports from the copies kept here: validating never goes online."""

    def resolve(self, url: str, pubid: str | None, context: object) -> Any:
        name = _IMPORTS.get(url)
        return self.resolve_filename(str(_XSD_DIR / name), context) if name else None


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The TS 119 102-2 V1.2.1 schema with its imports (XMLDSig, XAdES 1.3.2, TS 119 612)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_Resolver())
    return etree.XMLSchema(etree.parse(str(_XSD_DIR / _SCHEMA_FILE), parser))


def _time(value: datetime) -> str:
    return value.isoformat()


def _id(prefix: str, hex_digest: str) -> str:
    return f"{prefix}-{hex_digest.upper()}"


def _cert_id(cert: CertificateInfo) -> str:
    return _id("C", cert.sha256)


def _signature_id(field_name: str) -> str:
    return _id("S", hashlib.sha256(field_name.encode()).hexdigest())


def _digest(algorithm: str | None, hex_value: str) -> etree._Element | None:
    method = _DIGEST_METHOD.get(algorithm or "")
    if method is None:
        return None
    return _E.DigestAlgAndValue(
        _DSE.DigestMethod(Algorithm=method), _DSE.DigestValue(base64.b64encode(bytes.fromhex(hex_value)).decode())
    )


def _ref(name: str, *ids: str) -> etree._Element:
    return _E(name, VOReference=" ".join(ids))


class _Objects:
    """The validation objects, each once, in the order first referred to."""

    def __init__(self) -> None:
        self._objects: dict[str, etree._Element] = {}

    def add(self, vo_id: str, kind: str, representation: etree._Element | None, *rest: etree._Element) -> str:
        if vo_id not in self._objects:
            self._objects[vo_id] = _E.ValidationObject(
                _E.ObjectType(_OBJECT_TYPE[kind]),
                _E.ValidationObjectRepresentation(*([representation] if representation is not None else [])),
                *rest,
                id=vo_id,
            )
        return vo_id

    def certificate(self, cert: CertificateInfo) -> str:
        return self.add(_cert_id(cert), "certificate", _digest("sha256", cert.sha256))

    def element(self) -> etree._Element | None:
        return _E.SignatureValidationObjects(*self._objects.values()) if self._objects else None


def _chain_data(
    objects: _Objects, signer: CertificateInfo | None, chain: list[CertificateInfo], trusted: bool
) -> list[etree._Element]:
    """TrustAnchor and CertificateChain of AssociatedValidationReportData (§4.3.9.3), signer first."""
    if signer is None:
        return []
    path = [c for c in chain if c.sha256 != signer.sha256]
    anchor = path[0] if trusted and path else None
    intermediates = path[1:] if anchor is not None else path
    for cert in (signer, *path):
        objects.certificate(cert)
    parts = [_ref("SigningCertificate", _cert_id(signer))]
    parts += [_ref("IntermediateCertificate", _cert_id(c)) for c in reversed(intermediates)]
    if anchor is not None:
        parts.append(_ref("TrustAnchor", _cert_id(anchor)))
    head = [_ref("TrustAnchor", _cert_id(anchor))] if anchor is not None else []
    return [*head, _E.CertificateChain(*parts)]


def _status(main: str, sub: str | None, data: Iterable[etree._Element], finding: str | None = None) -> etree._Element:
    children = [_E.MainIndication(main)]
    if sub in _SUB_INDICATIONS:
        children.append(_E.SubIndication(f"urn:etsi:019102:subindication:{sub}"))
    associated = list(data)
    if finding:
        associated.append(_E.AdditionalValidationReportData(_E.ReportData(_E.Type(_FINDING), _E.Value(finding))))
    if associated:
        children.append(_E.AssociatedValidationReportData(*associated))
    return _E.SignatureValidationStatus(*children)


def _timestamp_indication(stamp: TimestampInfo) -> tuple[Indication, str | None]:
    if not stamp.intact:
        return Indication.TOTAL_FAILED, "HASH_FAILURE"
    if not stamp.valid:
        return Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE"
    if not stamp.trusted:
        return Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"
    return Indication.TOTAL_PASSED, None


def _timestamp_object(
    objects: _Objects,
    *,
    token_sha256: str | None,
    fallback: str,
    time: datetime,
    tsa: CertificateInfo | None,
    chain: list[CertificateInfo],
    trusted: bool,
    indication: Indication,
    sub: str | None,
    provisioning: list[etree._Element],
) -> str:
    vo_id = _id("T", token_sha256 or hashlib.sha256(fallback.encode()).hexdigest())
    report = [_E.SignerInformation(_ref("SignerCertificate", _cert_id(tsa)), _E.Signer(tsa.subject))] if tsa else []
    status = _status(_TIMESTAMP_MAIN[indication], sub, _chain_data(objects, tsa, chain, trusted))
    return objects.add(
        vo_id,
        "timestamp",
        _digest("sha256", token_sha256) if token_sha256 else None,
        _E.POEProvisioning(_E.POETime(_time(time)), *provisioning),
        _E.ValidationReport(*report, status),
    )


def _signature_timestamp(objects: _Objects, signature: SignatureReport, stamp: TimestampInfo) -> str:
    indication, sub = _timestamp_indication(stamp)
    return _timestamp_object(
        objects,
        token_sha256=stamp.sha256,
        fallback=f"signature time-stamp of {signature.field_name}",
        time=stamp.time,
        tsa=stamp.tsa,
        chain=[],
        trusted=stamp.trusted,
        indication=indication,
        sub=sub,
        provisioning=[_E.SignatureReference(_E.PAdESFieldName(signature.field_name))],
    )


def _document_timestamp(objects: _Objects, stamp: DocumentTimestampReport, signed_data: dict[str, str]) -> str:
    covered = [signed_data[name] for name in stamp.covers if name in signed_data]
    return _timestamp_object(
        objects,
        token_sha256=stamp.sha256,
        fallback=f"document time-stamp {stamp.field_name}",
        time=stamp.time,
        tsa=stamp.tsa,
        chain=stamp.chain,
        trusted=stamp.trusted,
        indication=stamp.indication,
        sub=stamp.sub_indication,
        provisioning=[_ref("ValidationObject", vo) for vo in covered],
    )


def _attributes(
    signature: SignatureReport,
    stamps: list[tuple[DocumentTimestampReport, str]],
    signature_stamp: str | None,
    revocation_ids: dict[str, list[str]],
) -> etree._Element | None:
    """SignatureAttributes (§4.3.5, Annex A) as far as a PAdES signature carries them."""
    items: list[etree._Element] = []
    if signature.claimed_signing_time is not None:
        items.append(_E.SigningTime(_E.Time(_time(signature.claimed_signing_time))))
    if signature.signer is not None:
        items.append(
            _E.SigningCertificate(
                _ref("AttributeObject", _cert_id(signature.signer)),
                _E.CertID(
                    _DSE.DigestMethod(Algorithm=_DIGEST_METHOD["sha256"]),
                    _DSE.DigestValue(base64.b64encode(bytes.fromhex(signature.signer.sha256)).decode()),
                ),
                Signed="true",
            )
        )
    if signature.timestamp is not None and signature_stamp is not None:
        items.append(
            _E.SignatureTimeStamp(
                _ref("AttributeObject", signature_stamp), _E.TimeStampValue(_time(signature.timestamp.time))
            )
        )
    if revocation_ids["crl"] or revocation_ids["ocsp"]:
        lists = [("CRLs", revocation_ids["crl"]), ("OCSPs", revocation_ids["ocsp"])]
        items.append(_E.DSS(*(_ref(name, *ids) for name, ids in lists if ids)))
    for stamp, vo_id in stamps:
        if signature.field_name in stamp.covers:
            items.append(_E.DocTimeStamp(_ref("AttributeObject", vo_id), _E.TimeStampValue(_time(stamp.time))))
    if signature.reason:
        items.append(_E.Reason(_E.ReasonElement(signature.reason)))
    if signature.location:
        items.append(_E.SignatureProductionPlace(_E.AddressString(signature.location)))
    if signature.signed_digest:
        digest = base64.b64encode(bytes.fromhex(signature.signed_digest)).decode()
        items.append(_E.MessageDigest(_E.Digest(digest), Signed="true"))
    return _E.SignatureAttributes(*items) if items else None


def _best_signature_time(
    signature: SignatureReport,
    stamps: list[tuple[DocumentTimestampReport, str]],
    signature_stamp: str | None,
    verified_at: datetime,
) -> etree._Element:
    """The earliest proof of existence of the signature (§4.3.4): its time-stamp, a later document one, or now."""
    poe: tuple[datetime, str | None] = (verified_at, None)
    stamp = signature.timestamp
    if stamp is not None and signature_stamp is not None and _timestamp_indication(stamp)[0] is Indication.TOTAL_PASSED:
        poe = (stamp.time, signature_stamp)
    else:
        proving = [
            (t.time, vo_id)
            for t, vo_id in stamps
            if signature.field_name in t.covers and t.indication is Indication.TOTAL_PASSED
        ]
        if proving:
            poe = min(proving)
    parts = [_E.POETime(_time(poe[0])), _E.TypeOfProof(_POE_VALIDATION)]
    if poe[1] is not None:
        parts.append(_ref("POEObject", poe[1]))
    return _E.BestSignatureTime(*parts)


def _signature_report(
    signature: SignatureReport,
    report: VerificationReport,
    objects: _Objects,
    stamps: list[tuple[DocumentTimestampReport, str]],
    revocation_ids: dict[str, list[str]],
    signed_data: dict[str, str],
) -> etree._Element:
    identifier = _E.SignatureIdentifier(
        _E.HashOnly("false"),
        _E.DocHashOnly("false"),
        _E.DAIdentifier(signature.field_name),
        id=_signature_id(signature.field_name),
    )
    signature_stamp = _signature_timestamp(objects, signature, signature.timestamp) if signature.timestamp else None
    children = [
        identifier,
        _E.ValidationTimeInfo(
            _E.ValidationTime(_time(report.validation_time or report.verified_at)),
            _best_signature_time(signature, stamps, signature_stamp, report.validation_time or report.verified_at),
        ),
    ]
    document_digest = _digest(signature.digest_algorithm, signature.signed_digest) if signature.signed_digest else None
    if document_digest is not None and signature.field_name in signed_data:
        children.append(
            _E.SignersDocument(document_digest, _ref("SignersDocumentRef", signed_data[signature.field_name]))
        )
    attributes = _attributes(signature, stamps, signature_stamp, revocation_ids)
    if attributes is not None:
        children.append(attributes)
    if signature.signer is not None:
        children.append(
            _E.SignerInformation(
                _ref("SignerCertificate", objects.certificate(signature.signer)), _E.Signer(signature.signer.subject)
            )
        )
    if signature.pades_level:
        children.append(
            _E.SignatureQuality(_E.SignatureQualityInformation(f"urn:esign:padesLevel:{signature.pades_level}"))
        )
    if signature.validation_process:
        children.append(
            _E.SignatureValidationProcess(_E.SignatureValidationProcessID(_PROCESS[signature.validation_process]))
        )
    data = _chain_data(objects, signature.signer, signature.chain, signature.trusted)
    revocation = signature.revocation
    if revocation is not None and revocation.revoked and revocation.revoked_at and signature.signer:
        reason = _REVOCATION_REASON.get(revocation.reason or "")
        data.append(
            _E.RevocationStatusInformation(
                _ref("ValidationObjectId", _cert_id(signature.signer)),
                _E.RevocationTime(_time(revocation.revoked_at)),
                *([_E.RevocationReason(f"urn:etsi:019102:revocationReason:{reason}")] if reason else []),
            )
        )
    children.append(_status(_MAIN[signature.indication], signature.sub_indication, data, signature.message))
    return _E.SignatureValidationReport(*children)


def to_xml(report: VerificationReport) -> bytes:
    """The report as a TS 119 102-2 ``ValidationReport`` document, UTF-8 with an XML declaration."""
    objects = _Objects()
    signed_data = {
        s.field_name: objects.add(
            _id("D", s.signed_digest), "signed_data", _digest(s.digest_algorithm, s.signed_digest)
        )
        for s in report.signatures
        if s.signed_digest and s.digest_algorithm in _DIGEST_METHOD
    }
    stamps = [(t, _document_timestamp(objects, t, signed_data)) for t in report.document_timestamps]
    revocation_ids: dict[str, list[str]] = {"crl": [], "ocsp": []}
    for item in report.revocation_data:
        revocation_ids[item.kind].append(objects.add(_id("R", item.sha256), item.kind, _digest("sha256", item.sha256)))
    reports = [
        _signature_report(s, report, objects, stamps, revocation_ids, signed_data) for s in report.signatures
    ] or [_E.SignatureValidationReport(_E.SignatureValidationStatus(_E.MainIndication(_NO_SIGNATURE)))]
    root = _E.ValidationReport(*reports, *([v] if (v := objects.element()) is not None else []))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
