from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from api.deps import ActorOf, AdminOf, CipherDep, DatabaseDep, SettingsDep, SignerOf
from api.idempotent import IdempotencyKey, once
from api.schemas import (
    CertificateOut,
    CredentialOut,
    EnrolIn,
    PinChangeIn,
    RevocationIn,
    RevocationOut,
    SessionIn,
    SessionOut,
)
from keys import authorities, ca, certificates, credentials, custody
from keys.authorities import Pki
from keys.credentials import Credential, Purpose, Storage

router = APIRouter(prefix="/v1", tags=["credentials"])


def _out(session: Session, credential: Credential, pki: Pki) -> CredentialOut:
    cert = credentials.certificate(session, credential)
    return CredentialOut(
        id=credential.id,
        organisation_id=credential.organisation_id,
        official_id=credential.official_id,
        purpose=credential.purpose,
        status=credentials.effective_status(session, credential).value,
        storage=credential.storage,
        failed_pin_attempts=credential.failed_pin_attempts,
        certificate=CertificateOut(
            serial=authorities.serial_hex(cert.serial_number),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            pem=ca.pem(cert).decode(),
        ),
        chain_pem="".join(ca.pem(c).decode() for c in pki.chain),
    )


@router.post(
    "/credentials",
    response_model=CredentialOut,
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a key and certificate: your own signing credential, or (as seal custodian) the seal",
)
def enrol(
    body: EnrolIn, actor: SignerOf, database: DatabaseDep, settings: SettingsDep, key: IdempotencyKey = None
) -> Response:
    def create(session: Session) -> CredentialOut:
        pki = authorities.load(session, settings)
        credential = credentials.enrol(
            session,
            actor=actor,
            pki=pki,
            settings=settings,
            purpose=Purpose(body.purpose),
            pin=body.pin,
            storage=Storage(body.storage),
            token_label=body.token_label,
        )
        return _out(session, credential, pki)

    return once(
        database,
        actor=actor,
        key=key,
        operation="credential.enrol",
        request=body,
        model=CredentialOut,
        authorise=None,
        create=create,
    )


@router.get("/credentials", response_model=list[CredentialOut])
def list_credentials(actor: ActorOf, database: DatabaseDep, settings: SettingsDep) -> list[CredentialOut]:
    with database.transaction() as session:
        pki = authorities.load(session, settings)
        return [_out(session, c, pki) for c in credentials.list_visible(session, actor=actor)]


@router.get("/credentials/{credential_id}", response_model=CredentialOut)
def get_credential(credential_id: str, actor: ActorOf, database: DatabaseDep, settings: SettingsDep) -> CredentialOut:
    with database.transaction() as session:
        pki = authorities.load(session, settings)
        return _out(session, credentials.get(session, actor=actor, credential_id=credential_id), pki)


@router.post("/credentials/{credential_id}/pin", response_model=CredentialOut, summary="Change the PIN")
def change_pin(
    credential_id: str, body: PinChangeIn, actor: SignerOf, database: DatabaseDep, settings: SettingsDep
) -> CredentialOut:
    with database.transaction() as session:
        credential = custody.change_pin(
            session, actor=actor, credential_id=credential_id, old_pin=body.old_pin, new_pin=body.new_pin
        )
        return _out(session, credential, authorities.load(session, settings))


@router.post("/credentials/{credential_id}/unlock", response_model=CredentialOut, summary="Unlock after wrong PINs")
def unlock(credential_id: str, actor: AdminOf, database: DatabaseDep, settings: SettingsDep) -> CredentialOut:
    with database.transaction() as session:
        credential = credentials.unlock_by_admin(session, actor=actor, credential_id=credential_id)
        return _out(session, credential, authorities.load(session, settings))


@router.post(
    "/credentials/{credential_id}/sessions",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Unlock once for a batch: a signing session good for N signatures or T seconds",
)
def open_session(
    credential_id: str,
    body: SessionIn,
    actor: SignerOf,
    database: DatabaseDep,
    settings: SettingsDep,
    cipher: CipherDep,
    key: IdempotencyKey = None,
) -> Response:
    def create(session: Session) -> SessionOut:
        opened = custody.open_session(
            session,
            actor=actor,
            credential_id=credential_id,
            pin=body.pin,
            pki=authorities.load(session, settings),
            max_signatures=body.max_signatures,
            ttl=timedelta(seconds=body.ttl_seconds),
        )
        return SessionOut(
            id=opened.id, session=opened.secret, expires_at=opened.expires_at, signatures_left=opened.signatures_left
        )

    return once(
        database,
        actor=actor,
        key=key,
        operation=f"session.open:{credential_id}",
        request=f"{body.max_signatures}/{body.ttl_seconds}",
        model=SessionOut,
        create=create,
        sealed=cipher,
        authorise=lambda session: credentials.require_use(session, actor=actor, credential_id=credential_id),
    )


@router.post("/certificates/{serial}/revoke", response_model=RevocationOut, summary="Revoke a certificate now")
def revoke(
    serial: str, body: RevocationIn, actor: AdminOf, database: DatabaseDep, key: IdempotencyKey = None
) -> Response:
    def create(session: Session) -> RevocationOut:
        issued = certificates.revoke(session, serial=serial, reason=body.reason, actor=actor)
        assert issued.revoked_at is not None and issued.revocation_reason is not None
        return RevocationOut(serial=issued.serial, revoked_at=issued.revoked_at, reason=issued.revocation_reason)

    return once(
        database,
        actor=actor,
        key=key,
        operation=f"certificate.revoke:{serial}",
        request=body,
        model=RevocationOut,
        authorise=None,
        create=create,
        status=200,
    )
