"""What the CSC API tells about the service and the caller's credentials: ``info`` (§11.1),
``credentials/list`` (§11.4) and ``credentials/info`` (§11.5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from esign.identity import Actor

from .. import custody
from ..authorities import IssuedCertificate, Pki, serial_hex
from ..credentials import Credential, Purpose, Status, certificate, effective_status, list_visible, may_use
from .algorithms import KEY_ALGOS, key_type
from .refusals import CscRefused, Refusal

SPECS_V1 = "1.0.4.0"
SPECS_V2 = "2.0.0.2"
MAX_SIGNATURES = custody.MAX_SESSION_SIGNATURES
"""The most signatures one SAD can authorise: ``multisign`` in ``credentials/info``."""
METHODS = ("credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash")
"""The API methods implemented besides ``info`` (which every service has)."""


@dataclass(frozen=True)
class ServiceInfo:
    """CSC API v1.0.4.0 §11.1 / v2.0.0.2 §11.1 ``info``."""

    name: str
    description: str
    logo: str
    region: str
    lang: str
    auth_type: tuple[str, ...]
    """``external``: callers present this service's own bearer token (``esign token create``); the CSC
    API's OAuth 2.0 and HTTP Basic logins are not offered."""
    methods: tuple[str, ...]
    sign_algorithms: tuple[str, ...]


def info() -> ServiceInfo:
    return ServiceInfo(
        name="esign",
        description="电子签名服务：持有人以 PIN 授权，远程签署摘要 (remote signing of digests with PIN authorisation)",
        logo="",
        region="CN",
        lang="zh-CN",
        auth_type=("external",),
        methods=("info", *METHODS),
        sign_algorithms=tuple(dict.fromkeys(a for algos_ in KEY_ALGOS.values() for a in algos_)),
    )


@dataclass(frozen=True)
class KeyInfo:
    status: Literal["enabled", "disabled"]
    algorithms: tuple[str, ...]
    length: int
    curve: str | None


@dataclass(frozen=True)
class CertificateInfo:
    status: Literal["valid", "expired", "revoked"]
    certificates: tuple[bytes, ...]
    """DER: none, the signer's certificate alone, or it followed by the issuing CA and the root."""
    issuer_dn: str
    subject_dn: str
    serial_number: str
    valid_from: datetime
    valid_to: datetime


@dataclass(frozen=True)
class CredentialInfo:
    """CSC API v1.0.4.0 §11.5 / v2.0.0.2 §11.5 ``credentials/info``: authorisation is always explicit, with
    the holder's PIN and no OTP; SCAL 1 (binding a SAD to hashes is offered, not required)."""

    credential_id: str
    description: str
    key: KeyInfo
    cert: CertificateInfo
    multisign: int = MAX_SIGNATURES
    scal: Literal["1", "2"] = "1"


CertificateChoice = Literal["none", "single", "chain"]


def _visible(session: Session, *, actor: Actor, credential_id: str) -> Credential:
    """The credential if the actor may sign with it (whatever its status); one answer for unknown and foreign."""
    credential = session.get(Credential, credential_id)
    if credential is None or credential.organisation_id != actor.organisation_id or not may_use(actor, credential):
        raise CscRefused(Refusal.INVALID_CREDENTIAL, f"no credential {credential_id} the caller may sign with")
    return credential


def list_credentials(
    session: Session, *, actor: Actor, user_id: str | None = None, only_valid: bool = False
) -> list[str]:
    """The ids of the credentials the caller may sign with, oldest first; revoked and expired ones left out,
    locked ones kept (an administrator can unlock them) unless ``only_valid``. ``user_id``, when a client
    sends it, can only name the caller (CSC API v1.0.4.0 §11.4: never another user's credentials)."""
    if user_id is not None and user_id != actor.official_id:
        raise CscRefused(Refusal.INVALID_USER_ID, "userID can only name the caller")
    keep = {Status.ACTIVE} if only_valid else {Status.ACTIVE, Status.LOCKED}
    return [
        c.id for c in list_visible(session, actor=actor) if may_use(actor, c) and effective_status(session, c) in keep
    ]


def credential_info(
    session: Session, *, actor: Actor, pki: Pki, credential_id: str, certificates: CertificateChoice = "single"
) -> CredentialInfo:
    credential = _visible(session, actor=actor, credential_id=credential_id)
    cert = certificate(session, credential)
    status = effective_status(session, credential)
    kind, length, curve = key_type(cert)
    chain = {"none": [], "single": [cert], "chain": [cert, *pki.chain]}[certificates]
    issued = session.get(IssuedCertificate, credential.serial)
    revoked = status is Status.REVOKED or (issued is not None and issued.revoked_at is not None)
    subject = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    name = str(subject[0].value) if subject else cert.subject.rfc4514_string()
    return CredentialInfo(
        credential_id=credential.id,
        description=("电子印章：" if credential.purpose == Purpose.SEAL.value else "个人签名：") + name,
        key=KeyInfo(
            status="enabled" if status is Status.ACTIVE else "disabled",
            algorithms=KEY_ALGOS[kind],
            length=length,
            curve=curve,
        ),
        cert=CertificateInfo(
            status="revoked" if revoked else "expired" if status is Status.EXPIRED else "valid",
            certificates=tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
            issuer_dn=cert.issuer.rfc4514_string(),
            subject_dn=cert.subject.rfc4514_string(),
            serial_number=serial_hex(cert.serial_number).upper(),
            valid_from=cert.not_valid_before_utc,
            valid_to=cert.not_valid_after_utc,
        ),
    )
