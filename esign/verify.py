"""Verifying every signature in a PDF and judging the document as a whole.

Each approval or certification signature goes through the ETSI EN 319 102-1 validation process that fits
what it carries: the basic signature validation (§5.3) without a time-stamp, the validation of signatures
with time (§5.5) with a signature time-stamp, so that a certificate revoked or expired after the proven
signing time does not invalidate it. When that cannot conclude and document time-stamps follow the
signature, the validation with long-term availability and integrity of validation material (§5.6.3)
looks for proof of existence in them and validates the signature in the past (§5.6.2.4). The
certificates, CRLs and OCSP responses of the document security store are used as local knowledge, so
B-LT and B-LTA documents verify offline. Document time-stamps are checked as
RFC 3161 tokens over their revision and reported apart from the signatures. Every signature also gets
pyhanko's difference analysis of the incremental updates that follow it and the DocMDP check.

Validation runs at a chosen time (``at``, the current time by default). Revocation data is judged as EU DSS's
default policy does (EN 319 102-1 §5.2.5.4 with the freshness constraint "issued after the best-signature-time"):
once a signature or time-stamp carries a time-stamp, its data counts when issued no earlier than the time it
must cover, whatever its nextUpdate (:data:`ISSUED_AFTER_USE`). The newest time-stamp of the document, the
last of the evidence record, is validated at the validation time itself (§5.6.3) and nothing later proves its
existence, so it is taken to exist at its own genTime: revocation data for its unit issued after that genTime
proves it, and the document stays provable for as long as that unit's certificate is valid. Read strictly, that
time-stamp would need revocation data issued after the validation time, which no file can carry. A signature
with no time-stamp at all has no such time and keeps certvalidator's live policy (data current at the
validation time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESStatus, AdESSubIndic
from pyhanko.sign.diff_analysis import DiffPolicy
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
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
    TimestampSignatureStatus,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, FreshnessReqType, RevocationCheckingPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from . import errors, findings, ltv, pdf
from .diff_review import ReviewOnce
from .report import (
    DocumentTimestampReport,
    SignatureReport,
    ValidationProcess,
    Verdict,
    VerificationReport,
)
from .trust import TrustSettings
from .verdict import judge, protection, verdict

# A document signature proves intent when made with a signing key: digitalSignature or nonRepudiation.
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"})

for _noisy in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


ISSUED_AFTER_USE = FreshnessReqType.TIME_AFTER_SIGNATURE
"""pyhanko-certvalidator's name for the freshness rule above; with a freshness interval of zero it asks
thisUpdate ≥ best-signature-time (EN 319 102-1 §5.2.5.4), the counterpart of EU DSS's default
"revocation data issued after the best-signature-time"."""


def _validation_spec(trust: TrustSettings, dss: LocalKnowledge, *, timed: bool) -> SignatureValidationSpec:
    checking = RevocationCheckingPolicy.from_legacy(trust.revocation_mode)
    revinfo_policy = (
        CertRevTrustPolicy(checking, freshness=timedelta(0), freshness_req_type=ISSUED_AFTER_USE)
        if timed
        else CertRevTrustPolicy(checking)
    )
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=list(trust.anchors)),
        revinfo_policy=revinfo_policy,
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
    return findings.signature_timestamp_token(es) is not None


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


@dataclass(frozen=True)
class _Clock:
    """The validation time, and whether it was chosen (a point-in-time validation) rather than now."""

    at: datetime
    chosen: bool

    def timing(self, best_signature_time: datetime | None = None) -> ValidationTimingInfo:
        best = self.at if best_signature_time is None else min(best_signature_time, self.at)
        return ValidationTimingInfo(
            validation_time=self.at, best_signature_time=best, point_in_time_validation=self.chosen
        )


async def _validate_document_timestamp(
    es: EmbeddedPdfSignature, spec: SignatureValidationSpec, clock: _Clock, diffs: DiffPolicy
) -> TimestampSignatureStatus:
    """At the validation time, with revocation data for its unit issued after its own genTime (module docstring);
    the signatures' long-term validation checks the chain of these time-stamps with proofs of existence."""
    timing = clock.timing(ltv.timestamp_time(es.signed_data))
    handlers = bootstrap_validation_data_handlers(spec, timing_info=timing)
    context = spec.cert_validation_policy.build_validation_context(timing_info=timing, handlers=handlers)
    try:
        return await async_validate_pdf_timestamp(es, validation_context=context, diff_policy=diffs)
    finally:
        await context.aclose()


async def _verify_document_timestamp(
    es: EmbeddedPdfSignature, spec: SignatureValidationSpec, clock: _Clock, diffs: DiffPolicy
) -> DocumentTimestampReport:
    """An RFC 3161 token over its revision; what it covers is filled in once every signature is known."""
    es.compute_integrity_info(diff_policy=diffs)
    modifications = findings.modifications(es)
    ts_status = await _validate_document_timestamp(es, spec, clock, diffs)
    if not ts_status.intact:
        sub: AdESSubIndic = AdESFailure.HASH_FAILURE
    elif not ts_status.valid:
        sub = AdESFailure.SIG_CRYPTO_FAILURE
    elif not ts_status.trusted:
        sub = ts_status.trust_problem_indic or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    else:
        sub = AdESPassed.OK
    indication, sub_indication, message = judge(sub, modifications, None)
    if sub_indication is None:
        message = "the time-stamp is valid"
    chain, anchor = findings.chain(ts_status)
    return DocumentTimestampReport(
        field_name=es.field_name,
        time=ts_status.timestamp,
        tsa=findings.cert_info(es.signer_cert),
        chain=chain,
        trust_anchor=anchor,
        sha256=findings.sha256(cms.ContentInfo.load(es.pkcs7_content).dump()),
        digest_algorithm=ts_status.md_algorithm,
        signature_algorithm=ts_status.pkcs7_signature_mechanism,
        intact=ts_status.intact,
        valid=ts_status.valid,
        trusted=ts_status.trusted,
        revocation=findings.revocation(ts_status),
        coverage=findings.COVERAGE.get(es.coverage) if es.coverage is not None else None,
        signed_revision=es.signed_revision + 1,
        covers=[],
        modifications=modifications,
        indication=indication,
        sub_indication=sub_indication,
        message=message,
    )


async def _verify_signature(
    es: EmbeddedPdfSignature,
    *,
    specs: dict[bool, SignatureValidationSpec],
    clock: _Clock,
    certified_ref: generic.Reference | None,
    doc_timestamps: dict[int, datetime],
    dss_updates: list[int],
    diffs: DiffPolicy,
) -> SignatureReport:
    es.compute_integrity_info(diff_policy=diffs)
    modifications = findings.modifications(es)
    coverage = findings.COVERAGE.get(es.coverage) if es.coverage is not None else None
    signed_revision = es.signed_revision + 1

    token = findings.signature_timestamp_token(es)
    doc_ts_revisions = list(doc_timestamps)
    stamp_times = [t for r, t in doc_timestamps.items() if r > es.signed_revision]
    if token is not None:
        stamp_times.append(ltv.timestamp_time(token["content"]))
    spec = specs[bool(stamp_times)]
    timing = clock.timing(max(stamp_times, default=None))
    process = ades_with_time_validation if token is not None else ades_basic_validation
    raw_digest = es.compute_digest()
    result = await process(
        es.signed_data, spec, timing_info=timing, raw_digest=raw_digest, status_cls=PdfSignatureStatus
    )
    validation_process: ValidationProcess = "ltvm" if token is not None else "basic"
    if result.ades_subindic.status is AdESStatus.INDETERMINATE and any(
        r > es.signed_revision for r in doc_ts_revisions
    ):
        # Only what the validation time cannot settle (a revoked or expired certificate, a weakened
        # algorithm, revocation data older than the signature) needs proof of existence from the document
        # time-stamps (§5.6.3).
        result = await ades_lta_validation(es, PdfSignatureValidationSpec(spec, diff_policy=diffs), timing_info=timing)
        validation_process = "lta"
    status = result.api_status
    indication, sub_indication, message = judge(result.ades_subindic, modifications, result.failure_msg)
    chain, anchor = findings.chain(status)
    certification = certified_ref is not None and es.sig_field.raw_get("/V").reference == certified_ref
    docmdp = es.docmdp_level
    return SignatureReport(
        field_name=es.field_name,
        type="certification" if certification else "approval",
        docmdp=findings.MDP[docmdp] if docmdp is not None else None,  # type: ignore[arg-type]
        signer=findings.cert_info(es.signer_cert),
        chain=chain,
        trust_anchor=anchor,
        claimed_signing_time=(getattr(status, "signer_reported_dt", None) or es.self_reported_timestamp),
        timestamp=findings.timestamp_info(getattr(status, "timestamp_validity", None), token),
        digest_algorithm=status.md_algorithm if status else es.md_algorithm,
        signature_algorithm=status.pkcs7_signature_mechanism if status else None,
        intact=status.intact if status else result.ades_subindic is not AdESFailure.HASH_FAILURE,
        signature_valid=status.valid if status else False,
        trusted=bool(status and status.trusted),
        revocation=findings.revocation(status),
        coverage=coverage,
        signed_revision=signed_revision,
        modifications=modifications,
        pades_level=_pades_level(es, doc_ts_revisions, dss_updates),  # type: ignore[arg-type]
        validation_process=validation_process,
        signed_digest=raw_digest.hex(),
        reason=findings.text(es.sig_object, "/Reason"),
        location=findings.text(es.sig_object, "/Location"),
        indication=indication,
        sub_indication=sub_indication,
        message=message,
    )


def _embedded_signatures(reader: PdfFileReader) -> Iterable[EmbeddedPdfSignature | SignatureReport]:
    for name, _, field_ref in enumerate_sig_fields(reader, filled_status=True):
        try:
            yield EmbeddedPdfSignature(reader, field_ref, name)
        except pdf.PARSE_ERRORS as e:
            yield findings.unreadable_signature(name, e)


async def _verify_all(
    reader: PdfFileReader, trust: TrustSettings, dss: LocalKnowledge, clock: _Clock
) -> tuple[list[SignatureReport], list[DocumentTimestampReport]]:
    found = list(_embedded_signatures(reader))
    embedded = sorted((s for s in found if isinstance(s, EmbeddedPdfSignature)), key=lambda s: s.signed_revision)
    signatures = [s for s in found if isinstance(s, SignatureReport)]
    timestamps: list[DocumentTimestampReport] = []
    if not embedded:
        return signatures, timestamps
    certification = read_certification_data(reader)
    certified_ref = None
    if certification is not None:
        certified_ref = reader.root["/Perms"].raw_get("/DocMDP").reference
    doc_timestamps = {
        s.signed_revision: ltv.timestamp_time(s.signed_data) for s in embedded if s.sig_object_type == "/DocTimeStamp"
    }
    specs = {timed: _validation_spec(trust, dss, timed=timed) for timed in (False, True)}
    dss_updates = _dss_updates(reader)
    diffs = ReviewOnce(reader)
    for es in embedded:
        try:
            if es.sig_object_type == "/DocTimeStamp":
                timestamps.append(await _verify_document_timestamp(es, specs[True], clock, diffs))
            else:
                signatures.append(
                    await _verify_signature(
                        es,
                        specs=specs,
                        clock=clock,
                        certified_ref=certified_ref,
                        doc_timestamps=doc_timestamps,
                        dss_updates=dss_updates,
                        diffs=diffs,
                    )
                )
        except SignatureValidationError as e:
            signatures.append(findings.unreadable_signature(es.field_name, e))
    return signatures, timestamps


def _with_coverage(
    signatures: list[SignatureReport], timestamps: list[DocumentTimestampReport]
) -> tuple[list[SignatureReport], list[DocumentTimestampReport]]:
    """What each document time-stamp covers, and until when each signature stays provable."""
    items: list[SignatureReport | DocumentTimestampReport] = [*signatures, *timestamps]
    covered = [
        t.model_copy(update={"covers": [i.field_name for i in items if i.signed_revision < t.signed_revision]})
        for t in timestamps
    ]
    protected = []
    for signature in signatures:
        until, by = protection(signature, covered)
        protected.append(signature.model_copy(update={"provable_until": until, "provable_by": by}))
    return protected, covered


ENCRYPTED_NOTE = (
    "The file is encrypted, but with an empty user password: it opens without one, and only an owner password "
    "restricts what viewers allow. It was verified as sent; removing its encryption would rewrite it and break "
    "its signatures."
)


def verify(data: pdf.Source, trust: TrustSettings, *, at: datetime | None = None) -> VerificationReport:
    """Verify every signature in ``data`` as of ``at`` (an aware datetime; now by default); raises
    ``PdfMalformed``/``PdfEncrypted`` for unreadable input (an encrypted file that opens without a password is
    verified, and the report says it is encrypted).

    Runs its own event loop: call it from synchronous code (a worker thread under an async server).
    Times are in UTC; :meth:`VerificationReport.localised` puts them in the organisation's zone.
    """
    if at is not None and at.tzinfo is None:
        raise ValueError("the validation time must be timezone-aware")
    clock = _Clock(at=at or datetime.now(UTC), chosen=at is not None)
    reader = pdf.read(data)
    try:
        revisions = reader.xrefs.total_revisions
        dss = _dss_to_local_knowledge(reader)
        signatures, timestamps = _with_coverage(*asyncio.run(_verify_all(reader, trust, dss, clock)))
        revocation_data = findings.revocation_data(dss)
        title, number = findings.document_identity(reader)
    except pdf.PARSE_ERRORS as e:
        raise errors.PdfMalformed(f"the PDF's structure cannot be read: {e}") from e
    judged, summary, summary_en = verdict(signatures, timestamps)
    return VerificationReport(
        verdict=judged,
        valid=judged is Verdict.VALID,
        summary=summary,
        summary_en=summary_en,
        sha256=findings.sha256(data),
        size=findings.size(data),
        revisions=revisions,
        signatures=signatures,
        document_timestamps=timestamps,
        revocation_data=revocation_data,
        verified_at=datetime.now(UTC),
        validation_time=clock.at,
        fetching_allowed=trust.allow_fetching,
        encrypted=reader.encrypted,
        notes=[ENCRYPTED_NOTE] if reader.encrypted else [],
        title=title,
        number=number,
    )
