"""What the API takes and gives for identities, tokens and credentials."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from documents.circulation.requests import ReplyKind
from documents.states import DocumentState, RouteState
from esign.archive import Preservation
from esign.identity import Role, Scope
from esign.signature_block import MAX_REASON_CHARS
from keys.credentials import MAX_PIN_ATTEMPTS, MAX_PIN_LENGTH, MIN_PIN_LENGTH, PIN_PATTERN

_PIN_CHARACTERS = "none of them a control character (U+0000 to U+001F, U+007F to U+009F)"

GivenPin = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_PIN_LENGTH,
        pattern=PIN_PATTERN,
        description=(
            f"The credential's PIN (for a PKCS#11 credential, the token's user PIN): 1 to {MAX_PIN_LENGTH} "
            f"characters, {_PIN_CHARACTERS}. A wrong PIN answers 403 `pin_invalid` and counts: {MAX_PIN_ATTEMPTS} "
            "in a row lock the credential. A PIN that breaks this rule answers 422 and does not count."
        ),
    ),
]
"""Every field that carries a PIN to unlock a key. Its least length is 1, not ``MIN_PIN_LENGTH``: a PKCS#11
token's user PIN may have been changed with the token's own tools, under the token's rules. A PIN refused here
unlocks no key whose PIN the service set, so refusing it costs its holder no attempt."""

NewPin = Annotated[
    str,
    Field(
        min_length=MIN_PIN_LENGTH,
        max_length=MAX_PIN_LENGTH,
        pattern=PIN_PATTERN,
        description=f"{MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters, {_PIN_CHARACTERS}",
    ),
]
"""Every field that sets a PIN: the rule of ``keys.credentials.check_pin``, from the same constants."""


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def refuse_nul(value: object, where: str = "body") -> None:
    """Text with a NUL character is refused: PostgreSQL cannot store one in a text column, and no field of
    this API has a use for it. Walks JSON as decoded (objects, arrays, strings)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: NUL characters are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, where)
            refuse_nul(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_nul(item, f"{where}.{index}")


class _In(BaseModel):
    """A request body: a member it does not know is refused (422), so a typo (``opnion``) cannot silently
    drop what the caller meant to send; nor is text with NUL characters (:func:`refuse_nul`)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: object) -> object:
        refuse_nul(data, cls.__name__)
        return data


class OrganisationOut(_Out):
    id: str
    name: str
    short_name: str = Field(description="机关代字, the prefix of document numbers")
    uscc: str = Field(description="Unified social credit code (GB 32100-2015)")
    disabled: bool


ServiceLevel = Literal["B-T", "B-LT", "B-LTA"]
"""The PAdES levels the service signs at: never below B-T (``keys.identities.service_level``)."""


class SignatureLevelIn(_In):
    level: ServiceLevel = Field(
        description="The level of the signatures the service makes for the organisation when none is asked for"
    )


class SignatureLevelOut(BaseModel):
    level: ServiceLevel = Field(description="B-LTA unless the organisation chose B-LT or B-T")


class DirectoryEntryOut(_Out):
    id: str
    name: str
    short_name: str
    parent_id: str | None = Field(description="The superior body, which oversees this one's overdue work")
    level: str | None = Field(description="province, city, county or township (省/市/县/乡镇)")


class DepartmentIn(_In):
    name: str = Field(min_length=1, max_length=200)


class DepartmentOut(_Out):
    id: str
    organisation_id: str
    name: str
    disabled: bool


class OfficialIn(_In):
    name: str = Field(min_length=1, max_length=100)
    department_id: str
    roles: list[Role] = Field(default=[Role.OFFICIAL], min_length=1)
    email: str | None = Field(
        default=None, max_length=254, description="Where notifications are e-mailed when SMTP is configured"
    )


class OfficialOut(_Out):
    id: str
    organisation_id: str
    department_id: str
    name: str
    roles: list[Role]
    disabled: bool
    email: str | None = None


class SystemTokenIn(_In):
    name: str = Field(min_length=1, max_length=100, description="The external system's name")
    scopes: list[Scope] = [Scope.DOCUMENTS]
    lifetime_days: int = Field(default=90, ge=1, le=730, description="From 1 day to 2 years")


class InvitationIn(_In):
    login: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^\S+$",
        description="The official's login name; required the first time, given again it renames the login",
    )


class InvitationOut(BaseModel):
    id: str
    login: str
    url: str = Field(description="The one-time link where the official sets a password; shown once")
    expires_at: datetime


class TokenOut(BaseModel):
    id: str
    token: str = Field(description="Shown once; only its hash is stored")
    expires_at: datetime


class EnrolIn(_In):
    pin: NewPin = Field(
        description="With storage `pin`, the PIN the new key is sealed under; with `pkcs11`, the token's user PIN. "
        f"Either way {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters, {_PIN_CHARACTERS}"
    )
    purpose: str = Field(default="signature", pattern="^(signature|seal)$")
    storage: str = Field(default="pin", pattern="^(pin|pkcs11)$")
    token_label: str | None = Field(
        default=None, max_length=32, description="With storage pkcs11: the label of the holder's own token"
    )


class PinChangeIn(_In):
    old_pin: GivenPin
    new_pin: NewPin


class CertificateOut(BaseModel):
    serial: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    pem: str


class CredentialOut(BaseModel):
    id: str
    organisation_id: str
    official_id: str | None
    purpose: str
    status: str
    storage: str
    failed_pin_attempts: int
    certificate: CertificateOut
    chain_pem: str = Field(description="Issuing CA and root, PEM")


class SessionIn(_In):
    pin: GivenPin
    max_signatures: int = Field(default=100, ge=1, le=1000)
    ttl_seconds: int = Field(default=900, ge=1, le=3600)


class SessionOut(BaseModel):
    id: str
    session: str = Field(description="Secret for `session` in /v1/sign; shown once")
    expires_at: datetime
    signatures_left: int


class RevocationIn(_In):
    reason: str = Field(
        default="unspecified",
        description="RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, "
        "superseded, cessationOfOperation, certificateHold, privilegeWithdrawn",
    )


class RevocationOut(BaseModel):
    serial: str
    revoked_at: datetime
    reason: str


class RevisionOut(_Out):
    seq: int
    reason: str
    sha256: str
    size: int
    detail: dict[str, object]
    created_by: str
    created_at: datetime
    has_verification: bool = Field(description="A verification report was stored when it arrived")


class SenderOut(_Out):
    organisation_id: str
    organisation_name: str
    number: str | None = Field(description="The number the sender gave the document (发文字号)")
    reply_kind: str | None = Field(default=None, description="The sender asked for a reply: information, comments…")
    reply_due_on: date | None = Field(default=None, description="… by this day (working days from arrival)")
    replied_at: datetime | None = None


class DocumentOut(_Out):
    id: str
    organisation_id: str
    kind: str
    direction: str
    title: str
    number: str | None
    secrecy: str | None
    urgency: str | None
    state: DocumentState
    revisions: int = Field(description="How many revisions the document has; the latest is the current PDF")
    created_by: str
    created_at: datetime
    updated_at: datetime
    preservation: Preservation | None = Field(
        default=None,
        description="Long-term preservation of the latest revision: protected by a document (archive) time-stamp, "
        "signed but not yet protected, unsigned; null until the preservation worker has assessed it",
    )
    protected_until: datetime | None = Field(
        default=None,
        description="When the last archive time-stamp's unit certificate expires, i.e. until when the signatures "
        "stay provable offline (the report's provable_until); the worker re-time-stamps the archive before then",
    )
    sender: SenderOut | None = Field(
        default=None,
        description="For a document another organisation dispatched here: who sent it and the number they gave it "
        "(``number`` is this organisation's own, null until it registers one)",
    )


class RegisterEntryOut(DocumentOut):
    next_due_on: date | None = Field(description="The earliest due day of the document's open steps")
    overdue: bool = Field(description="An open step is past its due day (official calendar, Beijing time)")


class RegisterOut(BaseModel):
    documents: list[RegisterEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class DocumentSignIn(_In):
    credential_id: str
    pin: GivenPin | None = None
    session: str | None = Field(default=None, description="A signing session secret instead of the PIN")
    level: str | None = Field(
        default=None, pattern="^B-(B|T|LT|LTA)$", description="B-T, B-LT or B-LTA; the organisation's level if left out"
    )
    reason: str | None = Field(
        default=None, max_length=MAX_REASON_CHARS, description="Printed in a visible signature's block, wrapped"
    )
    visible: str | None = Field(
        default=None, description="PAGE:x1,y1,x2,y2 in points; a seal goes over the date by default"
    )


class StepDocumentOut(_Out):
    """The document a step is about, as an inbox shows it."""

    id: str
    title: str
    number: str | None = Field(description="This organisation's number; after a registration, the one it gave")
    kind: str
    direction: str
    urgency: str | None
    secrecy: str | None
    sender: SenderOut | None = Field(default=None, description="For an incoming document: who sent it, their number")


class StepOut(_Out):
    id: str
    document_id: str
    route_id: str
    stage: int
    kind: str
    state: str
    assignee_official_id: str | None
    assignee_department_id: str | None
    assignee_role: str | None
    requires_signature: bool
    opened_at: datetime
    due_on: date
    completed_at: datetime | None
    completed_by: str | None
    outcome: str | None
    opinion: str | None
    revision_seq: int | None
    document: StepDocumentOut
    stage_name: str | None = Field(description="The stage's name in the route definition, if it has one")
    assignee_official_name: str | None
    assignee_department_name: str | None


class InboxOut(BaseModel):
    steps: list[StepOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class AssigneeIn(_In):
    """Exactly one of the three, checked here so that a malformed handler is a 422 naming it."""

    official_id: str | None = Field(default=None, min_length=1, max_length=36)
    department_id: str | None = Field(default=None, min_length=1, max_length=36)
    role: Role | None = None

    @model_validator(mode="after")
    def _one(self) -> AssigneeIn:
        if sum(v is not None for v in (self.official_id, self.department_id, self.role)) != 1:
            raise ValueError("an assignee is exactly one of official_id, department_id or role")
        return self


class StepActionIn(_In):
    opinion: str | None = Field(default=None, max_length=4000)
    credential_id: str | None = None
    pin: GivenPin | None = None
    session: str | None = None
    level: str | None = Field(
        default=None, pattern="^B-(B|T|LT|LTA)$", description="B-T, B-LT or B-LTA; the organisation's level if left out"
    )
    recipients: list[str] = Field(default=[], description="Organisations a dispatch step sends to")
    reply_kind: ReplyKind | None = Field(
        default=None,
        description="A dispatch that is a request: information (2 working days), comments (5), review (7) or other",
    )
    reply_days: int | None = Field(
        default=None, ge=1, le=90, description="Working days to reply, instead of the kind's"
    )
    in_reply_to: str | None = Field(
        default=None, max_length=36, description="A dispatch that replies to the request received as this document"
    )
    handlers: list[AssigneeIn] = Field(default=[], description="Assignees of the next stage (a leader's instruction)")
    override_reason: str | None = Field(default=None, max_length=400)


class ReturnIn(_In):
    opinion: str | None = Field(default=None, max_length=4000)
    to_stage: int | None = Field(default=None, ge=0, description="Default: the previous stage")


class DelegateIn(_In):
    official_id: str
    opinion: str | None = Field(default=None, max_length=4000)


class RerouteIn(_In):
    department_id: str
    opinion: str | None = Field(default=None, max_length=4000)


class RouteStartIn(_In):
    template_id: str | None = None
    definition: dict[str, object] | None = Field(default=None, description="A route definition instead of a template")


class RouteOut(_Out):
    id: str
    document_id: str
    template_id: str | None
    template_version: int | None
    state: RouteState
    stage: int


class TemplateIn(_In):
    name: str = Field(min_length=1, max_length=200)
    direction: str = Field(default="outgoing", pattern="^(outgoing|incoming)$")
    definition: dict[str, object]


class TemplateOut(_Out):
    id: str
    name: str
    version: int
    direction: str
    definition: dict[str, object]
    retired: bool
    created_at: datetime


class TimelineEntryOut(BaseModel):
    at: datetime
    type: str
    by: str | None = Field(description="Who acted, as the audit log names them (official:<id>, system:<name>)")
    by_name: str | None = Field(default=None, description="The official's name, when an official acted")
    detail: dict[str, object]


class OverrideIn(_In):
    day: date
    working: bool = Field(description="true: a working day; false: a day off")
    note: str = Field(default="", max_length=200)


class OverrideOut(_Out):
    day: date
    working: bool
    note: str
    scope: str


class WorkingDayOut(BaseModel):
    day: date
    working: bool
