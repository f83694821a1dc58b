"""Key custody as services see it: PIN lockout, PKCS#11 credentials through custody, signing sessions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from esign import audit
from esign.audit import AuditEvent
from esign.db import Database
from esign.errors import EsignError
from esign.settings import Settings
from esign.sign import sign
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, credentials, custody
from keys.credentials import Purpose, Status, Storage
from keys.errors import CredentialLocked, PinInvalid
from tests.keys.softhsm import MODULE, SoftHsm
from tests.validators import nss_db, pdfsig
from tests.world import PIN, World, actor_for


def test_a_pkcs11_credential_enrols_and_signs_through_custody(
    world: World, db: Database, db_settings: Settings, hsm: SoftHsm, one_page_pdf: bytes, tmp_path: Path
) -> None:
    settings = db_settings.model_copy(update={"pkcs11_module": MODULE})
    token = hsm.new_token("holder")
    leader = world.orgs["A"].members["leader"]
    actor = actor_for(world.orgs["A"].id, leader.official_id, leader.roles)
    with db.transaction() as session:
        credential = credentials.enrol(
            session,
            actor=actor,
            pki=world.pki,
            settings=settings,
            purpose=Purpose.SIGNATURE,
            pin=token.user_pin,
            storage=Storage.PKCS11,
            token_label=token.label,
        )
        assert credential.encrypted_key is None and credential.token_uri and token.label in credential.token_uri
        credential_id = credential.id

    with (
        pytest.raises(PinInvalid),
        db.transaction() as session,
        custody.unlocked(session, actor=actor, credential_id=credential_id, pin="wrong-pin", pki=world.pki),
    ):
        pass
    with db.transaction() as session:
        assert session.get(credentials.Credential, credential_id).failed_pin_attempts == 1
        assert [e.payload["tries_left"] for e in _rejections(session, credential_id)] == [4], "audited"

    with db.transaction() as session:
        with custody.unlocked(
            session, actor=actor, credential_id=credential_id, pin=token.user_pin, pki=world.pki
        ) as signer:
            once = sign(one_page_pdf, signer)
            twice = sign(once, signer)
        assert session.get(credentials.Credential, credential_id).failed_pin_attempts == 0

    trust = TrustSettings().with_anchors(ca.pem(world.pki.root.cert))
    report = verify(twice, trust)
    assert report.valid and len(report.signatures) == 2
    path = tmp_path / "hsm.pdf"
    path.write_bytes(once)
    # One signature per file: with -no-ocsp, poppler 22 checks only the first signature's certificate
    # offline and reports "Unknown issue" for the next ones.
    [result] = pdfsig(path, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    assert result.signature_valid and result.certificate_trusted


def test_five_wrong_pins_lock_even_when_racing(world: World, db: Database, db_settings: Settings) -> None:
    """Concurrent wrong PINs are all counted: the credential's row lock serialises them."""
    official = world.orgs["A"].members["official"]
    actor = actor_for(world.orgs["A"].id, official.official_id, official.roles)
    outcomes: list[type[EsignError]] = []

    def attempt() -> None:
        try:
            with (
                db.transaction() as session,
                custody.unlocked(
                    session, actor=actor, credential_id=official.credential_id, pin="000000", pki=world.pki
                ),
            ):
                pass
        except (PinInvalid, CredentialLocked) as e:
            outcomes.append(type(e))

    threads = [threading.Thread(target=attempt) for _ in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.__name__ for o in outcomes) == ["CredentialLocked"] * 3 + ["PinInvalid"] * 4
    with db.transaction() as session:
        credential = session.get(credentials.Credential, official.credential_id)
        assert credential.status == Status.LOCKED.value and credential.failed_pin_attempts == 5


def _rejections(session: Session, credential_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "credential.pin_rejected", AuditEvent.subject == f"credential:{credential_id}")
            .order_by(AuditEvent.seq)
        )
    )


def test_every_wrong_pin_is_an_audit_event_kept_although_the_request_fails(world: World, db: Database) -> None:
    """Signing, changing the PIN and opening a session each count a wrong PIN; each is audited with the
    tries left, committed by the failing transaction (``keeps_changes``), and the lock comes on the fifth."""
    official = world.orgs["A"].members["official"]
    actor = actor_for(world.orgs["A"].id, official.official_id, official.roles)
    credential_id = official.credential_id
    assert credential_id is not None

    def sign_with(pin: str) -> None:
        with (
            db.transaction() as session,
            custody.unlocked(session, actor=actor, credential_id=credential_id, pin=pin, pki=world.pki),
        ):
            pass

    def change_with(pin: str) -> None:
        with db.transaction() as session:
            custody.change_pin(session, actor=actor, credential_id=credential_id, old_pin=pin, new_pin="135790")

    def open_with(pin: str) -> None:
        with db.transaction() as session:
            custody.open_session(session, actor=actor, credential_id=credential_id, pin=pin, pki=world.pki)

    for attempt in (sign_with, change_with, open_with):
        with pytest.raises(PinInvalid):
            attempt("000000")
    sign_with(PIN)  # the right PIN resets the count, not the record
    messages = []
    for _ in range(4):
        with pytest.raises(PinInvalid) as caught:
            sign_with("999999")
        messages.append(caught.value.message)
    assert messages[-2:] == [
        "wrong PIN; 2 tries left before the credential locks",
        "wrong PIN; 1 try left before the credential locks",
    ]
    with pytest.raises(CredentialLocked):
        sign_with("999999")

    with db.transaction() as session:
        rejected = _rejections(session, credential_id)
        assert [e.payload["tries_left"] for e in rejected] == [4, 3, 2, 4, 3, 2, 1, 0]
        assert {e.actor for e in rejected} == {actor.label}
        assert session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject == f"credential:{credential_id}")
            .order_by(AuditEvent.seq)
        ).all()[-2:] == ["credential.pin_rejected", "credential.locked"]
        assert audit.verify(session, chain=world.orgs["A"].id).ok
