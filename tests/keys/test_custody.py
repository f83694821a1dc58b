"""Key custody as services see it: PIN lockout, PKCS#11 credentials through custody, signing sessions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from esign.db import Database
from esign.errors import EsignError
from esign.settings import Settings
from esign.sign import sign
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, credentials, custody
from keys.credentials import Purpose, Status, Storage
from keys.errors import CredentialLocked, PinInvalid
from tests.keys.softhsm import MODULE, SoftHsm, environment
from tests.validators import nss_db, pdfsig
from tests.world import World, actor_for


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    return environment(tmp_path_factory.mktemp("softhsm"))


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
