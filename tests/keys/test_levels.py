"""PAdES B-T, B-LT and B-LTA with this service's own TSA and revocation data; revoked before and after."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from esign.db import Database
from esign.ids import now
from esign.report import Indication
from esign.settings import Settings
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import KeySigner, to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import authorities, ca, certificates, credentials, envelope, levels
from keys.credentials import Credential
from tests.world import PIN, World


def _signer(session: Session, world: World, credential_id: str) -> KeySigner:
    credential = session.get(Credential, credential_id)
    assert credential is not None and credential.encrypted_key is not None
    key = envelope.open_key(credential.encrypted_key, PIN.encode(), context=credentials.context(credential.id))
    cert = credentials.certificate(session, credential)
    return KeySigner(key, to_asn1(cert), [to_asn1(c) for c in world.pki.chain])  # type: ignore[arg-type]


def _sign(
    session: Session, world: World, settings: Settings, signer: KeySigner, pdf: bytes, level: PadesLevel
) -> bytes:
    inputs = levels.engine_inputs(session, pki=world.pki, settings=settings, level=level)
    return sign(pdf, signer, SignOptions(level=level, **inputs))


def _offline(world: World) -> TrustSettings:
    return TrustSettings().with_anchors(ca.pem(world.pki.root.cert))


@pytest.mark.parametrize("level", [PadesLevel.B_T, PadesLevel.B_LT, PadesLevel.B_LTA])
def test_each_level_is_reached_and_verifies_offline(
    level: PadesLevel, world: World, db: Database, db_settings: Settings, one_page_pdf: bytes
) -> None:
    with db.transaction() as session:
        signer = _signer(session, world, world.orgs["A"].members["leader"].credential_id)
        signed = _sign(session, world, db_settings, signer, one_page_pdf, level)
    report = verify(signed, _offline(world))
    signature = report.signatures[0]
    assert signature.pades_level == level.value, report.model_dump_json(indent=1)
    assert signature.indication is Indication.TOTAL_PASSED, signature.message
    assert signature.timestamp is not None and signature.timestamp.trusted
    assert report.valid and report.fetching_allowed is False
    if level is PadesLevel.B_LTA:
        [approval] = report.signatures
        assert approval.type == "approval" and report.document_timestamps
        assert all(t.indication is Indication.TOTAL_PASSED for t in report.document_timestamps)
        assert report.summary.startswith("有效：全部 1 个签名有效"), report.summary
        assert report.summary_en.startswith("the signature is valid"), report.summary_en


def test_a_signature_made_after_revocation_is_revoked(
    world: World, db: Database, db_settings: Settings, one_page_pdf: bytes
) -> None:
    holder = world.orgs["A"].members["official"]
    with db.transaction() as session:
        signer = _signer(session, world, holder.credential_id)
        serial = authorities.serial_hex(signer.signing_cert.serial_number)
        certificates.revoke(session, serial=serial, reason="keyCompromise", actor=None, at=now() - timedelta(minutes=5))
    with db.transaction() as session:
        signed = _sign(session, world, db_settings, signer, one_page_pdf, PadesLevel.B_T)
        trust = levels.trust_with_own_pki(session, pki=world.pki, settings=db_settings, base=TrustSettings())
    [signature] = verify(signed, trust).signatures
    assert (signature.indication, signature.sub_indication) == (Indication.TOTAL_FAILED, "REVOKED"), signature.message
    assert signature.revocation is not None and signature.revocation.revoked
    assert signature.revocation.reason == "key_compromise"


def test_a_revocation_after_a_time_stamped_signature_leaves_it_valid(
    world: World, db: Database, db_settings: Settings, one_page_pdf: bytes
) -> None:
    holder = world.orgs["A"].members["official"]
    with db.transaction() as session:
        signer = _signer(session, world, holder.credential_id)
        stamped = _sign(session, world, db_settings, signer, one_page_pdf, PadesLevel.B_T)
        plain = _sign(session, world, db_settings, signer, one_page_pdf, PadesLevel.B_B)
    time.sleep(1.1)  # revocation times and time-stamps are both in whole seconds
    with db.transaction() as session:
        serial = authorities.serial_hex(signer.signing_cert.serial_number)
        certificates.revoke(session, serial=serial, reason="keyCompromise", actor=None)
    with db.transaction() as session:
        trust = levels.trust_with_own_pki(session, pki=world.pki, settings=db_settings, base=TrustSettings())

    [signature] = verify(stamped, trust).signatures
    assert signature.indication is Indication.TOTAL_PASSED, signature.message

    [unproven] = verify(plain, trust).signatures
    assert unproven.indication is Indication.INDETERMINATE and unproven.sub_indication == "REVOKED_NO_POE"
