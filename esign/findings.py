"""Report items from what pyhanko's validation found: certificates, time-stamps, revocation, changes after signing."""

from __future__ import annotations

import hashlib
import io
import re
from typing import BinaryIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.general import find_cms_attribute_iter
from pyhanko.sign.validation import EmbeddedPdfSignature, SignatureCoverageLevel
from pyhanko.sign.validation.policy_decl import LocalKnowledge
from pyhanko.sign.validation.status import SignatureStatus, TimestampSignatureStatus

from .pdf import PARSE_ERRORS
from .report import (
    CertificateInfo,
    Indication,
    ModificationReport,
    RevocationDataInfo,
    RevocationInfo,
    SignatureReport,
    TimestampInfo,
)

COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "contiguous_block",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}


MDP = {
    MDPPerm.NO_CHANGES: "no_changes",
    MDPPerm.FILL_FORMS: "form_filling",
    MDPPerm.ANNOTATE: "annotations",
}


def cert_info(cert: asn1_x509.Certificate) -> CertificateInfo:
    key_usage = cert.key_usage_value
    eku = cert.extended_key_usage_value
    return CertificateInfo(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before,
        not_after=cert.not_valid_after,
        key_usage=sorted(key_usage.native) if key_usage is not None else [],
        extended_key_usage=list(eku.native) if eku is not None else [],
        is_ca=bool(cert.ca),
        sha256=cert.sha256.hex(),
    )


def signature_timestamp_token(es: EmbeddedPdfSignature) -> cms.ContentInfo | None:
    unsigned = es.signer_info["unsigned_attrs"]
    return next(find_cms_attribute_iter(unsigned, "signature_time_stamp_token"), None) if unsigned else None


def sha256(data: bytes | BinaryIO) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    data.seek(0)
    digest = hashlib.sha256()
    while chunk := data.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def size(data: bytes | BinaryIO) -> int:
    return len(data) if isinstance(data, bytes) else data.seek(0, io.SEEK_END)


def revocation_data(dss: LocalKnowledge) -> list[RevocationDataInfo]:
    """The CRLs and OCSP responses of the document security store, each once."""
    found: dict[str, RevocationDataInfo] = {}
    for crl in dss.known_crls:
        der = crl.crl_data.dump()
        tbs = crl.crl_data["tbs_cert_list"]
        found[sha256(der)] = RevocationDataInfo(
            kind="crl",
            issuer=crl.crl_data.issuer.human_friendly,
            issued_at=tbs["this_update"].native,
            next_update=tbs["next_update"].native,
            sha256=sha256(der),
        )
    for ocsp in dss.known_ocsps:
        der = ocsp.ocsp_response_data.dump()
        basic = ocsp.ocsp_response_data.basic_ocsp_response["tbs_response_data"]
        responder = basic["responder_id"]
        single = basic["responses"][ocsp.index]
        found[sha256(der)] = RevocationDataInfo(
            kind="ocsp",
            issuer=responder.chosen.human_friendly if responder.name == "by_name" else responder.chosen.native.hex(),
            issued_at=basic["produced_at"].native,
            next_update=single["next_update"].native,
            sha256=sha256(der),
        )
    return list(found.values())


def modifications(es: EmbeddedPdfSignature) -> ModificationReport:
    integrity = es.summarise_integrity_info()
    diff = integrity["diff_result"]
    detail = None
    changed: list[str] = []
    if isinstance(diff, DiffResult):
        level: ModificationLevel | None = diff.modification_level
        changed = sorted(diff.changed_form_fields)
    elif diff is not None:
        level = ModificationLevel.OTHER
        detail = str(diff)
    elif integrity["coverage"] == SignatureCoverageLevel.ENTIRE_FILE:
        level = ModificationLevel.NONE
    else:
        level = None
    allowed = integrity["docmdp_ok"]
    if allowed is False and detail is None:
        if level is ModificationLevel.OTHER:
            detail = "the document was changed after signing in a way that no signature permits"
        else:
            detail = "the changes after signing exceed what this signature's DocMDP permission allows"
    return ModificationReport(
        level=level.name.lower() if level is not None else None,  # type: ignore[arg-type]
        allowed=allowed,
        detail=detail,
        changed_fields=changed,
    )


def timestamp_info(ts: TimestampSignatureStatus | None, token: cms.ContentInfo | None) -> TimestampInfo | None:
    if ts is None:
        return None
    return TimestampInfo(
        time=ts.timestamp,
        tsa=cert_info(ts.signing_cert) if ts.signing_cert is not None else None,
        intact=ts.intact,
        valid=ts.valid,
        trusted=ts.trusted,
        sha256=sha256(token.dump()) if token is not None else None,
    )


def chain(status: SignatureStatus | None) -> tuple[list[CertificateInfo], str | None]:
    if status is None or status.validation_path is None:
        return [], None
    certs = list(status.validation_path.iter_certs(include_root=True))
    return [cert_info(c) for c in certs], certs[0].subject.human_friendly if certs else None


def revocation(status: SignatureStatus | None) -> RevocationInfo | None:
    if status is None:
        return None
    details = status.revocation_details
    if details is None:
        return RevocationInfo(revoked=False)
    return RevocationInfo(
        revoked=True,
        revoked_at=details.revocation_date,
        reason=details.revocation_reason.native,
        ca_revoked=details.ca_revoked,
    )


def text(dictionary: generic.DictionaryObject, key: str) -> str | None:
    value = dictionary.get(key)
    return str(value) if isinstance(value, generic.TextStringObject | generic.ByteStringObject) else None


def unreadable_signature(field_name: str, error: BaseException) -> SignatureReport:
    return SignatureReport(
        field_name=field_name,
        type="approval",
        signer=None,
        chain=[],
        trust_anchor=None,
        claimed_signing_time=None,
        timestamp=None,
        digest_algorithm=None,
        signature_algorithm=None,
        intact=False,
        signature_valid=False,
        trusted=False,
        revocation=None,
        coverage=None,
        signed_revision=0,
        modifications=ModificationReport(level=None, allowed=None),
        pades_level=None,
        indication=Indication.TOTAL_FAILED,
        sub_indication=AdESFailure.FORMAT_FAILURE.standard_name,
        message=f"the signature cannot be read: {error}",
    )


_NUMBER = re.compile(r"[^\s，,;；]*〔\d{4}〕\d+号")
"""A document number (发文字号) as GB/T 9704-2012 §7.2.4 writes it: 机关代字〔年份〕序号号, e.g. 粤府办〔2026〕12号."""


_METADATA_ERRORS: tuple[type[BaseException], ...] = (*PARSE_ERRORS, AttributeError, TypeError)


_PLACEHOLDER_TITLES = {"untitled", "anonymous", "document"}
"""What PDF writers put in /Title when nobody gave one (reportlab: "untitled"): not a title."""


def document_identity(reader: PdfFileReader) -> tuple[str | None, str | None]:
    """The document's title and number when the PDF carries them: the Info dictionary's /Title, and a number
    found in its /Subject (where esign's documents write "<kind> <number>") or its title. The latest revision
    that has them counts: a signature's incremental update may write an Info dictionary of its own without them.
    """
    try:
        for revision in reversed(range(reader.xrefs.total_revisions)):
            info = reader.get_historical_resolver(revision).trailer_view.get("/Info")
            info = info.get_object() if info is not None else None
            if not isinstance(info, generic.DictionaryObject):
                continue
            title, subject = (str(info[key]).strip() if key in info else "" for key in ("/Title", "/Subject"))
            title = "" if title.lower() in _PLACEHOLDER_TITLES else title
            if title or subject:
                found = _NUMBER.search(subject) or _NUMBER.search(title)
                return title or None, found.group(0) if found else None
    except _METADATA_ERRORS:
        pass
    return None, None
