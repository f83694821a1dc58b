"""PAdES B-T, B-LT and B-LTA with this service's own TSA and revocation data; revoked before and after."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from esign import report_pdf
from esign.db import Database
from esign.errors import Forbidden, InvalidInput
from esign.etsi.validation_report import to_xml
from esign.ids import now
from esign.report import Indication
from esign.settings import Settings
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import KeySigner, to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import authorities, ca, certificates, credentials, envelope, identities, levels, signing
from keys.credentials import Credential
from tests.esign.etsi_xml import NS, assert_same_indications
from tests.world import PIN, World, actor_for


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
    if level is not PadesLevel.B_LTA:
        assert signature.provable_by == "signature_timestamp" and signature.timestamp.tsa is not None
        assert signature.provable_until == signature.timestamp.tsa.not_after


def _times(value: object) -> list[str]:
    """Every string in a JSON report that is a date-time."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in _times(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v)]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return [value]
    return []


def test_a_one_signer_b_lta_document_reports_one_signature_and_its_document_time_stamps(
    world: World, db: Database, db_settings: Settings, one_page_pdf: bytes
) -> None:
    with db.transaction() as session:
        signer = _signer(session, world, world.orgs["A"].members["leader"].credential_id)
        signed = _sign(session, world, db_settings, signer, one_page_pdf, PadesLevel.B_LTA)
    report = verify(signed, _offline(world)).localised(ZoneInfo("Asia/Shanghai"))

    [signature] = report.signatures
    assert signature.type == "approval" and signature.pades_level == "B-LTA"
    assert report.document_timestamps, "B-LTA carries at least one document time-stamp"
    for stamp in report.document_timestamps:
        assert stamp.indication is Indication.TOTAL_PASSED and stamp.valid and stamp.trusted, stamp.message
        assert signature.field_name in stamp.covers and stamp.signed_revision > signature.signed_revision
        assert stamp.tsa is not None and stamp.sha256
    assert report.summary.startswith("有效：全部 1 个签名有效"), report.summary
    assert report.summary_en.startswith("the signature is valid"), report.summary_en

    last = report.document_timestamps[-1]
    assert last.tsa is not None
    assert (signature.provable_by, signature.provable_until) == ("document_timestamp", last.tsa.not_after)
    assert report.revocation_data, "B-LT and above carry the CRLs or OCSP responses they were validated with"

    times = _times(json.loads(report.model_dump_json()))
    assert times and all(t.endswith("+08:00") for t in times), times
    assert report.verified_at.utcoffset() == timedelta(hours=8)

    root = assert_same_indications(to_xml(report), report.model_dump(mode="json"))
    assert len(root.xpath("//vr:SignatureAttributes/vr:DocTimeStamp", namespaces=NS)) == len(report.document_timestamps)
    assert root.xpath("//vr:SignatureValidationProcessID/text()", namespaces=NS) == [
        "urn:etsi:019102:validationprocess:LTVM"
    ]
    text = subprocess.run(["pdftotext", "-", "-"], input=report_pdf.render(report), capture_output=True, check=True)
    assert "Document time-stamp" in text.stdout.decode() and "+08:00" in text.stdout.decode()
    revocation_types = root.xpath(
        "//vr:ValidationObject/vr:ObjectType[contains(text(), 'CRL') or contains(text(), 'OCSP')]", namespaces=NS
    )
    assert len(revocation_types) == len(report.revocation_data)


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
    report = verify(signed, trust)
    [signature] = report.signatures
    assert (signature.indication, signature.sub_indication) == (Indication.TOTAL_FAILED, "REVOKED"), signature.message
    assert signature.revocation is not None and signature.revocation.revoked
    assert signature.revocation.reason == "key_compromise"
    assert signature.provable_until is None
    root = assert_same_indications(to_xml(report), report.model_dump(mode="json"))
    assert root.xpath("//vr:RevocationStatusInformation/vr:RevocationReason/text()", namespaces=NS) == [
        "urn:etsi:019102:revocationReason:keyCompromise"
    ]


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

    report = verify(plain, trust)
    [unproven] = report.signatures
    assert unproven.indication is Indication.INDETERMINATE and unproven.sub_indication == "REVOKED_NO_POE"
    assert report.summary.startswith("无法确定："), report.summary
    assert_same_indications(to_xml(report), report.model_dump(mode="json"))


def test_the_organisation_chooses_b_lt_or_b_t_never_b_b(
    world: World, db: Database, db_settings: Settings, one_page_pdf: bytes
) -> None:
    org = world.orgs["A"]
    admin, leader = org.members["admin"], org.members["leader"]
    assert leader.credential_id is not None
    with db.transaction() as session:
        assert levels.level_for(session, organisation_id=org.id, requested=None) is PadesLevel.B_LTA
        with pytest.raises(InvalidInput):
            levels.level_for(session, organisation_id=org.id, requested=PadesLevel.B_B)
        with pytest.raises(InvalidInput):
            identities.set_signature_level(
                session, actor=actor_for(org.id, admin.official_id, admin.roles), organisation_id=org.id, level="B-B"
            )
        with pytest.raises(Forbidden):
            identities.set_signature_level(
                session, actor=actor_for(org.id, leader.official_id, leader.roles), organisation_id=org.id, level="B-T"
            )
        identities.set_signature_level(
            session, actor=actor_for(org.id, admin.official_id, admin.roles), organisation_id=org.id, level="B-LT"
        )
    with db.transaction() as session:
        work = signing.prepare(
            session,
            actor=actor_for(org.id, leader.official_id, leader.roles),
            pki=world.pki,
            settings=db_settings,
            unlock=signing.Unlock(credential_id=leader.credential_id, pin=PIN),
            request=signing.SignRequest(pdf=one_page_pdf),
        )
    work.run()
    work.close()
    assert work.level is PadesLevel.B_LT
    [signature] = verify(work.result(), _offline(world)).signatures
    assert signature.pades_level == "B-LT" and signature.indication is Indication.TOTAL_PASSED, signature.message
