"""A verification report in a clerk's words: who signed, as a person or with the organisation's seal, when, what
changed afterwards, and how long it stays provable. Only wording lives here; every finding is the report's
(``esign.report``), so the page, the JSON and the PDF report never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from esign.report import Indication, SignatureReport, Verdict, VerificationReport

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


ROLE_NAMES: dict[str, str] = {
    "official": N_("Official"),
    "leader": N_("Leader"),
    "clerk": N_("Clerk"),
    "seal_custodian": N_("Seal custodian"),
    "admin": N_("Administrator"),
}
"""The roles (``esign.identity.Role``) as the pages name them."""

STEP_KINDS = {
    "information": N_("Information (提供信息)"),
    "comment": N_("Comments (征求意见)"),
    "review": N_("Review (审核)"),
    "countersign": N_("Countersign (会签)"),
    "sign_off": N_("Sign-off (签发)"),
    "registration": N_("Registration (登记)"),
    "seal": N_("Seal (用印)"),
    "dispatch": N_("Dispatch (分发)"),
    "receipt": N_("Receipt (签收)"),
    "proposal": N_("Proposal (拟办)"),
    "instruction": N_("Instruction (批办)"),
    "handling": N_("Handling (承办)"),
    "reading": N_("Reading (传阅)"),
    "closure": N_("Closure (办结)"),
    "replies": N_("Awaiting replies (等待回复)"),
}
"""A step's kind as a page names it when its stage has no name (``documents.circulation.model.StepKind``)."""


VERDICT_WORD = {
    Verdict.VALID: N_("Valid"),
    Verdict.INVALID: N_("Invalid"),
    Verdict.INDETERMINATE: N_("Cannot be determined"),
    Verdict.UNSIGNED: N_("Not signed"),
}
INDICATION_WORD = {
    Indication.TOTAL_PASSED: N_("Valid"),
    Indication.TOTAL_FAILED: N_("Invalid"),
    Indication.INDETERMINATE: N_("Cannot be determined"),
}
WHY = {
    "HASH_FAILURE": N_("The signed content was altered after signing."),
    "SIG_CRYPTO_FAILURE": N_("The signature value does not match the signer's key."),
    "REVOKED": N_("The signer's certificate was revoked before the signature was made."),
    "FORMAT_FAILURE": N_("The signature is malformed, or the document was changed in a way the signature forbids."),
    "NO_CERTIFICATE_CHAIN_FOUND": N_("The signer's certificate does not lead to an authority this service trusts."),
    "REVOKED_NO_POE": N_("The signer's certificate is revoked and nothing proves the signature is older."),
    "REVOKED_CA_NO_POE": N_(
        "A certificate authority in the chain is revoked and nothing proves the signature is older."
    ),
    "OUT_OF_BOUNDS_NO_POE": N_(
        "The signer's certificate has expired or is not yet valid, and no time-stamp proves when it signed."
    ),
    "OUT_OF_BOUNDS_NOT_REVOKED": N_("The signer's certificate has expired or is not yet valid."),
    "NOT_YET_VALID": N_("The signer's certificate is not yet valid."),
    "EXPIRED": N_("The signer's certificate has expired."),
    "CRYPTO_CONSTRAINTS_FAILURE": N_("The signature uses an algorithm that is no longer safe."),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": N_("The signature uses an algorithm that is no longer safe."),
    "TRY_LATER": N_("Revocation information is not available yet; try again later."),
}
PROVEN_BY = {
    "document_timestamp": N_("the certificate of the document time-stamp"),
    "signature_timestamp": N_("the certificate of the signature's time-stamp"),
    "signer_certificate": N_("the signer's certificate"),
}
ERRORS = {
    "pdf_malformed": N_("This file is not a readable PDF, so there is nothing to verify."),
    "pdf_encrypted": N_("This PDF needs a password to open; it cannot be verified."),
    "pdf_too_complex": N_("This PDF is too complex to check safely; it was refused."),
    "pdf_invalid": N_("This file is not a PDF that can be verified."),
    "too_large": N_("The file is larger than this service accepts: at most %(size)s MB."),
    "busy": N_("The service is busy verifying other files; try again in a moment."),
    "rate_limited": N_("Too many files were verified from this computer in a short time; try again in a minute."),
    "no_file": N_("Choose a PDF file first."),
    "report_invalid": N_("This report cannot be produced again; verify the file once more."),
}


@dataclass(frozen=True)
class SignatureView:
    index: int
    field_name: str
    indication: Indication
    status: str
    why: str | None
    signer: str
    organisation: str | None
    department: str | None
    is_seal: bool
    signed_at: datetime | None
    signed_at_attested: bool
    """True when a trusted time-stamp attests the time; false when it is the time the signer's computer claimed."""
    timestamp_time: datetime | None
    timestamp_authority: str | None
    timestamp_trusted: bool
    changes: str
    provable_until: datetime | None
    provable_by: str | None
    reason: str | None
    location: str | None


def changes(signature: SignatureReport, _: Translate) -> str:
    """What happened to the document after this signature, in plain words."""
    if not signature.intact:
        return _("The content this signature covers was altered after signing.")
    modifications = signature.modifications
    allowed = modifications.allowed
    if signature.coverage == "entire_file" or modifications.level == "none":
        return _("Nothing has changed since it was signed.")
    if modifications.level == "lta_updates":
        return _("Only validation data and time-stamps were added since; that is allowed.")
    if modifications.level == "form_filling":
        fields = "、".join(modifications.changed_fields) or "—"
        text = _("Form fields were filled in since (%(fields)s).") % {"fields": fields}
    elif modifications.level == "annotations":
        text = _("Comments or annotations were added since.")
    elif modifications.level == "other":
        text = _("The document was changed in other ways since.")
    else:
        return _("What changed since it was signed cannot be determined.")
    verdict = _("That is allowed.") if allowed else _("That is not allowed.") if allowed is False else ""
    return f"{text} {verdict}".strip()


def signature_view(index: int, signature: SignatureReport, _: Translate) -> SignatureView:
    parts = signature.signer.attributes() if signature.signer else {}
    is_seal = "Organization Identifier" in parts
    stamp = signature.timestamp
    attested = bool(stamp and stamp.intact and stamp.valid and stamp.trusted)
    why = None
    if signature.indication is not Indication.TOTAL_PASSED and signature.sub_indication:
        why = _(WHY[signature.sub_indication]) if signature.sub_indication in WHY else signature.message
    return SignatureView(
        index=index,
        field_name=signature.field_name,
        indication=signature.indication,
        status=_(INDICATION_WORD[signature.indication]),
        why=why,
        signer=parts.get("Common Name") or (signature.signer.subject if signature.signer else _("unknown")),
        organisation=parts.get("Organization"),
        department=parts.get("Organizational Unit"),
        is_seal=is_seal,
        signed_at=stamp.time if attested and stamp else signature.claimed_signing_time,
        signed_at_attested=attested,
        timestamp_time=stamp.time if stamp else None,
        timestamp_authority=stamp.tsa.attributes().get("Common Name") if stamp and stamp.tsa else None,
        timestamp_trusted=attested,
        changes=changes(signature, _),
        provable_until=signature.provable_until,
        provable_by=_(PROVEN_BY[signature.provable_by]) if signature.provable_by else None,
        reason=signature.reason,
        location=signature.location,
    )


def summary(report: VerificationReport, lang: str) -> str:
    """The report's own sentence: Chinese as esign words it, English from ``summary_en``."""
    if lang == "zh":
        return report.summary
    sentence = report.summary_en
    return sentence[:1].upper() + sentence[1:] + ("" if sentence.endswith(".") else ".")
