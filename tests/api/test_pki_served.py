"""The PKI served by ``esign serve`` on a loopback port, checked with openssl's clients and poppler's pdfsig."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from esign.db import Database
from tests.api.cli import ESIGN, esign
from tests.api.served import Served, free_port, served, wait_until_healthy
from tests.conftest import make_pdf
from tests.support import require
from tests.validators import nss_db, pdfsig

OFFICIAL = "李强"
ADMIN = "张伟"
DEMO_PIN = "123456"


@pytest.fixture
def instance(tmp_path: Path, new_database: Callable[[], Database]) -> Iterator[Served]:
    require(shutil.which("openssl") is not None, "openssl is not installed")
    with served(tmp_path, new_database, init=True) as running:
        yield running


@pytest.fixture
def files(instance: Served, tmp_path: Path) -> dict[str, Path]:
    """chain.pem (issuing + root), issuing.pem, root.pem and leaf.pem: the demo official's certificate."""
    chain = httpx.get(f"{instance.url}/pki/ca").content
    issuing_pem, root_pem = (b"-----BEGIN" + part for part in chain.split(b"-----BEGIN")[1:])
    [credential] = httpx.get(f"{instance.url}/v1/credentials", headers=instance.headers(OFFICIAL)).json()
    paths = {
        "chain": chain,
        "issuing": issuing_pem,
        "root": root_pem,
        "leaf": credential["certificate"]["pem"].encode(),
    }
    out = {}
    for name, data in paths.items():
        out[name] = tmp_path / f"{name}.pem"
        out[name].write_bytes(data)
    out["serial"] = Path(credential["certificate"]["serial"])
    return out


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)


def _revoke(instance: Served, serial: str) -> None:
    response = httpx.post(
        f"{instance.url}/v1/certificates/{serial}/revoke",
        headers=instance.headers(ADMIN),
        json={"reason": "keyCompromise"},
    )
    assert response.status_code == 200, response.text


def test_openssl_ocsp_good_then_revoked(instance: Served, files: dict[str, Path], tmp_path: Path) -> None:
    query = [
        "openssl",
        "ocsp",
        "-issuer",
        files["issuing"],
        "-cert",
        files["leaf"],
        "-url",
        f"{instance.url}/pki/ocsp",
        "-CAfile",
        files["chain"],
    ]
    result = _run(*query)
    assert "Response verify OK" in result.stderr, result.stderr
    assert f"{files['leaf']}: good" in result.stdout

    _revoke(instance, str(files["serial"]))
    result = _run(*query)
    assert "Response verify OK" in result.stderr
    assert f"{files['leaf']}: revoked" in result.stdout and "Reason: keyCompromise" in result.stdout


@contextmanager
def _another_server(instance: Served) -> Iterator[str]:
    """A second ``esign serve`` on the same database: another API process behind the same load balancer."""
    url = f"http://127.0.0.1:{free_port()}"
    inherited = {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}
    process = subprocess.Popen(
        [str(ESIGN), "serve", "--port", url.rpartition(":")[2], "--no-worker"],
        env={**instance.env, **inherited, "PATH": str(ESIGN.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_until_healthy(process, url, output=lambda: process.stdout.read() if process.stdout else "")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_revocation_through_one_server_is_answered_by_another(
    instance: Served, files: dict[str, Path], tmp_path: Path
) -> None:
    """Each process keeps pre-produced answers; the revocation signal reaches the other one (SQLite: at its
    next request; PostgreSQL: once the NOTIFY arrives, polled here for a few seconds at most)."""
    with _another_server(instance) as other:

        def status(url: str) -> str:
            result = _run(
                "openssl", "ocsp", "-issuer", files["issuing"], "-cert", files["leaf"], "-url", f"{url}/pki/ocsp",
                "-CAfile", files["chain"],
            )  # fmt: skip
            assert "Response verify OK" in result.stderr and "WARNING" not in result.stderr, result.stderr
            return result.stdout.split(f"{files['leaf']}: ", 1)[1].split()[0]

        assert [status(url) for url in (instance.url, other, instance.url, other)] == ["good"] * 4
        _revoke(instance, str(files["serial"]))
        assert status(instance.url) == "revoked"
        deadline = time.monotonic() + (0 if instance.env.get("ESIGN_DATABASE_URL") is None else 10)
        while (answer := status(other)) != "revoked" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answer == "revoked"


def test_ocsp_answers_are_pre_produced_unless_a_nonce_asks_for_a_fresh_one(
    instance: Served, files: dict[str, Path], tmp_path: Path
) -> None:
    def post(request: Path) -> bytes:
        headers = {"Content-Type": "application/ocsp-request"}
        return httpx.post(f"{instance.url}/pki/ocsp", content=request.read_bytes(), headers=headers).content

    plain, with_nonce = tmp_path / "plain.der", tmp_path / "nonce.der"
    _run("openssl", "ocsp", "-issuer", files["issuing"], "-cert", files["leaf"], "-no_nonce", "-reqout", plain)
    _run("openssl", "ocsp", "-issuer", files["issuing"], "-cert", files["leaf"], "-reqout", with_nonce)
    # On PostgreSQL nothing is kept until the process listens for revocations, a moment after its first answer.
    deadline = time.monotonic() + 10
    while post(plain) != post(plain):
        assert time.monotonic() < deadline, "every answer was signed afresh"
    assert len({post(plain) for _ in range(5)}) == 1, "the same signed response, produced once"
    kept_this_update = ocsp.load_der_ocsp_response(post(plain)).this_update_utc
    time.sleep(1.1)  # thisUpdate has whole seconds
    asked = datetime.now(UTC).replace(microsecond=0)
    answers = {post(with_nonce), post(with_nonce)}
    for answer in answers:
        # Issued after it was asked for, so a signer's validation data gathered after its time-stamp is fresh
        # (EN 319 102-1 §5.2.5.4), while the plain request still gets the kept answer.
        assert ocsp.load_der_ocsp_response(answer).this_update_utc >= asked > kept_this_update
    assert ocsp.load_der_ocsp_response(post(plain)).this_update_utc == kept_this_update
    for answer in answers:
        (tmp_path / "resp.der").write_bytes(answer)
        result = _run(
            "openssl", "ocsp", "-reqin", with_nonce, "-respin", tmp_path / "resp.der", "-CAfile", files["chain"]
        )
        assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr

    unknown = _run(
        "openssl", "ocsp", "-issuer", files["issuing"], "-serial", "0x1234", "-url", f"{instance.url}/pki/ocsp",
        "-CAfile", files["chain"],
    )  # fmt: skip
    assert "Response verify OK" in unknown.stderr and "0x1234: unknown" in unknown.stdout, unknown


def test_ocsp_get_form_and_malformed_requests(instance: Served, files: dict[str, Path], tmp_path: Path) -> None:
    request = tmp_path / "req.der"
    _run("openssl", "ocsp", "-issuer", files["issuing"], "-cert", files["leaf"], "-reqout", request, "-no_nonce")
    encoded = base64.b64encode(request.read_bytes()).decode()
    response = httpx.get(f"{instance.url}/pki/ocsp/{encoded}")
    assert response.headers["content-type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD

    for garbage in (b"", b"not an OCSP request", request.read_bytes()[:20]):
        response = httpx.post(
            f"{instance.url}/pki/ocsp", content=garbage, headers={"Content-Type": "application/ocsp-request"}
        )
        assert response.status_code == 200
        assert (
            ocsp.load_der_ocsp_response(response.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        )
    assert httpx.get(f"{instance.url}/pki/ocsp/%%%").status_code == 200


def test_openssl_ts_query_and_verify(instance: Served, files: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "approval.txt"
    data.write_text("同意 — 2026年11月23日\n")
    query, reply = tmp_path / "req.tsq", tmp_path / "reply.tsr"
    assert _run("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query).returncode == 0
    response = httpx.post(
        f"{instance.url}/pki/tsa", content=query.read_bytes(), headers={"Content-Type": "application/timestamp-query"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/timestamp-reply"
    reply.write_bytes(response.content)

    result = _run("openssl", "ts", "-verify", "-queryfile", query, "-in", reply, "-CAfile", files["chain"])
    assert "Verification: OK" in result.stdout, result.stdout + result.stderr
    result = _run("openssl", "ts", "-verify", "-data", data, "-in", reply, "-CAfile", files["chain"])
    assert "Verification: OK" in result.stdout
    text = _run("openssl", "ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Granted." in text and "Nonce: 0x" in text and "TSA: DirName" in text

    response = httpx.post(
        f"{instance.url}/pki/tsa", content=b"garbage", headers={"Content-Type": "application/timestamp-query"}
    )
    reply.write_bytes(response.content)
    assert "Rejected" in _run("openssl", "ts", "-reply", "-in", reply, "-text").stdout


def test_openssl_verify_with_the_crl_rejects_a_revoked_certificate(
    instance: Served, files: dict[str, Path], tmp_path: Path
) -> None:
    def crl_pem() -> Path:
        der = httpx.get(f"{instance.url}/pki/crl").content
        path = tmp_path / "crl.pem"
        path.write_bytes(x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM))
        return path

    check = ["openssl", "verify", "-crl_check", "-CAfile", files["chain"]]
    result = _run(*check, "-CRLfile", crl_pem(), files["leaf"])
    assert result.returncode == 0 and f"{files['leaf']}: OK" in result.stdout, result.stdout + result.stderr

    _revoke(instance, str(files["serial"]))
    result = _run(*check, "-CRLfile", crl_pem(), files["leaf"])
    assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr
    crl = x509.load_der_x509_crl(httpx.get(f"{instance.url}/pki/crl").content)
    assert crl.next_update_utc is not None and crl.get_revoked_certificate_by_serial_number(
        int(str(files["serial"]), 16)
    )


def test_a_signature_made_here_is_checked_online_by_pdfsig(
    instance: Served, files: dict[str, Path], tmp_path: Path
) -> None:
    response = httpx.post(
        f"{instance.url}/v1/sign",
        headers=instance.headers(OFFICIAL),
        timeout=30,
        files={"file": ("notice.pdf", make_pdf(), "application/pdf")},
        data={"credential_id": _credential_id(instance), "pin": DEMO_PIN, "level": "B-LTA", "reason": "同意"},
    )
    assert response.status_code == 200, response.text
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(response.content)
    nss = nss_db(tmp_path / "nss", [files["root"].read_bytes()])
    [first, *_] = pdfsig(signed, nss)
    assert first.signature_valid and first.certificate_trusted, "pdfsig asked our OCSP responder: good"

    result = esign("verify", signed, "--trust", files["root"], "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"pades_level": "B-LTA"' in result.stdout and '"fetching_allowed": false' in result.stdout

    _revoke(instance, str(files["serial"]))
    [first, *_] = pdfsig(signed, nss)
    assert first.signature_valid and not first.certificate_trusted, "pdfsig now hears: revoked"


def _credential_id(instance: Served) -> str:
    [credential] = httpx.get(f"{instance.url}/v1/credentials", headers=instance.headers(OFFICIAL)).json()
    return str(credential["id"])


def test_v1_sign_without_a_level_is_b_lta_and_verifies_offline_years_later(
    instance: Served, files: dict[str, Path], tmp_path: Path
) -> None:
    def sign(**extra: str) -> httpx.Response:
        return httpx.post(
            f"{instance.url}/v1/sign",
            headers=instance.headers(OFFICIAL),
            timeout=30,
            files={"file": ("notice.pdf", make_pdf(), "application/pdf")},
            data={"credential_id": _credential_id(instance), "pin": DEMO_PIN, **extra},
        )

    refused = sign(level="B-B")
    assert refused.status_code == 422 and "B-T" in refused.json()["message"], refused.text
    response = sign()
    assert response.status_code == 200, response.text
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(response.content)

    result = esign("verify", signed, "--trust", files["root"], "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    [signature] = report["signatures"]
    assert signature["pades_level"] == "B-LTA"
    data = report["revocation_data"]
    assert {d["kind"] for d in data} == {"crl", "ocsp"}, data
    signed_at = datetime.fromisoformat(signature["timestamp"]["time"])
    last_stamp = datetime.fromisoformat(report["document_timestamps"][-1]["time"])
    issued = [datetime.fromisoformat(d["issued_at"]) for d in data]
    assert min(issued) >= signed_at, "every CRL and OCSP response was issued after the signature time-stamp"
    assert any(t >= last_stamp for t in issued), "the last time-stamp's unit has data issued after it"

    for days in (2, 3 * 365 + 2):
        at = (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")
        result = esign("verify", signed, "--trust", files["root"], "--at", at)
        assert result.returncode == 0, result.stdout + result.stderr
        answer = httpx.post(
            f"{instance.url}/v1/verify",
            timeout=30,
            files={"file": ("signed.pdf", response.content, "application/pdf")},
            data={"at": at},
        ).json()
        assert answer["verdict"] == "valid", answer["summary_en"]
        assert datetime.fromisoformat(answer["validation_time"]) == datetime.fromisoformat(at)
