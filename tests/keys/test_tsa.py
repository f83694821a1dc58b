"""The time-stamping unit, judged by ``openssl ts`` and by pyhanko's validation of a PAdES B-T signature."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core, tsp
from cryptography import x509
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from esign.report import Indication
from esign.sign import PadesLevel, SignOptions, sign
from esign.signers import KeySigner, to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca
from keys.ca import Authority, KeyKind, PkiUrls, PrivateKey, Profile
from keys.tsa import LocalTimeStamper, timestamp_response
from tests.conftest import make_pdf
from tests.support import require

URLS = PkiUrls("http://127.0.0.1:8000")
ORG = "测试省人民政府"
POLICY = "2.25.171802334187214520950305633593547016405"
DATA = "关于开展2026年度安全检查的通知\n".encode()


@dataclass(frozen=True)
class Pki:
    root: Authority
    issuing: Authority
    signer_key: PrivateKey
    signer_cert: x509.Certificate


@dataclass(frozen=True)
class Unit:
    """A TSA of ``Pki``, and what it takes to call ``timestamp_response`` with it."""

    name: str
    tsa: Authority
    chain: tuple[x509.Certificate, ...]

    def answer(
        self, request: bytes, *, now: datetime | None = None, serial: int = 0x2026, accuracy: timedelta | None = None
    ) -> bytes:
        return timestamp_response(
            request,
            tsa=self.tsa,
            chain=self.chain,
            policy=POLICY,
            now=now or datetime.now(UTC),
            serial=serial,
            **({} if accuracy is None else {"accuracy": accuracy}),
        )


@pytest.fixture(scope="module")
def pki() -> Pki:
    root = ca.new_root("Test Root CA", organisation=ORG, urls=URLS)
    issuing = ca.new_subordinate(
        root, profile=Profile.ISSUING_CA, common_name="Test Issuing CA", organisation=ORG, urls=URLS
    )
    key = ca.generate_key()
    cert = ca.issue(
        issuing,
        profile=Profile.SIGNATURE,
        subject=ca.person_name("张三", organisation=ORG, department="办公室"),
        public_key=key.public_key(),
        urls=URLS,
    )
    return Pki(root=root, issuing=issuing, signer_key=key, signer_cert=cert)


@pytest.fixture(scope="module", params=["ec", "rsa"])
def unit(pki: Pki, request: pytest.FixtureRequest) -> Unit:
    kind: KeyKind = request.param
    name = f"Test TSA {kind}"
    tsa = ca.new_subordinate(pki.issuing, profile=Profile.TSA, common_name=name, organisation=ORG, urls=URLS, kind=kind)
    return Unit(name=name, tsa=tsa, chain=(pki.issuing.cert, pki.root.cert))


@pytest.fixture
def files(pki: Pki, unit: Unit, tmp_path: Path) -> Path:
    require(shutil.which("openssl") is not None, "the openssl command-line client is not installed")
    (tmp_path / "chain.pem").write_bytes(ca.pem(pki.root.cert) + ca.pem(pki.issuing.cert))
    (tmp_path / "tsa.pem").write_bytes(ca.pem(unit.tsa.cert))
    (tmp_path / "file.txt").write_bytes(DATA)
    (tmp_path / "other.txt").write_bytes(DATA + b"!")
    return tmp_path


def _openssl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _query(files: Path, *args: str) -> bytes:
    result = _openssl(files, "ts", "-query", "-data", "file.txt", *args, "-out", "req.tsq")
    assert result.returncode == 0, result
    return (files / "req.tsq").read_bytes()


def _verify(files: Path, response: bytes, data: str = "file.txt") -> subprocess.CompletedProcess[str]:
    (files / "resp.tsr").write_bytes(response)
    return _openssl(
        files, "ts", "-verify", "-data", data, "-in", "resp.tsr", "-CAfile", "chain.pem", "-untrusted", "tsa.pem"
    )


def _reply_text(files: Path, response: bytes) -> str:
    (files / "resp.tsr").write_bytes(response)
    result = _openssl(files, "ts", "-reply", "-in", "resp.tsr", "-text")
    assert result.returncode == 0, result
    return result.stdout


def _field(text: str, label: str) -> str:
    match = re.search(rf"^{label}: (.*)$", text, flags=re.M)
    assert match, f"no {label!r} in {text}"
    return match.group(1).strip()


def _token(response: bytes) -> cms.SignedData:
    parsed = tsp.TimeStampResp.load(response)
    assert parsed["status"]["status"].native == "granted", parsed["status"].native
    return parsed["time_stamp_token"]["content"]


def _tst_info(response: bytes) -> tsp.TSTInfo:
    return _token(response)["encap_content_info"]["content"].parsed


class _AnyTimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp with its token OPTIONAL, as the RFC has it (asn1crypto's requires it)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]  # noqa: RUF012


def _status(response: bytes) -> str:
    return str(_AnyTimeStampResp.load(response, strict=True)["status"]["status"].native)


def _failure(response: bytes) -> set[str]:
    parsed = _AnyTimeStampResp.load(response, strict=True)
    assert parsed["status"]["status"].native == "rejection"
    assert parsed["time_stamp_token"].native is None, "RFC 3161 §2.4.2: no token in a rejection"
    return set(parsed["status"]["fail_info"].native)


def _openssl_time(moment: datetime) -> str:
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S %Y} GMT"


def _request(
    *,
    algorithm: str = "sha256",
    digest: bytes | None = None,
    version: int = 1,
    extensions: bool = False,
) -> bytes:
    """A TimeStampReq openssl would not write."""
    fields: dict[str, object] = {
        "version": version,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest if digest is not None else hashlib.sha256(DATA).digest(),
        },
        "cert_req": True,
    }
    if extensions:
        fields["extensions"] = [{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]
    return tsp.TimeStampReq(fields).dump()


# --- against openssl ---------------------------------------------------------------------------


def test_openssl_verifies_the_token_and_reads_policy_nonce_and_serial(unit: Unit, files: Path) -> None:
    request = _query(files, "-sha256", "-cert")
    now = datetime.now(UTC)
    response = unit.answer(request, now=now, serial=0x1F2E3D4C5B6A)

    verified = _verify(files, response)
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified
    tampered = _verify(files, response, data="other.txt")
    assert tampered.returncode != 0 and "Verification: FAILED" in tampered.stdout, tampered

    text = _reply_text(files, response)
    asked = _openssl(files, "ts", "-query", "-in", "req.tsq", "-text").stdout
    assert _field(text, "Status") == "Granted."
    assert _field(text, "Policy OID") == POLICY
    assert _field(text, "Nonce") == _field(asked, "Nonce") != "unspecified"
    assert _field(text, "Serial number") == "0x1F2E3D4C5B6A"
    assert _field(text, "Time stamp") == _openssl_time(now)
    assert _field(text, "Accuracy").startswith("0x01 seconds")
    assert _field(text, "Ordering") == "no"
    assert _field(text, "TSA").endswith(f"/CN={unit.name}")


@pytest.mark.parametrize(
    "options", [["-no_nonce", "-cert"], ["-no_nonce"], []], ids=["no_nonce", "no_nonce_no_cert", "no_cert"]
)
def test_openssl_verifies_without_nonce_or_certificates(unit: Unit, files: Path, options: list[str]) -> None:
    response = unit.answer(_query(files, "-sha256", *options))

    verified = _verify(files, response)
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified
    text = _reply_text(files, response)
    assert (_field(text, "Nonce") == "unspecified") == ("-no_nonce" in options)
    certificates = _token(response)["certificates"]
    if "-cert" in options:
        embedded = {c.chosen.dump() for c in certificates}
        assert embedded == {ca.der(unit.tsa.cert), *(ca.der(c) for c in unit.chain)}
    else:
        assert not certificates.native, "RFC 3161 §2.4.1: no certificates unless certReq"


def test_our_policy_may_be_requested_and_another_is_refused(unit: Unit, files: Path) -> None:
    granted = unit.answer(_query(files, "-sha256", "-cert", "-tspolicy", POLICY))
    assert _verify(files, granted).returncode == 0
    assert _field(_reply_text(files, granted), "Policy OID") == POLICY

    refused = unit.answer(_query(files, "-sha256", "-cert", "-tspolicy", "1.2.3.4.5"))
    text = _reply_text(files, refused)
    assert _field(text, "Status") == "Rejected."
    assert "the requested TSA policy is not supported by the TSA" in text
    assert _failure(refused) == {"unaccepted_policy"}


@pytest.mark.parametrize("digest", ["-md5", "-sha1"])
def test_weak_hash_algorithms_are_refused(unit: Unit, files: Path, digest: str) -> None:
    response = unit.answer(_query(files, digest, "-cert"))
    text = _reply_text(files, response)
    assert _field(text, "Status") == "Rejected."
    assert "unrecognized or unsupported algorithm identifier" in text
    assert _failure(response) == {"bad_alg"}


@pytest.mark.parametrize("digest", ["-sha384", "-sha512"])
def test_longer_sha2_imprints_are_stamped(unit: Unit, files: Path, digest: str) -> None:
    response = unit.answer(_query(files, digest, "-cert"))
    verified = _verify(files, response)
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified


def test_garbage_is_answered_with_bad_data_format(unit: Unit, files: Path) -> None:
    request = _query(files, "-sha256", "-cert")
    for name, garbage in {
        "empty": b"",
        "text": b"GET / HTTP/1.1\r\n\r\n",
        "truncated": request[:-3],
        "trailing": request + b"\x00\x00",
    }.items():
        response = unit.answer(garbage)
        assert _failure(response) == {"bad_data_format"}, name
        assert "the data submitted has the wrong format" in _reply_text(files, response), name


# --- requests openssl does not write ------------------------------------------------------------


def test_requests_openssl_would_not_send_are_refused_for_the_right_reason(unit: Unit) -> None:
    assert _failure(unit.answer(_request(digest=b"\x00" * 20))) == {"bad_data_format"}
    assert _failure(unit.answer(_request(algorithm="sha3_256", digest=b"\x00" * 32))) == {"bad_alg"}
    assert _failure(unit.answer(_request(version=2))) == {"bad_request"}
    assert _failure(unit.answer(_request(extensions=True))) == {"unaccepted_extensions"}
    assert _tst_info(unit.answer(_request()))["version"].native == "v1"


def test_every_truncation_and_byte_flip_gets_a_time_stamp_response(unit: Unit) -> None:
    """No request, however damaged, makes the unit raise."""
    request = _request()
    variants = [request[:n] for n in range(len(request))]
    variants += [request[:i] + bytes([request[i] ^ 0xFF]) + request[i + 1 :] for i in range(len(request))]
    statuses = {_status(unit.answer(v)) for v in variants}
    assert statuses <= {"granted", "rejection"} and "rejection" in statuses


# --- the token's contents -----------------------------------------------------------------------


def test_signed_attributes_bind_the_tst_info_and_the_tsa_certificate(unit: Unit) -> None:
    """RFC 3161 §2.4.2 and RFC 5816: contentType id-ct-TSTInfo, messageDigest, ESS signing-certificate-v2."""
    token = _token(unit.answer(_request()))
    assert token["encap_content_info"]["content_type"].native == "tst_info"
    [signer_info] = token["signer_infos"]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    content = token["encap_content_info"]["content"].contents
    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    assert attrs["message_digest"].native == hashlib.new(digest_algorithm, content).digest()
    [ess] = attrs["signing_certificate_v2"]["certs"]
    assert ess["cert_hash"].native == hashlib.sha256(ca.der(unit.tsa.cert)).digest()
    assert ess["issuer_serial"]["serial_number"].native == unit.tsa.cert.serial_number
    assert signer_info["sid"].chosen["serial_number"].native == unit.tsa.cert.serial_number


def test_gen_time_serial_accuracy_and_imprint(unit: Unit) -> None:
    request = _request()
    now = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    whole = _tst_info(unit.answer(request, now=now, serial=77))
    assert whole["gen_time"].native == now.replace(microsecond=0)
    assert whole["serial_number"].native == 77
    assert whole["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert whole["message_imprint"].dump() == tsp.TimeStampReq.load(request)["message_imprint"].dump()
    assert whole["nonce"].native is None and whole["ordering"].native is False

    fine = _tst_info(unit.answer(request, now=now, accuracy=timedelta(milliseconds=250, microseconds=5)))
    assert fine["gen_time"].native == now
    assert fine["accuracy"].native == {"seconds": None, "millis": 250, "micros": 5}


def test_caller_mistakes_raise(unit: Unit) -> None:
    with pytest.raises(ValueError, match="timezone"):
        unit.answer(_request(), now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="serial"):
        unit.answer(_request(), serial=0)


# --- in-process client -------------------------------------------------------------------------


def test_local_time_stamper_gives_unique_serials_at_the_clock_time(unit: Unit) -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    stamper = LocalTimeStamper(tsa=unit.tsa, chain=unit.chain, policy=POLICY, clock=lambda: moment)
    digest = hashlib.sha256(b"x").digest()
    tokens = [asyncio.run(stamper.async_timestamp(digest, "sha256")) for _ in range(2)]
    infos = [t["content"]["encap_content_info"]["content"].parsed for t in tokens]
    assert {i["gen_time"].native for i in infos} == {moment}
    assert infos[0]["serial_number"].native != infos[1]["serial_number"].native


def test_local_time_stamper_gives_the_token_the_unit_grants_a_request_for(unit: Unit) -> None:
    """Its tokens skip the request and response, not the unit: byte for byte the token of the TimeStampResp
    answering a certReq request without a nonce, at the same time and serial, but for the signature value
    (ECDSA's differs at every signing)."""
    moment = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    stamper = LocalTimeStamper(
        tsa=unit.tsa, chain=unit.chain, policy=POLICY, clock=lambda: moment, serials=lambda: 0x2026
    )
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(DATA).digest(), "sha256"))
    response = tsp.TimeStampResp.load(unit.answer(_request(), now=moment, serial=0x2026))
    given, granted = token["content"], response["time_stamp_token"]["content"]
    for part in ("digest_algorithms", "encap_content_info", "certificates"):
        assert given[part].dump() == granted[part].dump(), part
    [given_info], [granted_info] = given["signer_infos"], granted["signer_infos"]
    for part in ("sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        assert given_info[part].dump() == granted_info[part].dump(), part


def test_local_time_stamper_reports_a_refusal_as_pyhanko_expects(unit: Unit) -> None:
    stamper = LocalTimeStamper(tsa=unit.tsa, chain=unit.chain, policy=POLICY)
    with pytest.raises(TimestampRequestError, match="bad_alg"):
        asyncio.run(stamper.async_timestamp(hashlib.sha1(b"x").digest(), "sha1"))


def test_pades_b_t_signature_with_the_local_time_stamper_verifies(pki: Pki, unit: Unit) -> None:
    signer = KeySigner(pki.signer_key, to_asn1(pki.signer_cert), [to_asn1(pki.issuing.cert), to_asn1(pki.root.cert)])
    stamper = LocalTimeStamper(tsa=unit.tsa, chain=unit.chain, policy=POLICY)
    signed = sign(make_pdf(), signer, SignOptions(level=PadesLevel.B_T, timestamper=stamper))

    report = verify(signed, TrustSettings().with_anchors(ca.pem(pki.root.cert)))
    [signature] = report.signatures
    assert signature.pades_level == "B-T"
    assert signature.timestamp is not None and signature.timestamp.tsa is not None
    assert signature.timestamp.intact and signature.timestamp.valid and signature.timestamp.trusted
    assert unit.name in signature.timestamp.tsa.subject
    assert signature.indication is Indication.TOTAL_PASSED, signature.message
    assert report.valid
