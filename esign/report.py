"""The verification report: what a clerk (or a program) learns about every signature in a PDF.

Indications follow ETSI EN 319 102-1 §5.1.3: TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE, with the
standard's sub-indication (HASH_FAILURE, SIG_CRYPTO_FAILURE, NO_CERTIFICATE_CHAIN_FOUND, REVOKED, …).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class TimestampInfo(_Model):
    time: datetime
    tsa: CertificateInfo | None
    intact: bool
    valid: bool
    trusted: bool


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
    type: Literal["approval", "certification", "document_timestamp"]
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
    pades_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None
    indication: Indication
    sub_indication: str | None
    message: str


class VerificationReport(_Model):
    verdict: Verdict
    valid: bool = Field(
        description="True only when there is at least one signature, every one is TOTAL-PASSED "
        "and nothing disallowed changed after any of them"
    )
    summary: str
    sha256: str
    size: int
    revisions: int
    signatures: list[SignatureReport]
    verified_at: datetime
    fetching_allowed: bool
    encrypted: bool = Field(
        default=False,
        description="The file is encrypted but opens without a password (an owner password restricts what "
        "viewers allow); it was verified as it is",
    )
    notes: list[str] = Field(default=[], description="What qualifies the verdict without changing it")
