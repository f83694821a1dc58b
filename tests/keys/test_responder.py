"""The pre-producing OCSP responder: what it keeps, when it reads the status again, how it answers nonces."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from keys import ca, revocation
from keys.ca import Authority, KeyKind, PkiUrls, Profile
from keys.responder import OcspResponder, Pending
from keys.revocation import CertStatus, Good, Revoked
from tests.support import require

URLS = PkiUrls("http://127.0.0.1:8000")
ORG = "测试省人民政府"
VALIDITY = timedelta(minutes=60)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pki:
    root: Authority
    issuing: Authority
    responder: Authority
    leaf: x509.Certificate


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request: pytest.FixtureRequest) -> Pki:
    kind: KeyKind = request.param
    root = ca.new_root("Test Root CA", organisation=ORG, urls=URLS)
    issuing = ca.new_subordinate(
        root, profile=Profile.ISSUING_CA, common_name="Test Issuing CA", organisation=ORG, urls=URLS
    )
    responder = ca.new_subordinate(
        issuing, profile=Profile.OCSP, common_name="Test OCSP", organisation=ORG, urls=URLS, kind=kind
    )
    leaf = ca.issue(
        issuing,
        profile=Profile.SIGNATURE,
        subject=ca.person_name("张三", organisation=ORG, department="办公室"),
        public_key=ca.generate_key().public_key(),
        urls=URLS,
    )
    return Pki(root=root, issuing=issuing, responder=responder, leaf=leaf)


@dataclass
class Signal:
    """A revocation signal the test moves by hand."""

    value: int | None = 1

    def epoch(self) -> int | None:
        return self.value

    def close(self) -> None:
        pass


@dataclass
class Database:
    """Statuses by serial, counting the reads a real database would serve."""

    statuses: dict[int, CertStatus] = field(default_factory=dict)
    reads: int = 0

    def status(self, serial: int) -> CertStatus:
        self.reads += 1
        return self.statuses.get(serial)


def _responder(pki: Pki, signal: Signal, capacity: int = 100) -> OcspResponder:
    return OcspResponder(
        issuer=pki.issuing.cert, responder=pki.responder, validity=VALIDITY, signal=signal, capacity=capacity
    )


def _ask(responder: OcspResponder, database: Database, request: bytes, now: datetime) -> bytes:
    answer = responder.answer(request, now=now)
    if isinstance(answer, Pending):
        answer = responder.complete(answer, database.status(answer.serial), now=now)
    return answer


def _request(pki: Pki, *, nonce: bytes | None = None, serial: int | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder()
    if serial is None:
        builder = builder.add_certificate(pki.leaf, pki.issuing.cert, hashes.SHA1())
    else:
        builder = builder.add_certificate_by_hash(*_issuer_hashes(pki), serial_number=serial, algorithm=hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _issuer_hashes(pki: Pki) -> tuple[bytes, bytes]:
    request = ocsp.load_der_ocsp_request(_request(pki))
    return request.issuer_name_hash, request.issuer_key_hash


def _status(response: bytes) -> ocsp.OCSPCertStatus:
    return ocsp.load_der_ocsp_response(response).certificate_status


def test_a_response_is_produced_once_and_served_until_a_tenth_of_its_window(pki: Pki) -> None:
    database = Database({pki.leaf.serial_number: Good()})
    responder = _responder(pki, Signal())
    first = _ask(responder, database, _request(pki), T0)
    assert _ask(responder, database, _request(pki), T0 + timedelta(minutes=5)) == first
    assert database.reads == 1
    parsed = ocsp.load_der_ocsp_response(first)
    assert parsed.this_update_utc == T0 and parsed.next_update_utc == T0 + VALIDITY

    later = _ask(responder, database, _request(pki), T0 + VALIDITY / 10)
    assert database.reads == 2 and later != first
    assert ocsp.load_der_ocsp_response(later).this_update_utc == T0 + VALIDITY / 10


def test_a_new_epoch_reads_the_status_again_and_a_revocation_shows_at_once(pki: Pki) -> None:
    serial = pki.leaf.serial_number
    database, signal = Database({serial: Good()}), Signal()
    responder = _responder(pki, signal)
    good = _ask(responder, database, _request(pki), T0)

    signal.value = 2
    assert _ask(responder, database, _request(pki), T0 + timedelta(seconds=1)) == good, "unchanged: kept"
    assert database.reads == 2

    database.statuses[serial] = Revoked(serial, T0, x509.ReasonFlags.key_compromise)
    signal.value = 3
    revoked = _ask(responder, database, _request(pki), T0 + timedelta(seconds=2))
    assert _status(revoked) is ocsp.OCSPCertStatus.REVOKED
    assert ocsp.load_der_ocsp_response(revoked).revocation_reason is x509.ReasonFlags.key_compromise
    assert _ask(responder, database, _request(pki), T0 + timedelta(seconds=3)) == revoked


def test_a_status_changed_behind_the_signal_shows_within_a_tenth_of_the_window(pki: Pki) -> None:
    serial = pki.leaf.serial_number
    database = Database({serial: Good()})
    responder = _responder(pki, Signal())
    _ask(responder, database, _request(pki), T0)
    database.statuses[serial] = Revoked(serial, T0)
    assert _status(_ask(responder, database, _request(pki), T0 + VALIDITY / 20)) is ocsp.OCSPCertStatus.GOOD
    assert _status(_ask(responder, database, _request(pki), T0 + VALIDITY / 10)) is ocsp.OCSPCertStatus.REVOKED


def test_a_revocation_during_a_status_read_is_not_kept_under_the_new_epoch(pki: Pki) -> None:
    """The status read under epoch 1 answers its request, but a request under epoch 2 reads again."""
    serial = pki.leaf.serial_number
    database, signal = Database({serial: Good()}), Signal()
    responder = _responder(pki, signal)
    pending = responder.answer(_request(pki), now=T0)
    assert isinstance(pending, Pending)
    stale = database.status(serial)
    database.statuses[serial] = Revoked(serial, T0)
    signal.value = 2
    assert _status(responder.complete(pending, stale, now=T0)) is ocsp.OCSPCertStatus.GOOD
    assert _status(_ask(responder, database, _request(pki), T0)) is ocsp.OCSPCertStatus.REVOKED


def test_nothing_is_kept_while_the_signal_cannot_tell(pki: Pki) -> None:
    database = Database({pki.leaf.serial_number: Good()})
    responder = _responder(pki, Signal(None))
    for _ in range(3):
        assert _status(_ask(responder, database, _request(pki), T0)) is ocsp.OCSPCertStatus.GOOD
    assert database.reads == 3


def test_unknown_and_foreign_serials_are_not_kept(pki: Pki) -> None:
    database = Database()
    responder = _responder(pki, Signal())
    for _ in range(2):
        assert _status(_ask(responder, database, _request(pki, serial=0x1234), T0)) is ocsp.OCSPCertStatus.UNKNOWN
    assert database.reads == 2
    database.statuses[0x1234] = Good()
    assert _status(_ask(responder, database, _request(pki, serial=0x1234), T0)) is ocsp.OCSPCertStatus.GOOD


def test_the_oldest_response_makes_room(pki: Pki) -> None:
    database = Database({serial: Good() for serial in range(1, 5)})
    responder = _responder(pki, Signal(), capacity=2)
    for serial in (1, 2, 3):
        _ask(responder, database, _request(pki, serial=serial), T0)
    _ask(responder, database, _request(pki, serial=3), T0)
    _ask(responder, database, _request(pki, serial=2), T0)
    assert database.reads == 3
    _ask(responder, database, _request(pki, serial=1), T0)
    assert database.reads == 4


def test_malformed_requests_get_malformed_request(pki: Pki) -> None:
    responder = _responder(pki, Signal())
    for garbage in (b"", b"junk", _request(pki)[:-4]):
        answer = responder.answer(garbage, now=T0)
        assert isinstance(answer, bytes)
        status = ocsp.load_der_ocsp_response(answer).response_status
        assert status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_a_nonce_is_answered_by_a_response_signed_for_it(pki: Pki) -> None:
    """The same bytes cryptography's builder writes for that nonce, status and time, and a valid signature."""
    serial = pki.leaf.serial_number
    database = Database({serial: Revoked(serial, T0 - timedelta(days=1), x509.ReasonFlags.superseded)})
    responder = _responder(pki, Signal())
    plain = _ask(responder, database, _request(pki), T0)
    now = T0 + timedelta(seconds=30, microseconds=5)
    answers = [_ask(responder, database, _request(pki, nonce=n), now) for n in (b"a" * 16, b"b" * 32)]
    assert database.reads == 1 and answers[0] != answers[1]

    for nonce, answer in zip((b"a" * 16, b"b" * 32), answers, strict=True):
        parsed = ocsp.load_der_ocsp_response(answer)
        assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        assert parsed.produced_at_utc == now.replace(microsecond=0)
        assert parsed.this_update_utc == now.replace(microsecond=0), "issued now: the status is known correct now"
        assert parsed.next_update_utc == now.replace(microsecond=0) + VALIDITY
        assert parsed.revocation_reason is x509.ReasonFlags.superseded
        public_key = pki.responder.cert.public_key()
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(parsed.signature, parsed.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
        else:
            assert isinstance(public_key, rsa.RSAPublicKey)
            public_key.verify(parsed.signature, parsed.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
        built = revocation.signed_ocsp_response(
            revocation.parse_ocsp_request(_request(pki)).cert_id,  # type: ignore[union-attr]
            database.statuses[serial],
            responder=pki.responder,
            this_update=now.replace(microsecond=0),
            next_update=now.replace(microsecond=0) + VALIDITY,
            nonce=nonce,
        )
        assert _without_time_and_signature(answer) == _without_time_and_signature(built)
        assert asn1_ocsp.OCSPResponse.load(answer).dump(force=True) == answer, "DER throughout"
    assert _without_time_and_signature(plain) != _without_time_and_signature(answers[0])


def _without_time_and_signature(response: bytes) -> bytes:
    """Every part of the response but producedAt and the signature, re-encoded."""
    parsed = asn1_ocsp.OCSPResponse.load(response)
    basic = parsed["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    tbs["produced_at"] = datetime(2000, 1, 1, tzinfo=UTC)
    parts = [parsed["response_status"], parsed["response_bytes"]["response_type"], tbs]
    parts += [basic["signature_algorithm"], basic["certs"]]
    return b"".join(part.dump(force=True) for part in parts)


@pytest.fixture
def files(pki: Pki, tmp_path: Path) -> Path:
    require(shutil.which("openssl") is not None, "the openssl command-line client is not installed")
    (tmp_path / "chain.pem").write_bytes(ca.pem(pki.root.cert) + ca.pem(pki.issuing.cert))
    (tmp_path / "issuing.pem").write_bytes(ca.pem(pki.issuing.cert))
    (tmp_path / "leaf.pem").write_bytes(ca.pem(pki.leaf))
    return tmp_path


def _openssl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no_nonce"])
def test_openssl_accepts_kept_and_nonce_answers(pki: Pki, files: Path, nonce: bool) -> None:
    database = Database({pki.leaf.serial_number: Good()})
    responder = _responder(pki, Signal())
    _ask(responder, database, _request(pki), datetime.now(UTC))
    made = _openssl(
        files, "ocsp", *([] if nonce else ["-no_nonce"]), "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "q"
    )
    assert made.returncode == 0, made
    answer = _ask(responder, database, (files / "q").read_bytes(), datetime.now(UTC))
    (files / "r").write_bytes(answer)
    checked = _openssl(files, "ocsp", "-reqin", "q", "-respin", "r", "-CAfile", "chain.pem", "-resp_text")
    assert checked.returncode == 0, checked
    assert "Response verify OK" in checked.stderr and "WARNING" not in checked.stderr, checked.stderr
    assert database.reads == 1
