"""A route's sign-off, number and seal stay provable offline: after the leader's certificate is revoked, and after
every end-entity certificate has expired (ETSI EN 319 102-1 §5.6, past signature validation with proofs of
existence from the time-stamps). The same route without time-stamps (B-B) is not, so these tests can fail.

Both our verifier and pyhanko's AdES long-term validator (``ades_lta_validation``, the engine of
``pyhanko sign adesverify``) judge, offline: nothing is fetched, only the root is trusted. pyhanko runs with
revocation data *required* for every certificate and the freshness rule "issued no earlier than the time it must
cover" (``FreshnessReqType.TIME_AFTER_SIGNATURE`` with a zero interval), the newest time-stamp being taken to
exist at its own genTime (esign.verify's module docstring says why).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from fastapi.testclient import TestClient
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
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
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    FreshnessReqType,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer
from sqlalchemy import update

from esign import ltv, pdf
from esign.db import Database
from esign.etsi.validation_report import to_xml
from esign.ids import now
from esign.report import Indication, Verdict, VerificationReport
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, certificates, validation_data
from keys.credentials import Credential
from keys.identities import Organisation
from tests.documents.circulation.test_flows import _approve, _document, _one, _start
from tests.esign.etsi_xml import NS, assert_same_indications
from tests.world import PIN, World

TWO_DAYS = timedelta(days=2)
THREE_YEARS = timedelta(days=3 * 365 + 2)
"""Past the two-year signature and registry certificates and the three-year seal certificate."""


@dataclass(frozen=True)
class Dispatched:
    pdf: bytes
    made: datetime
    knowledge: ValidationDataAt


@dataclass(frozen=True)
class ValidationDataAt:
    """What the service's CA answers at some later time, about every certificate of the document."""

    crls: tuple[bytes, ...]
    ocsps: tuple[bytes, ...]


def _route(api: TestClient, world: World, db: Database, db_settings: Settings, level: str) -> Dispatched:
    a, b = world.orgs["A"], world.orgs["B"]
    if level == "B-B":
        # The service refuses levels below B-T (keys.identities.service_level); the row is set directly to make
        # the same route without time-stamps, the case the default exists for.
        with db.transaction() as session:
            session.execute(update(Organisation).where(Organisation.id == a.id).values(signature_level="B-B"))
    clerk, leader, custodian = (a.members[m] for m in ("clerk", "leader", "custodian"))
    document = _document(api, clerk.headers)
    _start(
        api,
        clerk.headers,
        document,
        [
            {"name": "签发", "steps": [{"kind": "sign_off", "assignee": {"official_id": leader.official_id}}]},
            {"name": "登记", "steps": [{"kind": "registration", "assignee": {"role": "clerk"}}]},
            {"name": "用印", "steps": [{"kind": "seal", "assignee": {"official_id": custodian.official_id}}]},
            {"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]},
        ],
    )
    sign_off = _one(api, leader.headers, document, "sign_off")
    _approve(api, leader.headers, sign_off, opinion="同意", credential_id=leader.credential_id, pin=PIN)
    _approve(api, clerk.headers, _one(api, clerk.headers, document, "registration"))
    seal = _one(api, custodian.headers, document, "seal")
    _approve(api, custodian.headers, seal, credential_id=custodian.seal_id, pin=PIN)
    _approve(api, clerk.headers, _one(api, clerk.headers, document, "dispatch"), recipients=[b.id])
    made = now()

    b_clerk = b.members["clerk"]
    [receipt] = [s for s in api.get("/v1/inbox", headers=b_clerk.headers).json()["steps"] if s["kind"] == "receipt"]
    received = api.get(f"/v1/documents/{receipt['document_id']}/pdf", headers=b_clerk.headers).content

    # After dispatch the leader retires: the certificate is revoked as superseded, a day on. What the CA says
    # two days on is produced then and never put into the document.
    with db.transaction() as session:
        credential = session.get(Credential, leader.credential_id)
        assert credential is not None
        certificates.revoke(session, serial=credential.serial, reason="superseded", actor=None, at=made + timedelta(1))
        later = replace(
            validation_data.local_revocation(session, pki=world.pki, settings=db_settings),
            clock=lambda: made + TWO_DAYS,
        )
    reader = pdf.read(received)
    certs = [c for es in reader.embedded_regular_signatures for c in ltv.signature_certificates(es)]
    answered = later(certs)
    knowledge = ValidationDataAt(
        crls=tuple(c.dump() for c in answered.crls), ocsps=tuple(o.dump() for o in answered.ocsps)
    )
    return Dispatched(pdf=received, made=made, knowledge=knowledge)


def _offline(world: World) -> TrustSettings:
    return TrustSettings().with_anchors(ca.pem(world.pki.root.cert))


def _informed(world: World, knowledge: ValidationDataAt) -> TrustSettings:
    """Offline, but knowing what the CA said two days on: the leader's certificate is revoked."""
    return _offline(world).with_revocation_data(crls=knowledge.crls, ocsps=knowledge.ocsps)


def _pyhanko(
    data: bytes, world: World, at: datetime, knowledge: ValidationDataAt | None = None, *, strict: bool = False
) -> list[str]:
    """pyhanko's AdES long-term validation of every signature, offline, revocation data required. ``strict``:
    nothing is taken to exist before the validation time, not even the newest time-stamp."""
    required = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[asn1_x509.Certificate.load(ca.der(world.pki.root.cert))]),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(ee_certificate_rule=required, intermediate_ca_cert_rule=required),
            freshness=timedelta(0),
            freshness_req_type=FreshnessReqType.TIME_AFTER_SIGNATURE,
        ),
    )
    known = knowledge or ValidationDataAt((), ())
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
            local_knowledge=LocalKnowledge(
                known_crls=[CRLContainer(CertificateList.load(c)) for c in known.crls],
                known_ocsps=[r for o in known.ocsps for r in OCSPContainer.load_multi(OCSPResponse.load(o))],
            ),
        ),
        diff_policy=DEFAULT_DIFF_POLICY,
    )
    reader = pdf.read(data)
    stamps = reader.embedded_timestamp_signatures
    newest = ltv.timestamp_time(stamps[-1].signed_data) if stamps and not strict else at
    timing = ValidationTimingInfo(
        validation_time=at, best_signature_time=min(newest, at), point_in_time_validation=True
    )
    results = []
    for es in reader.embedded_regular_signatures:
        result = asyncio.run(ades_lta_validation(es, spec, timing_info=timing))
        sub = result.ades_subindic
        results.append("PASSED" if sub.status is AdESStatus.PASSED else f"{sub.status.name}/{sub.standard_name}")
    return results


def _indications(report: VerificationReport) -> list[tuple[str, str | None]]:
    return [(s.indication.value, s.sub_indication) for s in report.signatures]


def test_a_b_lta_route_verifies_offline_after_revocation_and_expiry(
    api: TestClient, world: World, db: Database, db_settings: Settings
) -> None:
    dispatched = _route(api, world, db, db_settings, "B-LTA")
    report = verify(dispatched.pdf, _offline(world))
    assert [s.pades_level for s in report.signatures] == ["B-LTA"] * 3
    assert len(report.document_timestamps) == 3
    dss = {(r.kind, r.issuer) for r in report.revocation_data}
    assert {kind for kind, _ in dss} == {"crl", "ocsp"}, "both CRLs and OCSP responses are embedded"
    stamp_times = [t.time for t in report.document_timestamps]
    for data in report.revocation_data:
        assert data.issued_at is not None and data.issued_at >= min(stamp_times) - timedelta(seconds=60)

    for at, trust in (
        (dispatched.made + TWO_DAYS, _offline(world)),
        (dispatched.made + TWO_DAYS, _informed(world, dispatched.knowledge)),
        (dispatched.made + THREE_YEARS, _offline(world)),
    ):
        report = verify(dispatched.pdf, trust, at=at)
        assert report.verdict is Verdict.VALID, (at, report.summary_en, _indications(report))
        assert report.validation_time == at
        root = assert_same_indications(to_xml(report), report.model_dump(mode="json"))
        times = root.xpath("//vr:ValidationTimeInfo/vr:ValidationTime/text()", namespaces=NS)
        assert times and all(datetime.fromisoformat(t) == at for t in times)
        assert all(t.indication is Indication.TOTAL_PASSED for t in report.document_timestamps)
        signers = [s.signer.not_after for s in report.signatures if s.signer]
        assert at < max(signers) or all(n < at for n in signers)

    assert _pyhanko(dispatched.pdf, world, dispatched.made + TWO_DAYS) == ["PASSED"] * 3
    informed = _pyhanko(dispatched.pdf, world, dispatched.made + TWO_DAYS, dispatched.knowledge)
    assert informed == ["PASSED"] * 3
    assert _pyhanko(dispatched.pdf, world, dispatched.made + THREE_YEARS) == ["PASSED"] * 3
    # Read strictly, the newest time-stamp's unit needs revocation data issued after the validation time
    # (EN 319 102-1 §5.6.3 validates it at that time, §5.2.5.4 asks data issued after its use): no file can
    # carry that offline, so nothing gives the earlier ones proof of existence.
    strict = _pyhanko(dispatched.pdf, world, dispatched.made + TWO_DAYS, strict=True)
    assert strict == ["INDETERMINATE/NO_POE"] * 3, strict


def test_the_same_route_without_time_stamps_does_not(
    api: TestClient, world: World, db: Database, db_settings: Settings
) -> None:
    dispatched = _route(api, world, db, db_settings, "B-B")
    report = verify(dispatched.pdf, _offline(world))
    assert [s.pades_level for s in report.signatures] == ["B-B"] * 3 and not report.document_timestamps

    revoked = verify(dispatched.pdf, _informed(world, dispatched.knowledge), at=dispatched.made + TWO_DAYS)
    assert revoked.verdict is Verdict.INDETERMINATE, revoked.summary_en
    assert _indications(revoked)[0] == ("INDETERMINATE", "REVOKED_NO_POE")

    expired = verify(dispatched.pdf, _offline(world), at=dispatched.made + THREE_YEARS)
    assert expired.verdict is not Verdict.VALID and all(
        s.indication is not Indication.TOTAL_PASSED for s in expired.signatures
    )
    assert {sub for _, sub in _indications(expired)} <= {"OUT_OF_BOUNDS_NO_POE", "EXPIRED"}, _indications(expired)

    for at, knowledge in ((TWO_DAYS, dispatched.knowledge), (THREE_YEARS, None)):
        judged = _pyhanko(dispatched.pdf, world, dispatched.made + at, knowledge)
        print("pyhanko B-B", at, judged)
        assert "PASSED" not in judged, judged
