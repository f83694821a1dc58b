"""CRLs and OCSP responses of the CA, judged by the openssl command-line client."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from keys import ca
from keys.ca import Authority, PkiUrls, Profile
from keys.revocation import CertStatus, Good, Revoked, StatusLookup, build_crl, ocsp_response
from tests.support import require

URLS = PkiUrls("http://127.0.0.1:8000")
ORG = "测试省人民政府"


@dataclass(frozen=True)
class Pki:
    root: Authority
    issuing: Authority
    responder: Authority
    leaf: x509.Certificate
    other_leaf: x509.Certificate
    foreign_issuing: Authority
    foreign_leaf: x509.Certificate


def _leaf(issuer: Authority, name: str) -> x509.Certificate:
    return ca.issue(
        issuer,
        profile=Profile.SIGNATURE,
        subject=ca.person_name(name, organisation=ORG, department="办公室"),
        public_key=ca.generate_key().public_key(),
        urls=URLS,
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    root = ca.new_root("Test Root CA", organisation=ORG, urls=URLS)
    issuing = ca.new_subordinate(
        root, profile=Profile.ISSUING_CA, common_name="Test Issuing CA", organisation=ORG, urls=URLS
    )
    responder = ca.new_subordinate(issuing, profile=Profile.OCSP, common_name="Test OCSP", organisation=ORG, urls=URLS)
    foreign_root = ca.new_root("Other Root CA", organisation="别的机关", urls=URLS)
    foreign_issuing = ca.new_subordinate(
        foreign_root, profile=Profile.ISSUING_CA, common_name="Other Issuing CA", organisation="别的机关", urls=URLS
    )
    return Pki(
        root=root,
        issuing=issuing,
        responder=responder,
        leaf=_leaf(issuing, "张三"),
        other_leaf=_leaf(issuing, "李四"),
        foreign_issuing=foreign_issuing,
        foreign_leaf=_leaf(foreign_issuing, "王五"),
    )


@pytest.fixture
def files(pki: Pki, tmp_path: Path) -> Path:
    require(shutil.which("openssl") is not None, "the openssl command-line client is not installed")
    (tmp_path / "chain.pem").write_bytes(ca.pem(pki.root.cert) + ca.pem(pki.issuing.cert))
    (tmp_path / "issuing.pem").write_bytes(ca.pem(pki.issuing.cert))
    (tmp_path / "leaf.pem").write_bytes(ca.pem(pki.leaf))
    (tmp_path / "other.pem").write_bytes(ca.pem(pki.other_leaf))
    (tmp_path / "foreign_issuing.pem").write_bytes(ca.pem(pki.foreign_issuing.cert))
    (tmp_path / "foreign_leaf.pem").write_bytes(ca.pem(pki.foreign_leaf))
    return tmp_path


def _openssl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _openssl_time(moment: datetime) -> str:
    """How openssl prints an ASN.1 time, e.g. ``Jan  2 03:04:05 2026 GMT``."""
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S %Y} GMT"


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


# --- CRL ---------------------------------------------------------------------------------------


def _crl(pki: Pki, revoked: list[Revoked], *, signer: Authority | None = None) -> tuple[bytes, datetime]:
    this_update = _seconds(datetime.now(UTC)) - timedelta(minutes=1)
    next_update = this_update + timedelta(hours=24)
    crl = build_crl(signer or pki.issuing, revoked, number=7, this_update=this_update, next_update=next_update)
    return crl, next_update


def test_crl_signature_verifies_with_openssl_and_a_forged_one_does_not(pki: Pki, files: Path) -> None:
    revoked_at = _seconds(datetime.now(UTC)) - timedelta(hours=1)
    crl, _ = _crl(pki, [Revoked(pki.leaf.serial_number, revoked_at, x509.ReasonFlags.key_compromise)])
    (files / "crl.der").write_bytes(crl)
    result = _openssl(files, "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "chain.pem", "-noout")
    assert result.returncode == 0 and "verify OK" in result.stdout + result.stderr, result

    impostor = Authority(cert=pki.issuing.cert, key=ca.generate_key())
    forged, _ = _crl(pki, [], signer=impostor)
    (files / "forged.der").write_bytes(forged)
    result = _openssl(files, "crl", "-inform", "DER", "-in", "forged.der", "-CAfile", "chain.pem", "-noout")
    assert "verify OK" not in result.stdout + result.stderr, result


def test_crl_shows_reasons_number_key_identifier_and_next_update(pki: Pki, files: Path) -> None:
    revoked_at = _seconds(datetime.now(UTC)) - timedelta(hours=2)
    crl, next_update = _crl(
        pki,
        [
            Revoked(pki.leaf.serial_number, revoked_at, x509.ReasonFlags.key_compromise),
            Revoked(pki.other_leaf.serial_number, revoked_at, x509.ReasonFlags.unspecified),
        ],
    )
    (files / "crl.der").write_bytes(crl)
    text = _openssl(files, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text").stdout

    assert f"Next Update: {_openssl_time(next_update)}" in text
    assert re.search(r"X509v3 CRL Number: *\n +7\n", text), text
    ski = pki.issuing.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert re.search(rf"X509v3 Authority Key Identifier: *\n +{ski.hex(':').upper()}\n", text), text
    entries = _crl_entries(text)
    assert set(entries) == {pki.leaf.serial_number, pki.other_leaf.serial_number}
    assert f"Revocation Date: {_openssl_time(revoked_at)}" in entries[pki.leaf.serial_number]
    assert re.search(r"CRL Reason Code: *\n +Key Compromise", entries[pki.leaf.serial_number])
    assert "CRL Reason Code" not in entries[pki.other_leaf.serial_number], "RFC 5280 §5.3.1: omit unspecified"


def _crl_entries(text: str) -> dict[int, str]:
    """The revoked entries of ``openssl crl -text``, by serial number."""
    listing = text.split("Revoked Certificates:", 1)[1].split("Signature Algorithm:", 1)[0]
    blocks = re.split(r"^ +Serial Number: ([0-9A-F]+)\n", listing, flags=re.M)[1:]
    return {int(serial, 16): block for serial, block in zip(blocks[::2], blocks[1::2], strict=True)}


def test_openssl_verify_rejects_a_revoked_leaf_and_accepts_a_good_one(pki: Pki, files: Path) -> None:
    revoked_at = _seconds(datetime.now(UTC)) - timedelta(minutes=30)
    crl, _ = _crl(pki, [Revoked(pki.leaf.serial_number, revoked_at, x509.ReasonFlags.superseded)])
    (files / "crl.pem").write_bytes(x509.load_der_x509_crl(crl).public_bytes(serialization.Encoding.PEM))
    common = ["verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", "chain.pem"]

    revoked = _openssl(files, *common, "leaf.pem")
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr, revoked
    good = _openssl(files, *common, "other.pem")
    assert good.returncode == 0 and "other.pem: OK" in good.stdout, good


def test_a_crl_forgets_certificates_expired_longer_ago_than_its_validity(pki: Pki, files: Path) -> None:
    """RFC 5280 §3.3: a CRL lists the revoked certificates still in use, not every one ever revoked."""
    now = _seconds(datetime.now(UTC))
    revoked = [
        Revoked(1, now - timedelta(days=40), expires_at=now - timedelta(days=30)),
        Revoked(2, now - timedelta(days=40), expires_at=now - timedelta(hours=23)),
        Revoked(3, now - timedelta(days=1), expires_at=now + timedelta(days=700)),
        Revoked(4, now - timedelta(days=1)),
    ]
    crl, _ = _crl(pki, revoked)
    (files / "crl.der").write_bytes(crl)
    text = _openssl(files, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text").stdout
    assert set(_crl_entries(text)) == {2, 3, 4}


def test_crl_inputs_are_checked(pki: Pki) -> None:
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    twice = [Revoked(5, now), Revoked(5, now, x509.ReasonFlags.key_compromise)]
    with pytest.raises(ValueError, match="twice"):
        build_crl(pki.issuing, twice, number=1, this_update=now, next_update=later)
    with pytest.raises(ValueError, match="nextUpdate"):
        build_crl(pki.issuing, [], number=1, this_update=later, next_update=now)
    with pytest.raises(ValueError, match="20 octets"):
        build_crl(pki.issuing, [], number=-1, this_update=now, next_update=later)
    with pytest.raises(ValueError, match="delta CRL"):
        Revoked(5, now, x509.ReasonFlags.remove_from_crl)


# --- OCSP --------------------------------------------------------------------------------------


def _lookup(statuses: dict[int, CertStatus]) -> StatusLookup:
    return lambda serial: statuses.get(serial)


def _answer(pki: Pki, request: bytes, lookup: StatusLookup, now: datetime | None = None) -> bytes:
    return ocsp_response(
        request,
        issuer=pki.issuing.cert,
        responder=pki.responder,
        lookup=lookup,
        now=now or datetime.now(UTC),
        validity=timedelta(minutes=60),
    )


def _request(files: Path, *args: str, cert: str = "leaf.pem", issuer: str = "issuing.pem") -> bytes:
    result = _openssl(files, "ocsp", *args, "-issuer", issuer, "-cert", cert, "-reqout", "req.der")
    assert result.returncode == 0, result
    return (files / "req.der").read_bytes()


def _check(files: Path, response: bytes, *args: str, cert: str = "leaf.pem") -> str:
    """openssl's verdict on the response's signature and the status of ``cert`` in it.

    ``-no_nonce`` because given ``-cert`` openssl builds a fresh request, whose nonce no response can match;
    ``_check_against_request`` covers nonces.
    """
    (files / "resp.der").write_bytes(response)
    result = _openssl(
        files,
        "ocsp",
        *args,
        "-respin",
        "resp.der",
        "-issuer",
        "issuing.pem",
        "-cert",
        cert,
        "-CAfile",
        "chain.pem",
        "-no_nonce",
        "-resp_text",
    )
    return result.stdout + result.stderr


def _check_against_request(files: Path, response: bytes) -> subprocess.CompletedProcess[str]:
    """openssl's verdict on the response to the request in req.der, nonce included."""
    (files / "resp.der").write_bytes(response)
    return _openssl(files, "ocsp", "-reqin", "req.der", "-respin", "resp.der", "-CAfile", "chain.pem")


@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no_nonce"])
@pytest.mark.parametrize("digest", ["sha1", "sha256"], ids=["sha1_default", "sha256"])
def test_openssl_accepts_a_good_answer(pki: Pki, files: Path, nonce: bool, digest: str) -> None:
    """openssl hashes the CertID with SHA-1 unless told otherwise; the answer must echo either."""
    digest_args = [] if digest == "sha1" else [f"-{digest}"]
    request_der = _request(files, *digest_args, *([] if nonce else ["-no_nonce"]))
    now = _seconds(datetime.now(UTC))
    response = _answer(pki, request_der, _lookup({pki.leaf.serial_number: Good()}), now)

    out = _check(files, response, *digest_args)
    assert "Response verify OK" in out and "leaf.pem: good" in out, out
    against_request = _check_against_request(files, response)
    assert against_request.returncode == 0, against_request
    assert "Response verify OK" in against_request.stderr and "WARNING" not in against_request.stderr
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.this_update_utc == now and parsed.next_update_utc == now + timedelta(minutes=60)
    assert parsed.certificates == [pki.responder.cert]
    assert parsed.hash_algorithm.name == digest
    request = ocsp.load_der_ocsp_request(request_der)
    if nonce:
        echoed = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        assert echoed == request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    else:
        assert len(parsed.extensions) == 0


def test_openssl_sees_revocation_time_and_reason(pki: Pki, files: Path) -> None:
    revoked_at = _seconds(datetime.now(UTC)) - timedelta(hours=3)
    revoked = Revoked(pki.leaf.serial_number, revoked_at, x509.ReasonFlags.key_compromise)
    lookup = _lookup({pki.leaf.serial_number: revoked})
    out = _check(files, _answer(pki, _request(files), lookup))
    assert "Response verify OK" in out and "leaf.pem: revoked" in out, out
    assert "Reason: keyCompromise" in out
    assert f"Revocation Time: {_openssl_time(revoked_at)}" in out


def test_unspecified_reason_is_left_out(pki: Pki, files: Path) -> None:
    revoked_at = _seconds(datetime.now(UTC)) - timedelta(hours=3)
    lookup = _lookup({pki.leaf.serial_number: Revoked(pki.leaf.serial_number, revoked_at)})
    response = ocsp.load_der_ocsp_response(_answer(pki, _request(files), lookup))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason is None and response.revocation_time_utc == revoked_at


def test_serial_the_lookup_does_not_know_is_unknown(pki: Pki, files: Path) -> None:
    out = _check(files, _answer(pki, _request(files), _lookup({})))
    assert "Response verify OK" in out and "leaf.pem: unknown" in out, out


def test_a_certificate_of_another_issuer_is_unknown_even_if_its_serial_is_known(pki: Pki, files: Path) -> None:
    asked: list[int] = []

    def everything_good(serial: int) -> CertStatus:
        asked.append(serial)
        return Good()

    request_der = _request(files, cert="foreign_leaf.pem", issuer="foreign_issuing.pem")
    response = ocsp.load_der_ocsp_response(_answer(pki, request_der, everything_good))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == pki.foreign_leaf.serial_number
    assert asked == []


def test_same_name_but_another_key_is_another_issuer(pki: Pki, files: Path) -> None:
    """issuerKeyHash matters as much as issuerNameHash (RFC 6960 §4.1.1)."""
    twin = ca.issue(
        pki.root,
        profile=Profile.ISSUING_CA,
        subject=pki.issuing.cert.subject,
        public_key=ca.generate_key().public_key(),
        urls=URLS,
    )
    (files / "twin.pem").write_bytes(ca.pem(twin))
    request_der = _request(files, issuer="twin.pem")
    response = ocsp.load_der_ocsp_response(_answer(pki, request_der, _lookup({pki.leaf.serial_number: Good()})))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def _malformed_requests(pki: Pki, files: Path) -> dict[str, bytes]:
    single = _request(files)
    two = _openssl(
        files, "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-cert", "other.pem", "-reqout", "two.der"
    )
    md5 = _openssl(files, "ocsp", "-md5", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "md5.der")
    assert two.returncode == 0 and md5.returncode == 0, (two, md5)
    long_nonce = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.leaf, pki.issuing.cert, hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"n" * 33), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    return {
        "empty": b"",
        "garbage": b"this is not an OCSP request",
        "truncated": single[: len(single) // 2],
        "trailing": single + b"\x00",
        "two requests": (files / "two.der").read_bytes(),
        "md5 CertID": (files / "md5.der").read_bytes(),
        "33-octet nonce": long_nonce,
    }


def test_unreadable_requests_get_malformed_request(pki: Pki, files: Path) -> None:
    for name, request_der in _malformed_requests(pki, files).items():
        response = ocsp.load_der_ocsp_response(_answer(pki, request_der, _lookup({})))
        assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST, name


def test_every_truncation_and_byte_flip_gets_a_response(pki: Pki, files: Path) -> None:
    """No request, however damaged, makes the responder raise."""
    single = _request(files)
    variants = [single[:n] for n in range(len(single))]
    variants += [single[:i] + bytes([single[i] ^ 0xFF]) + single[i + 1 :] for i in range(len(single))]
    lookup = _lookup({pki.leaf.serial_number: Good()})
    statuses = {ocsp.load_der_ocsp_response(_answer(pki, v, lookup)).response_status for v in variants}
    assert ocsp.OCSPResponseStatus.MALFORMED_REQUEST in statuses
