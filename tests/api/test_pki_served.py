"""The PKI served by ``esign serve`` on a loopback port, checked with openssl's clients and poppler's pdfsig."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from esign.db import Database
from tests.api.cli import esign
from tests.api.served import Served, served
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
