"""The verification report: what a clerk (or a program) learns about every signature in a PDF.

Indications follow ETSI EN 319 102-1 §5.1.3: TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE, with the
standard's sub-indication (HASH_FAILURE, SIG_CRYPTO_FAILURE, NO_CERTIFICATE_CHAIN_FOUND, REVOKED, …).
Document time-stamps (ISO 32000-2 §12.8.5) are no signatures: they are listed apart, and the summary
counts signatures only.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

ValidationProcess = Literal["basic", "ltvm", "lta"]


class Indication(enum.StrEnum):
    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class Verdict(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    UNSIGNED = "unsigned"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CertificateInfo(_Model):
    subject: str
    issuer: str
    serial: str = Field(description="Serial number, hexadecimal")
    not_before: datetime
    not_after: datetime
    key_usage: list[str]
    extended_key_usage: list[str]
    is_ca: bool
    sha256: str = Field(description="SHA-256 fingerprint of the DER certificate, hexadecimal")

    def attributes(self) -> dict[str, str]:
        """The subject's attributes by name as ``subject`` writes them (asn1crypto's ``human_friendly``:
        ``Common Name: 张三, Organization: 甲市``, with ``; `` between attributes when a value holds a comma).
        A seal's subject has an ``Organization Identifier`` (the unified social credit code); a person's has not."""
        separator = "; " if "; " in self.subject else ", "
        found: dict[str, str] = {}
        for item in self.subject.split(separator):
            label, colon, value = item.partition(": ")
            if colon:
                found.setdefault(label, value)
        return found


class TimestampInfo(_Model):
    time: datetime
    tsa: CertificateInfo | None
    intact: bool
    valid: bool
    trusted: bool
    sha256: str | None = Field(default=None, description="SHA-256 of the DER time-stamp token, hexadecimal")


class RevocationInfo(_Model):
    revoked: bool
    revoked_at: datetime | None = None
    reason: str | None = None
    ca_revoked: bool = False


class ModificationReport(_Model):
    level: Literal["none", "lta_updates", "form_filling", "annotations", "other"] | None = Field(
        description="What the incremental updates after this signature do, as pyhanko's difference "
        "analysis classifies them; null when it could not be determined"
    )
    allowed: bool | None = Field(description="Whether those changes are permitted (DocMDP and the difference policy)")
    detail: str | None = None
    changed_fields: list[str] = []


class SignatureReport(_Model):
    field_name: str
    type: Literal["approval", "certification"]
    docmdp: Literal["no_changes", "form_filling", "annotations"] | None = Field(
        default=None, description="DocMDP permission this signature imposes (certification or /Lock)"
    )
    signer: CertificateInfo | None
    chain: list[CertificateInfo] = Field(description="Validation path, trust anchor first")
    trust_anchor: str | None
    claimed_signing_time: datetime | None
    timestamp: TimestampInfo | None
    digest_algorithm: str | None
    signature_algorithm: str | None
    intact: bool = Field(description="The signed byte ranges hash to the signed digest")
    signature_valid: bool = Field(description="The signature value verifies with the signer's key")
    trusted: bool = Field(description="A valid chain to a trust anchor was found")
    revocation: RevocationInfo | None
    coverage: Literal["entire_file", "entire_revision", "contiguous_block", "unclear"] | None
    signed_revision: int = Field(description="Revision (1-based) this signature covers")
    modifications: ModificationReport
    pades_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None = Field(
        description="PAdES baseline level found (ETSI EN 319 142-1 §6): how the signature is protected"
    )
    provable_until: datetime | None = Field(
        default=None,
        description="Until when the signature can be proven valid with what the document carries: the expiry of "
        "the certificate of the last valid time-stamp covering it, or of the signer's certificate without one; "
        "null when the signature is not valid",
    )
    provable_by: Literal["signer_certificate", "signature_timestamp", "document_timestamp"] | None = Field(
        default=None, description="Whose certificate sets provable_until"
    )
    validation_process: ValidationProcess | None = Field(
        default=None,
        description="ETSI EN 319 102-1 process that concluded: basic signature validation (§5.3), validation with "
        "time and long-term validation material (§5.5), or with long-term availability and integrity (§5.6)",
    )
    signed_digest: str | None = Field(
        default=None, description="Digest of the signed byte ranges in digest_algorithm, hexadecimal"
    )
    reason: str | None = Field(default=None, description="The reason the signer gave (/Reason)")
    location: str | None = Field(default=None, description="The place the signer gave (/Location)")
    indication: Indication
    sub_indication: str | None
    message: str


class DocumentTimestampReport(_Model):
    """A document time-stamp (PAdES B-LTA, ETSI EN 319 142-1 §5.4): an RFC 3161 token over a revision."""

    field_name: str
    time: datetime = Field(description="The time the TSA attests")
    tsa: CertificateInfo | None = Field(description="The time-stamping unit's certificate")
    chain: list[CertificateInfo] = Field(description="Validation path of the TSA certificate, trust anchor first")
    trust_anchor: str | None
    sha256: str | None = Field(default=None, description="SHA-256 of the DER time-stamp token, hexadecimal")
    digest_algorithm: str | None
    signature_algorithm: str | None
    intact: bool = Field(description="The time-stamped revision hashes to the token's message imprint")
    valid: bool = Field(description="The token's signature verifies")
    trusted: bool = Field(description="A valid chain from the TSA certificate to a trust anchor was found")
    revocation: RevocationInfo | None
    coverage: Literal["entire_file", "entire_revision", "contiguous_block", "unclear"] | None
    signed_revision: int = Field(description="Revision (1-based) this time-stamp covers, with all before it")
    covers: list[str] = Field(description="Field names of the signatures and earlier time-stamps it covers")
    modifications: ModificationReport
    indication: Indication
    sub_indication: str | None
    message: str


class RevocationDataInfo(_Model):
    """A CRL or OCSP response the document security store carries (ISO 32000-2 §12.8.4.3)."""

    kind: Literal["crl", "ocsp"]
    issuer: str = Field(description="CRL issuer or OCSP responder")
    issued_at: datetime | None = Field(description="thisUpdate of a CRL, producedAt of an OCSP response")
    next_update: datetime | None
    sha256: str = Field(description="SHA-256 of the DER CRL or OCSP response, hexadecimal")


class VerificationReport(_Model):
    verdict: Verdict
    valid: bool = Field(
        description="True only when there is at least one signature, every signature and document time-stamp "
        "is TOTAL-PASSED and nothing disallowed changed after any of them"
    )
    summary: str = Field(description="The verdict in one sentence, in Chinese, counting signatures only")
    summary_en: str = Field(description="The same sentence in English")
    sha256: str
    size: int
    revisions: int
    signatures: list[SignatureReport] = Field(description="Approval and certification signatures")
    document_timestamps: list[DocumentTimestampReport] = Field(
        description="Document time-stamps, listed apart from the signatures"
    )
    revocation_data: list[RevocationDataInfo] = Field(description="CRLs and OCSP responses the document carries")
    verified_at: datetime
    validation_time: datetime | None = Field(
        default=None,
        description="The time the signatures were validated at (ETSI EN 319 102-1 §5.6.2.4, past validation): "
        "the time asked for, or verified_at",
    )
    fetching_allowed: bool
    encrypted: bool = Field(
        default=False,
        description="The file is encrypted but opens without a password (an owner password restricts what "
        "viewers allow); it was verified as it is",
    )
    notes: list[str] = Field(default=[], description="What qualifies the verdict without changing it")
    title: str | None = Field(default=None, description="The document's title, when its Info dictionary has one")
    number: str | None = Field(
        default=None, description="The document number (发文字号, e.g. 粤府办〔2026〕12号), when the PDF carries one"
    )

    @computed_field(  # type: ignore[prop-decorator]  # pydantic's documented use
        description="Until when the document as a whole stays provable offline: the earliest provable_until of "
        "its signatures when a document (archive) time-stamp covers every one of them (B-LTA), which is the date "
        "the service renews the archive before (its protected_until); null when a signature is invalid or not "
        "yet covered by an archive time-stamp"
    )
    @property
    def protected_until(self) -> datetime | None:
        covered = [s.provable_until for s in self.signatures if s.provable_by == "document_timestamp"]
        if not self.signatures or len(covered) != len(self.signatures):
            return None
        return min(t for t in covered if t is not None)

    def localised(self, zone: tzinfo) -> VerificationReport:
        """The same report with every time in ``zone``, carrying its UTC offset (``…T09:00:00+08:00``)."""
        localised: VerificationReport = _in_zone(self, zone)
        return localised


def _in_zone(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    if isinstance(value, BaseModel):
        return value.model_copy(
            update={name: _in_zone(getattr(value, name), zone) for name in type(value).model_fields}
        )
    if isinstance(value, list):
        return [_in_zone(item, zone) for item in value]
    return value
