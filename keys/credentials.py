"""Credentials: an official's signing certificate or an organisation's seal certificate, with its key's custody.

The key is generated here and kept only encrypted under the holder's PIN (``storage="pin"``), or it is
generated inside a PKCS#11 token and never leaves it (``storage="pkcs11"``). Either way the service cannot
use it without the holder's PIN.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.errors import Conflict, Forbidden, InvalidInput
from esign.identity import Actor, Role
from esign.ids import new_id, now
from esign.scoped import get_scoped
from esign.settings import Settings

from . import ca, envelope, pkcs11
from .authorities import ISSUING, IssuedCertificate, Pki, record, serial_hex
from .ca import Profile
from .identities import Official, get_department, get_official, get_organisation

MIN_PIN_LENGTH = 6
"""The least length of a PIN the service sets (enrolling a key, changing a PIN). A PIN in use may be shorter:
a PKCS#11 token's user PIN is also changed with the token's own tools, under the token's rules."""
MAX_PIN_LENGTH = 128
PIN_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Any character but a control character (C0, DEL, C1): what a person types, or a PIN pad sends. The same text
is the pattern of every PIN field in the OpenAPI document (an ECMA-262 regex as well as a Python one)."""
MAX_PIN_ATTEMPTS = 5


class Purpose(enum.StrEnum):
    SIGNATURE = "signature"
    SEAL = "seal"


class Status(enum.StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Storage(enum.StrEnum):
    PIN = "pin"
    PKCS11 = "pkcs11"


class Credential(Base):
    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    official_id: Mapped[str | None] = mapped_column(ForeignKey("officials.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=Status.ACTIVE.value)
    serial: Mapped[str] = mapped_column(ForeignKey("issued_certificates.serial"), unique=True)
    storage: Mapped[str] = mapped_column(String(20))
    encrypted_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_uri: Mapped[str | None] = mapped_column(String(500))
    failed_pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)


def context(credential_id: str) -> bytes:
    return f"credential:{credential_id}".encode()


def check_pin(pin: str) -> None:
    """The rule for a PIN the service sets: ``MIN_PIN_LENGTH`` to ``MAX_PIN_LENGTH`` characters matching
    ``PIN_PATTERN``. The API's ``NewPin`` fields state the same rule, from the same constants."""
    if not MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH:
        raise InvalidInput(f"a PIN has {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters")
    if re.fullmatch(PIN_PATTERN, pin) is None:
        raise InvalidInput("a PIN may not contain control characters")


def certificate(session: Session, credential: Credential) -> x509.Certificate:
    issued = session.get(IssuedCertificate, credential.serial)
    assert issued is not None
    return x509.load_der_x509_certificate(issued.certificate)


def effective_status(session: Session, credential: Credential) -> Status:
    status = Status(credential.status)
    if status in (Status.ACTIVE, Status.LOCKED) and certificate(session, credential).not_valid_after_utc <= now():
        return Status.EXPIRED
    return status


def _subject(session: Session, *, purpose: Purpose, organisation_id: str, official: Official | None) -> x509.Name:
    org = get_organisation(session, organisation_id)
    if purpose is Purpose.SEAL:
        return ca.organisation_name(org.name, uscc=org.uscc)
    assert official is not None
    dept = get_department(session, organisation_id=organisation_id, department_id=official.department_id)
    return ca.person_name(official.name, organisation=org.name, department=dept.name)


def enrol(
    session: Session,
    *,
    actor: Actor,
    pki: Pki,
    settings: Settings,
    purpose: Purpose,
    pin: str,
    storage: Storage = Storage.PIN,
    token_label: str | None = None,
) -> Credential:
    """A new key and certificate: the actor's own signing credential, or their organisation's seal.

    A seal credential is enrolled by a seal custodian, who chooses its PIN; a signature credential only by
    the official who will hold it (sole control: nobody else ever knows its PIN). With PKCS#11 storage the
    key is generated inside ``token_label``, the holder's own token (PKCS#11 has one user PIN per token,
    so a token shared by several holders would let each of them use every key in it).
    """
    official_id = actor.require_official()
    check_pin(pin)
    if purpose is Purpose.SEAL and not actor.has_role(Role.SEAL_CUSTODIAN):
        raise Forbidden("only a seal custodian can enrol the organisation's seal")
    official = get_official(session, organisation_id=actor.organisation_id, official_id=official_id)
    credential_id = new_id()
    subject = _subject(session, purpose=purpose, organisation_id=actor.organisation_id, official=official)
    token_uri = None
    encrypted = None
    if storage is Storage.PKCS11:
        if settings.pkcs11_module is None:
            raise InvalidInput("no PKCS#11 module is configured (ESIGN_PKCS11_MODULE)")
        if not token_label:
            raise InvalidInput("a PKCS#11 credential needs the label of the holder's token")
        ref = pkcs11.TokenKey(module=settings.pkcs11_module, token_label=token_label, key_label=credential_id)
        public_key = pkcs11.generate_key(ref, user_pin=pin, kind=settings.key_kind)
        token_uri = ref.to_uri()
    else:
        key = ca.generate_key(settings.key_kind)
        public_key = key.public_key()
        encrypted = envelope.seal_key(key, pin.encode(), context=context(credential_id))
    profile = Profile.SEAL if purpose is Purpose.SEAL else Profile.SIGNATURE
    cert = ca.issue(pki.issuing, profile=profile, subject=subject, public_key=public_key, urls=pki.urls)
    record(session, cert, issuer=ISSUING, profile=profile, organisation_id=actor.organisation_id)
    session.flush()
    credential = Credential(
        id=credential_id,
        organisation_id=actor.organisation_id,
        official_id=official.id if purpose is Purpose.SIGNATURE else None,
        purpose=purpose.value,
        status=Status.ACTIVE.value,
        serial=serial_hex(cert.serial_number),
        storage=storage.value,
        encrypted_key=encrypted,
        token_uri=token_uri,
    )
    session.add(credential)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="credential.enrolled",
        subject=f"credential:{credential.id}",
        chain=actor.organisation_id,
        payload={"purpose": purpose.value, "storage": storage.value, "serial": credential.serial},
    )
    return credential


def get(session: Session, *, actor: Actor, credential_id: str, for_update: bool = False) -> Credential:
    return get_scoped(session, Credential, scope=actor, id=credential_id, what="credential", for_update=for_update)


def list_visible(session: Session, *, actor: Actor) -> Sequence[Credential]:
    """An administrator sees the organisation's credentials; an official their own and, as custodian, the seals."""
    query = select(Credential).where(Credential.organisation_id == actor.organisation_id)
    if not (actor.has_role(Role.ADMIN) or actor.official_id is None):
        visible = Credential.official_id == actor.official_id
        if actor.has_role(Role.SEAL_CUSTODIAN):
            visible = visible | (Credential.purpose == Purpose.SEAL.value)
        query = query.where(visible)
    return session.scalars(query.order_by(Credential.created_at)).all()


def may_use(actor: Actor, credential: Credential) -> bool:
    return holder_may_use(actor, purpose=credential.purpose, holder_id=credential.official_id)


def require_use(session: Session, *, actor: Actor, credential_id: str) -> Credential:
    """The credential if it is the organisation's and the actor may use it; raises NotFound or Forbidden."""
    credential = get(session, actor=actor, credential_id=credential_id)
    if not may_use(actor, credential):
        raise Forbidden("this credential belongs to someone else")
    return credential


def holder_may_use(actor: Actor, *, purpose: str, holder_id: str | None) -> bool:
    """A personal credential is its holder's alone; the organisation's seal is every seal custodian's."""
    if purpose == Purpose.SEAL.value:
        return actor.official_id is not None and actor.has_role(Role.SEAL_CUSTODIAN)
    return holder_id is not None and holder_id == actor.official_id


def unlock_by_admin(session: Session, *, actor: Actor, credential_id: str) -> Credential:
    actor.require_admin()
    credential = get(session, actor=actor, credential_id=credential_id)
    if credential.status != Status.LOCKED.value:
        raise Conflict(f"credential {credential.id} is {credential.status}, not locked")
    credential.status = Status.ACTIVE.value
    credential.failed_pin_attempts = 0
    audit.append(
        session,
        actor=actor,
        action="credential.unlocked",
        subject=f"credential:{credential.id}",
        chain=credential.organisation_id,
    )
    return credential
