"""Verifying every signature in a PDF and judging the document as a whole.

Each approval or certification signature goes through the ETSI EN 319 102-1 validation process that fits
what it carries: the basic signature validation (§5.3) without a time-stamp, the validation of signatures
with time (§5.5) with a signature time-stamp, so that a certificate revoked or expired after the proven
signing time does not invalidate it. When that cannot conclude and document time-stamps follow the
signature, the validation with long-term availability and integrity of validation material (§5.6.3)
looks for proof of existence in them. The
certificates, CRLs and OCSP responses of the document security store are used as local knowledge, so
B-LT and B-LTA documents verify offline. Document time-stamps are checked as
RFC 3161 tokens over their revision. Every signature also gets pyhanko's difference analysis of the
incremental updates that follow it and the DocMDP check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from asn1crypto import x509 as asn1_x509
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESStatus, AdESSubIndic
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    SignatureCoverageLevel,
    async_validate_pdf_timestamp,
    read_certification_data,
)
from pyhanko.sign.validation.ades import (
    _dss_to_local_knowledge,
    ades_basic_validation,
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
    bootstrap_validation_data_handlers,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureStatus,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from . import errors, pdf
from .report import (
    CertificateInfo,
    Indication,
    ModificationReport,
    RevocationInfo,
    SignatureReport,
    TimestampInfo,
    Verdict,
    VerificationReport,
)
from .trust import TrustSettings

# A document signature proves intent when made with a signing key: digitalSignature or nonRepudiation.
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"})

_INDICATION = {
    AdESStatus.PASSED: Indication.TOTAL_PASSED,
    AdESStatus.FAILED: Indication.TOTAL_FAILED,
    AdESStatus.INDETERMINATE: Indication.INDETERMINATE,
}
_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "contiguous_block",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}
_MDP = {
    MDPPerm.NO_CHANGES: "no_changes",
    MDPPerm.FILL_FORMS: "form_filling",
    MDPPerm.ANNOTATE: "annotations",
}
_SUB_INDICATION_TEXT = {
    AdESFailure.HASH_FAILURE: "the document bytes covered by the signature were altered",
    AdESFailure.SIG_CRYPTO_FAILURE: "the signature value does not verify with the signer's public key",
    AdESFailure.REVOKED: "the signer's certificate was revoked before the signature was made",
    AdESFailure.FORMAT_FAILURE: "the signature is not well formed",
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: "no chain from the signer's certificate to a trust anchor",
    AdESIndeterminate.REVOKED_NO_POE: "the signer's certificate is revoked and nothing proves the "
    "signature existed before",
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: "the signer's certificate is expired or not yet valid and "
    "nothing proves when the signature was made",
    AdESIndeterminate.TRY_LATER: "revocation information is not available yet",
}

for _noisy in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


def _cert_info(cert: asn1_x509.Certificate) -> CertificateInfo:
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


def _validation_spec(trust: TrustSettings, dss: LocalKnowledge) -> SignatureValidationSpec:
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=list(trust.anchors)),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy(trust.revocation_mode)),
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=(
            RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
            if trust.allow_fetching
            else RevinfoOnlineFetchingRule.LOCAL_ONLY
        ),
        certificate_fetching_rule=(
            CertificateFetchingRule.FOLLOW_ONLINE_RULE if trust.allow_fetching else CertificateFetchingRule.NEVER_FETCH
        ),
    )
    return SignatureValidationSpec(
        cert_validation_policy=policy,
        revinfo_gathering_policy=gathering,
        local_knowledge=LocalKnowledge(
            known_certs=[*trust.other_certs, *dss.known_certs],
            known_crls=[*dss.known_crls, *(CRLContainer(CertificateList.load(c)) for c in trust.crls)],
            known_ocsps=[
                *dss.known_ocsps,
                *(item for o in trust.ocsps for item in OCSPContainer.load_multi(OCSPResponse.load(o))),
            ],
        ),
        key_usage_settings=_KEY_USAGE,
    )


def _dss_updates(reader: PdfFileReader) -> list[int]:
    """Revisions (0-based) that wrote the document security store while it holds revocation data."""
    try:
        latest = reader.root["/DSS"]
    except KeyError:
        return []
    if not any(key in latest for key in ("/OCSPs", "/CRLs")):
        return []
    updates = []
    for revision in range(reader.xrefs.total_revisions):
        root = reader.get_historical_root(revision)
        dss_ref = root.raw_get("/DSS") if "/DSS" in root else None
        if isinstance(dss_ref, generic.IndirectObject) and dss_ref.reference in reader.xrefs.explicit_refs_in_revision(
            revision
        ):
            updates.append(revision)
    return updates


def _has_signature_timestamp(es: EmbeddedPdfSignature) -> bool:
    return next(extract_tst_data_iter(es.signer_info, signed=False), None) is not None


def _pades_level(es: EmbeddedPdfSignature, doc_ts_revisions: list[int], dss_updates: list[int]) -> str | None:
    """PAdES baseline level by ETSI EN 319 142-1 §6: what the document carries for this signature.

    B-T needs a signature time-stamp (or a document time-stamp after it), B-LT validation data added to the
    DSS after it, B-LTA a document time-stamp covering that DSS update.
    """
    if es.sig_object.get("/SubFilter") != "/ETSI.CAdES.detached":
        return None
    signed_attr_types = {attr["type"].native for attr in es.signer_info["signed_attrs"]}
    if not signed_attr_types & {"signing_certificate_v2", "signing_certificate"}:
        return None
    later_timestamps = [r for r in doc_ts_revisions if r > es.signed_revision]
    if not _has_signature_timestamp(es) and not later_timestamps:
        return "B-B"
    later_dss = [r for r in dss_updates if r > es.signed_revision]
    if not later_dss:
        return "B-T"
    if any(t >= min(later_dss) for t in later_timestamps):
        return "B-LTA"
    return "B-LT"


def _modifications(es: EmbeddedPdfSignature) -> ModificationReport:
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


def _timestamp_info(ts: TimestampSignatureStatus | None) -> TimestampInfo | None:
    if ts is None:
        return None
    return TimestampInfo(
        time=ts.timestamp,
        tsa=_cert_info(ts.signing_cert) if ts.signing_cert is not None else None,
        intact=ts.intact,
        valid=ts.valid,
        trusted=ts.trusted,
    )


def _chain(status: SignatureStatus | None) -> tuple[list[CertificateInfo], str | None]:
    if status is None or status.validation_path is None:
        return [], None
    certs = list(status.validation_path.iter_certs(include_root=True))
    return [_cert_info(c) for c in certs], certs[0].subject.human_friendly if certs else None


def _revocation(status: SignatureStatus | None) -> RevocationInfo | None:
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


def _judge(
    sub: AdESSubIndic, modifications: ModificationReport, failure: str | None
) -> tuple[Indication, str | None, str]:
    indication = _INDICATION[sub.status]
    if indication is Indication.TOTAL_PASSED and modifications.allowed is False:
        return (
            Indication.TOTAL_FAILED,
            AdESFailure.FORMAT_FAILURE.standard_name,
            f"disallowed modification after signing: {modifications.detail}",
        )
    if indication is Indication.TOTAL_PASSED:
        return indication, None, "the signature is valid"
    text = _SUB_INDICATION_TEXT.get(sub) or failure or sub.standard_name.replace("_", " ").lower()
    return indication, sub.standard_name, text


async def _validate_document_timestamp(
    es: EmbeddedPdfSignature, spec: SignatureValidationSpec
) -> TimestampSignatureStatus:
    timing = ValidationTimingInfo.now()
    handlers = bootstrap_validation_data_handlers(spec, timing_info=timing)
    context = spec.cert_validation_policy.build_validation_context(timing_info=timing, handlers=handlers)
    try:
        return await async_validate_pdf_timestamp(es, validation_context=context, diff_policy=DEFAULT_DIFF_POLICY)
    finally:
        await context.aclose()


async def _verify_signature(
    es: EmbeddedPdfSignature,
    *,
    spec: SignatureValidationSpec,
    certified_ref: generic.Reference | None,
    doc_ts_revisions: list[int],
    dss_updates: list[int],
) -> SignatureReport:
    es.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)
    modifications = _modifications(es)
    coverage = _COVERAGE.get(es.coverage) if es.coverage is not None else None
    signed_revision = es.signed_revision + 1

    if es.sig_object_type == "/DocTimeStamp":
        ts_status = await _validate_document_timestamp(es, spec)
        if not ts_status.intact:
            sub: AdESSubIndic = AdESFailure.HASH_FAILURE
        elif not ts_status.valid:
            sub = AdESFailure.SIG_CRYPTO_FAILURE
        elif not ts_status.trusted:
            sub = ts_status.trust_problem_indic or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
        else:
            sub = AdESPassed.OK
        indication, sub_indication, message = _judge(sub, modifications, None)
        chain, anchor = _chain(ts_status)
        return SignatureReport(
            field_name=es.field_name,
            type="document_timestamp",
            signer=_cert_info(es.signer_cert),
            chain=chain,
            trust_anchor=anchor,
            claimed_signing_time=ts_status.timestamp,
            timestamp=_timestamp_info(ts_status),
            digest_algorithm=ts_status.md_algorithm,
            signature_algorithm=ts_status.pkcs7_signature_mechanism,
            intact=ts_status.intact,
            signature_valid=ts_status.valid,
            trusted=ts_status.trusted,
            revocation=_revocation(ts_status),
            coverage=coverage,
            signed_revision=signed_revision,
            modifications=modifications,
            pades_level=None,
            indication=indication,
            sub_indication=sub_indication,
            message=message,
        )

    process = ades_with_time_validation if _has_signature_timestamp(es) else ades_basic_validation
    result = await process(es.signed_data, spec, raw_digest=es.compute_digest(), status_cls=PdfSignatureStatus)
    if result.ades_subindic.status is AdESStatus.INDETERMINATE and any(
        r > es.signed_revision for r in doc_ts_revisions
    ):
        # Only what the current time cannot settle (a revoked or expired certificate, a weakened
        # algorithm) needs proof of existence from the document time-stamps (§5.6.3).
        result = await ades_lta_validation(es, PdfSignatureValidationSpec(spec, diff_policy=DEFAULT_DIFF_POLICY))
    status = result.api_status
    indication, sub_indication, message = _judge(result.ades_subindic, modifications, result.failure_msg)
    chain, anchor = _chain(status)
    certification = certified_ref is not None and es.sig_field.raw_get("/V").reference == certified_ref
    docmdp = es.docmdp_level
    return SignatureReport(
        field_name=es.field_name,
        type="certification" if certification else "approval",
        docmdp=_MDP[docmdp] if docmdp is not None else None,  # type: ignore[arg-type]
        signer=_cert_info(es.signer_cert),
        chain=chain,
        trust_anchor=anchor,
        claimed_signing_time=(getattr(status, "signer_reported_dt", None) or es.self_reported_timestamp),
        timestamp=_timestamp_info(getattr(status, "timestamp_validity", None)),
        digest_algorithm=status.md_algorithm if status else es.md_algorithm,
        signature_algorithm=status.pkcs7_signature_mechanism if status else None,
        intact=status.intact if status else result.ades_subindic is not AdESFailure.HASH_FAILURE,
        signature_valid=status.valid if status else False,
        trusted=bool(status and status.trusted),
        revocation=_revocation(status),
        coverage=coverage,
        signed_revision=signed_revision,
        modifications=modifications,
        pades_level=_pades_level(es, doc_ts_revisions, dss_updates),  # type: ignore[arg-type]
        indication=indication,
        sub_indication=sub_indication,
        message=message,
    )


def _unreadable_signature(field_name: str, error: BaseException) -> SignatureReport:
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


def _embedded_signatures(reader: PdfFileReader) -> Iterable[EmbeddedPdfSignature | SignatureReport]:
    for name, _, field_ref in enumerate_sig_fields(reader, filled_status=True):
        try:
            yield EmbeddedPdfSignature(reader, field_ref, name)
        except pdf.PARSE_ERRORS as e:
            yield _unreadable_signature(name, e)


async def _verify_all(reader: PdfFileReader, trust: TrustSettings) -> list[SignatureReport]:
    found = list(_embedded_signatures(reader))
    embedded = sorted((s for s in found if isinstance(s, EmbeddedPdfSignature)), key=lambda s: s.signed_revision)
    reports = [s for s in found if isinstance(s, SignatureReport)]
    if not embedded:
        return reports
    certification = read_certification_data(reader)
    certified_ref = None
    if certification is not None:
        certified_ref = reader.root["/Perms"].raw_get("/DocMDP").reference
    doc_ts_revisions = [s.signed_revision for s in embedded if s.sig_object_type == "/DocTimeStamp"]
    context = dict(
        spec=_validation_spec(trust, _dss_to_local_knowledge(reader)),
        certified_ref=certified_ref,
        doc_ts_revisions=doc_ts_revisions,
        dss_updates=_dss_updates(reader),
    )
    for es in embedded:
        try:
            reports.append(await _verify_signature(es, **context))  # type: ignore[arg-type]
        except SignatureValidationError as e:
            reports.append(_unreadable_signature(es.field_name, e))
    return reports


def _verdict(reports: list[SignatureReport]) -> tuple[Verdict, str]:
    if not reports:
        return Verdict.UNSIGNED, "the document carries no signature"
    failed = [r for r in reports if r.indication is Indication.TOTAL_FAILED]
    unsure = [r for r in reports if r.indication is Indication.INDETERMINATE]
    if failed:
        first = failed[0]
        return Verdict.INVALID, f"signature {first.field_name!r} failed: {first.message}"
    if unsure:
        first = unsure[0]
        return Verdict.INDETERMINATE, f"signature {first.field_name!r} cannot be confirmed: {first.message}"
    n = len(reports)
    counted = "the signature is valid" if n == 1 else f"all {n} signatures are valid"
    if reports[-1].coverage == "entire_file":
        return Verdict.VALID, f"{counted}; the document has not changed since it was signed"
    return Verdict.VALID, f"{counted}; changes made after signing are permitted ones"


ENCRYPTED_NOTE = (
    "The file is encrypted, but with an empty user password: it opens without one, and only an owner password "
    "restricts what viewers allow. It was verified as sent; removing its encryption would rewrite it and break "
    "its signatures."
)


def verify(data: bytes, trust: TrustSettings) -> VerificationReport:
    """Verify every signature in ``data``; raises ``PdfMalformed``/``PdfEncrypted`` for unreadable input (an
    encrypted file that opens without a password is verified, and the report says it is encrypted).

    Runs its own event loop: call it from synchronous code (a worker thread under an async server).
    """
    reader = pdf.read(data)
    try:
        revisions = reader.xrefs.total_revisions
        reports = asyncio.run(_verify_all(reader, trust))
    except pdf.PARSE_ERRORS as e:
        raise errors.PdfMalformed(f"the PDF's structure cannot be read: {e}") from e
    verdict, summary = _verdict(reports)
    return VerificationReport(
        verdict=verdict,
        valid=verdict is Verdict.VALID,
        summary=summary,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        revisions=revisions,
        signatures=reports,
        verified_at=datetime.now(UTC),
        fetching_allowed=trust.allow_fetching,
        encrypted=reader.encrypted,
        notes=[ENCRYPTED_NOTE] if reader.encrypted else [],
    )
