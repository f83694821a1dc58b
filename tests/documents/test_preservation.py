"""Archive renewal: documents whose last archive time-stamp's unit certificate expires within the margin get
exactly one new archive time-stamp, even under concurrent workers, and then validate past that expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import pytest
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.ocsp import OCSPRequestBuilder
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate, AdESPassed, AdESSubIndic
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer
from sqlalchemy import func, select, update

from documents import intake, preservation, revisions
from documents.records import Direction, Document, Kind, Reason, Revision
from esign import archive
from esign.archive import Preservation
from esign.blobs import BlobStore
from esign.db import Database
from esign.outbox import OutboxEvent
from esign.settings import Settings
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import authorities, ca, envelope, levels, revocation, validation_data
from keys.ca import Authority, Profile
from keys.tsa import LocalTimeStamper
from tests.api.cli import ESIGN, database_env, esign
from tests.conftest import make_pdf, uploaded
from tests.keys.test_levels import _signer
from tests.world import World, actor_for

SHORT = dt.timedelta(days=30)
"""A unit certificate that expires well within the 180-day margin."""


def _unit(db: Database, world: World, validity: dt.timedelta, *, rsa_bits: int | None = None) -> Authority:
    """A time-stamping unit of the service's PKI whose certificate lives ``validity``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits else ca.generate_key()
    subject = ca.service_name(f"short-lived unit {validity.days}d", organisation=authorities.PKI_ORGANISATION)
    cert = ca.issue(
        world.pki.issuing,
        profile=Profile.TSA,
        subject=subject,
        public_key=key.public_key(),
        urls=world.pki.urls,
        validity=validity,
    )
    with db.transaction() as session:
        authorities.record(session, cert, issuer=authorities.ISSUING, profile=Profile.TSA, organisation_id=None)
    return Authority(cert=cert, key=key)


def _signed_lta(db: Database, world: World, settings: Settings, unit: Authority, text: str) -> bytes:
    """A B-LTA document whose time-stamps come from ``unit``."""
    with db.transaction() as session:
        signer = _signer(session, world, world.orgs["A"].members["leader"].credential_id)
        statuses = validation_data.local_revocation(session, pki=world.pki, settings=settings)
    stamper = LocalTimeStamper(tsa=unit, chain=world.pki.chain, policy=settings.tsa_policy)
    options = SignOptions(level=PadesLevel.B_LTA, timestamper=stamper, revocation=statuses)
    return sign(make_pdf(text=text), signer, options)


def _store(db: Database, blobs: BlobStore, world: World, data: bytes, title: str) -> str:
    clerk = world.orgs["A"].members["clerk"]
    actor = actor_for(world.orgs["A"].id, clerk.official_id, clerk.roles)
    with db.transaction() as session:
        document = intake.from_upload(
            session,
            actor=actor,
            blobs=blobs,
            upload=uploaded(data),
            title=title,
            kind=Kind.LETTER,
            direction=Direction.INCOMING,
        )
        return document.id


def _revisions(db: Database, document_id: str) -> list[Revision]:
    with db.transaction() as session:
        rows = session.scalars(select(Revision).where(Revision.document_id == document_id).order_by(Revision.seq))
        return list(rows)


def _two_workers(db: Database, settings: Settings, blobs: BlobStore, policy: preservation.Policy) -> None:
    """Two workers running renewal rounds side by side until neither finds anything left."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            while preservation.renew_due(db, settings=settings, blobs=blobs, policy=policy):
                pass
        except BaseException as e:  # re-raised in the test thread
            failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures, failures


def test_documents_within_the_margin_get_exactly_one_archive_time_stamp_under_two_workers(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    short = _unit(db, world, SHORT)
    expiring = [
        _store(db, blobs, world, _signed_lta(db, world, db_settings, short, f"expiring {n}"), f"expiring {n}")
        for n in range(3)
    ]
    lasting = _store(db, blobs, world, _signed_lta(db, world, db_settings, world.pki.tsa, "lasting"), "lasting")
    unsigned = _store(db, blobs, world, make_pdf(text="unsigned"), "unsigned")
    with db.transaction() as session:
        document = session.get(Document, expiring[0])
        assert document is not None and document.preservation == Preservation.PROTECTED.value
        assert document.protected_until == short.cert.not_valid_after_utc

    _two_workers(db, db_settings, blobs, preservation.Policy(batch=1))

    for document_id in expiring:
        history = _revisions(db, document_id)
        assert [r.reason for r in history] == [Reason.UPLOADED.value, Reason.PRESERVED.value], document_id
        renewed = revisions.pdf(blobs, history[-1])
        assert len(PdfFileReader(io.BytesIO(renewed)).embedded_timestamp_signatures) == 2
    assert [r.reason for r in _revisions(db, lasting)] == [Reason.UPLOADED.value]
    assert [r.reason for r in _revisions(db, unsigned)] == [Reason.UPLOADED.value]
    with db.transaction() as session:
        renewed_document = session.get(Document, expiring[0])
        assert renewed_document is not None
        assert renewed_document.protected_until == world.pki.tsa.cert.not_valid_after_utc
        assert renewed_document.archive_claimed_until is None
        events = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "document.preserved")
        )
        assert events == len(expiring)


def test_a_worker_whose_lease_ran_out_adds_nothing_after_another_renewed(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, _unit(db, world, SHORT), "late"), "late")
    policy = preservation.Policy()
    moment = dt.datetime.now(dt.UTC)
    [late] = preservation.claim(db, policy=policy, at=moment)
    assert preservation.claim(db, policy=policy, at=moment) == [], "a leased document is skipped"
    [other] = preservation.claim(db, policy=policy, at=moment + preservation.LEASE + dt.timedelta(seconds=1))
    assert preservation.renew_one(db, settings=db_settings, blobs=blobs, policy=policy, claim=other, at=moment)
    assert not preservation.renew_one(db, settings=db_settings, blobs=blobs, policy=policy, claim=late, at=moment)
    assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]


def _fresh_status(world: World, at: dt.datetime, units: Sequence[x509.Certificate]) -> LocalKnowledge:
    """What a relying party fetches at ``at`` (``/pki/ocsp``, ``/pki/crl/root``): EN 319 102-1 validates the last
    time-stamp at the validation time, so its unit's current status is needed whatever the archive holds."""
    answers = []
    for unit in units:
        request = OCSPRequestBuilder().add_certificate(unit, world.pki.issuing.cert, hashes.SHA256()).build()
        der = revocation.ocsp_response(
            request.public_bytes(Encoding.DER),
            issuer=world.pki.issuing.cert,
            responder=world.pki.ocsp,
            lookup=lambda _serial: revocation.Good(),
            now=at - dt.timedelta(minutes=5),
            validity=dt.timedelta(hours=1),
        )
        answers.extend(OCSPContainer.load_multi(OCSPResponse.load(der)))
    root_crl = revocation.build_crl(
        world.pki.root,
        [],
        number=int(at.timestamp()),
        this_update=at - dt.timedelta(hours=1),
        next_update=at + dt.timedelta(hours=23),
    )
    return LocalKnowledge(known_ocsps=answers, known_crls=[CRLContainer(CertificateList.load(root_crl))])


def _lta_at(data: bytes, world: World, at: dt.datetime, knowledge: LocalKnowledge) -> AdESSubIndic:
    """ETSI EN 319 102-1 §5.6.3 at ``at``, offline, trusting only the root."""
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[to_asn1(world.pki.root.cert)]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
            certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
        ),
        local_knowledge=knowledge,
    )
    signature = PdfFileReader(io.BytesIO(data)).embedded_regular_signatures[0]
    timing = ValidationTimingInfo(validation_time=at, best_signature_time=at, point_in_time_validation=False)
    result = asyncio.run(ades_lta_validation(signature, PdfSignatureValidationSpec(spec), timing_info=timing))
    return result.ades_subindic


def test_after_renewal_the_signature_validates_past_the_old_units_expiry_and_not_without(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    short = _unit(db, world, SHORT)
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, short, "kept"), "kept")
    preservation.renew_due(db, settings=db_settings, blobs=blobs)
    original, renewed = (revisions.pdf(blobs, r) for r in _revisions(db, document_id))

    at = short.cert.not_valid_after_utc + dt.timedelta(days=10)
    knowledge = _fresh_status(world, at, [short.cert, world.pki.tsa.cert])
    assert _lta_at(renewed, world, at, knowledge) == AdESPassed.OK
    assert _lta_at(original, world, at, knowledge) == AdESIndeterminate.NO_POE
    assert archive.assess(renewed).protected_until == world.pki.tsa.cert.not_valid_after_utc
    offline = TrustSettings().with_anchors(ca.pem(world.pki.root.cert))
    assert verify(renewed, offline).protected_until == world.pki.tsa.cert.not_valid_after_utc, "the report agrees"
    assert verify(original, offline).protected_until == short.cert.not_valid_after_utc


def test_the_new_time_stamps_revocation_data_is_issued_after_it_however_long_the_renewal_waited(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revocation data is fresh only when issued no earlier than the time-stamp it covers (EN 319 102-1
    §5.2.5.4, whole seconds): data gathered when the renewal was prepared, a second before its time-stamp,
    would leave the renewed document INDETERMINATE."""
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, _unit(db, world, SHORT), "slow"), "slow")
    run = preservation.Renewal.run

    def after_a_second(renewal: preservation.Renewal) -> None:
        time.sleep(1.1)
        run(renewal)

    monkeypatch.setattr(preservation.Renewal, "run", after_a_second)
    assert preservation.renew_due(db, settings=db_settings, blobs=blobs) == 1
    renewed = revisions.pdf(blobs, _revisions(db, document_id)[-1])
    report = verify(renewed, TrustSettings().with_anchors(ca.pem(world.pki.root.cert)))
    assert report.valid, report.summary
    assert report.protected_until == world.pki.tsa.cert.not_valid_after_utc


def test_a_signed_but_unprotected_document_gets_its_first_archive_time_stamp_and_old_rows_are_assessed(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    with db.transaction() as session:
        signer = _signer(session, world, world.orgs["A"].members["leader"].credential_id)
        inputs = levels.engine_inputs(session, pki=world.pki, settings=db_settings, level=PadesLevel.B_T)
    document_id = _store(
        db, blobs, world, sign(make_pdf(text="B-T"), signer, SignOptions(level=PadesLevel.B_T, **inputs)), "b-t"
    )
    lasting = _store(db, blobs, world, _signed_lta(db, world, db_settings, world.pki.tsa, "old row"), "old row")
    countersigned = sign(_signed_lta(db, world, db_settings, world.pki.tsa, "countersigned"), signer)
    assert archive.assess(countersigned).state is Preservation.UNPROTECTED, "a signature after the last archive"
    later = _store(db, blobs, world, countersigned, "countersigned")
    with db.transaction() as session:
        assert session.get(Document, document_id).preservation == Preservation.UNPROTECTED.value  # type: ignore[union-attr]
        session.execute(update(Document).where(Document.id == lasting).values(preservation=None, protected_until=None))

    preservation.renew_due(db, settings=db_settings, blobs=blobs)
    assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value], "not while it may change"

    while preservation.renew_due(
        db, settings=db_settings, blobs=blobs, policy=preservation.Policy(quiet=dt.timedelta(0))
    ):
        pass

    assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]
    assert [r.reason for r in _revisions(db, lasting)] == [Reason.UPLOADED.value]
    assert [r.reason for r in _revisions(db, later)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]
    with db.transaction() as session:
        for each in (document_id, lasting, later):
            document = session.get(Document, each)
            assert document is not None and document.preservation == Preservation.PROTECTED.value
            assert document.protected_until == world.pki.tsa.cert.not_valid_after_utc


def test_a_weak_archive_time_stamp_is_renewed_and_an_expiring_unit_is_rotated_first(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    weak = _unit(db, world, dt.timedelta(days=3 * 365), rsa_bits=1024)
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, weak, "weak"), "weak")
    expiring = _unit(db, world, dt.timedelta(days=300))
    with db.transaction() as session:
        row = session.get(authorities.PkiAuthority, authorities.TSA)
        assert row is not None
        row.certificate = ca.der(expiring.cert)
        row.encrypted_key = envelope.seal_key(
            expiring.key, b"test CA passphrase", context=f"pki:{authorities.TSA}".encode()
        )
    with db.transaction() as session:
        document = session.get(Document, document_id)
        assert document is not None and (document.archive_key_type, document.archive_key_bits) == ("rsa", 1024)
    policy = preservation.Policy(weak=preservation.WeakAlgorithms.parse(["sha1", "rsa<2048"]))
    preservation.renew_due(db, settings=db_settings, blobs=blobs, policy=policy)

    with db.transaction() as session:
        unit = authorities.load(session, db_settings).tsa.cert
        document = session.get(Document, document_id)
        assert document is not None and document.protected_until == unit.not_valid_after_utc
        assert (document.archive_key_type, document.archive_key_bits) == ("ec", 256)
    assert unit.serial_number not in (expiring.cert.serial_number, world.pki.tsa.cert.serial_number)
    assert unit.not_valid_after_utc > dt.datetime.now(dt.UTC) + 2 * policy.margin
    assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]


def test_the_api_and_the_cli_show_the_protected_until_date(
    api: TestClient, world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    short = _unit(db, world, SHORT)
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, short, "shown"), "shown")
    clerk = world.orgs["A"].members["clerk"]
    shown = api.get(f"/v1/documents/{document_id}", headers=clerk.headers).json()
    assert shown["preservation"] == "protected"
    assert dt.datetime.fromisoformat(shown["protected_until"]) == short.cert.not_valid_after_utc

    env = {**database_env(db), "ESIGN_DATA_DIR": str(db_settings.data_dir), "ESIGN_CA_PASSPHRASE": "test CA passphrase"}
    listed = esign("archive", "status", "--within", "180", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["id"] == document_id and row["preservation"] == "protected"
    assert dt.datetime.fromisoformat(row["protected_until"]) == short.cert.not_valid_after_utc

    plain = esign("archive", "status", "--org", world.orgs["A"].id, env=env)
    assert plain.returncode == 0 and document_id in plain.stdout and "protected" in plain.stdout, plain.stderr
    assert esign("archive", "status", "--org", world.orgs["B"].id, env=env).stdout == "", "another organisation's"

    renewed = esign("archive", "renew", env=env)
    assert renewed.returncode == 0, renewed.stderr
    assert esign("archive", "status", "--within", "180", "--json", env=env).stdout == ""
    shown = api.get(f"/v1/documents/{document_id}", headers=clerk.headers).json()
    assert dt.datetime.fromisoformat(shown["protected_until"]) == world.pki.tsa.cert.not_valid_after_utc


def test_the_worker_job_looks_again_only_after_its_interval_once_nothing_was_due(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    job = preservation.preservation_job(db_settings, blobs, every=dt.timedelta(hours=1))
    assert job(db) == 0, "nothing stored yet"
    short = _unit(db, world, SHORT)
    document_id = _store(db, blobs, world, _signed_lta(db, world, db_settings, short, "waits"), "waits")
    assert job(db) == 0, "within the interval the selection does not run"
    assert preservation.preservation_job(db_settings, blobs, every=dt.timedelta(0))(db) == 1
    assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]


def test_two_worker_processes_renew_each_document_once(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    short = _unit(db, world, SHORT)
    expiring = [
        _store(db, blobs, world, _signed_lta(db, world, db_settings, short, f"process {n}"), f"process {n}")
        for n in range(4)
    ]
    env = {
        **os.environ,
        **database_env(db),
        "ESIGN_DATA_DIR": str(db_settings.data_dir),
        "ESIGN_CA_PASSPHRASE": "test CA passphrase",
        "ESIGN_ARCHIVE_BATCH": "1",
    }
    command = [str(ESIGN)] if ESIGN.exists() else [sys.executable, "-m", "api"]
    workers = [subprocess.Popen([*command, "archive", "renew"], env=env, stderr=subprocess.PIPE) for _ in range(2)]
    for process in workers:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    for document_id in expiring:
        assert [r.reason for r in _revisions(db, document_id)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]


def test_when_the_units_own_key_is_on_the_weak_list_only_expiring_archives_are_renewed(
    world: World, db: Database, db_settings: Settings, blobs: BlobStore
) -> None:
    same = _store(db, blobs, world, _signed_lta(db, world, db_settings, world.pki.tsa, "same key"), "same key")
    expiring = _store(db, blobs, world, _signed_lta(db, world, db_settings, _unit(db, world, SHORT), "soon"), "soon")
    policy = preservation.Policy(weak=preservation.WeakAlgorithms.parse(["ec<384"]))
    while preservation.renew_due(db, settings=db_settings, blobs=blobs, policy=policy):
        pass
    assert [r.reason for r in _revisions(db, same)] == [Reason.UPLOADED.value], "renewing would not make it stronger"
    assert [r.reason for r in _revisions(db, expiring)] == [Reason.UPLOADED.value, Reason.PRESERVED.value]
