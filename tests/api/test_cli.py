"""The ``esign`` command line: sign, verify (exit codes 0/1/2), audit verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from esign import audit
from esign.db import Database
from esign.identity import Actor
from tests.api.cli import database_env, esign, initialised
from tests.conftest import make_pdf
from tests.esign import tampering
from tests.esign.etsi_xml import assert_same_indications
from tests.pki import TestPki
from tests.validators import pdfsig


@pytest.fixture
def files(pki: TestPki, tmp_path: Path) -> dict[str, Path]:
    paths = pki.write(tmp_path / "keys", pki.signer("张三"), password=b"p12-secret")
    paths["in"] = tmp_path / "in.pdf"
    paths["in"].write_bytes(make_pdf())
    return paths


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESIGN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ESIGN_TRUST_ANCHORS", raising=False)


def test_sign_visible_then_verify(files: dict[str, Path], tmp_path: Path, nssdir: Path) -> None:
    out = tmp_path / "out.pdf"
    result = esign(
        "sign",
        "--level",
        "B-B",
        files["in"],
        "-o",
        out,
        "--key",
        files["key"],
        "--cert",
        files["cert"],
        "--chain",
        files["chain"],
        "--visible",
        "1:360,60,560,160",
        "--seal",
        "广东省人民政府办公厅",
        "--reason",
        "同意",
    )
    assert result.returncode == 0, result.stderr
    [sig] = pdfsig(out, nssdir)
    assert sig.signature_valid and sig.certificate_trusted

    result = esign("verify", out, "--trust", files["root"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID" in result.stdout and "TOTAL-PASSED" in result.stdout


def test_sign_with_pkcs12_and_certify(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "certified.pdf"
    result = esign(
        "sign",
        "--level",
        "B-B",
        files["in"],
        "-o",
        out,
        "--p12",
        files["p12"],
        "--certify",
        "form",
        env={"ESIGN_KEY_PASSWORD": "p12-secret"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(esign("verify", out, "--trust", files["root"], "--json").stdout)
    assert report["signatures"][0]["type"] == "certification"
    assert report["signatures"][0]["docmdp"] == "form_filling"


def test_wrong_pkcs12_password_is_one_clear_line(files: dict[str, Path], tmp_path: Path) -> None:
    result = esign(
        "sign", "--level", "B-B", files["in"], "-o", tmp_path / "x.pdf", "--p12", files["p12"], "--password", "guess"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "wrong password" in lines[0] and "signer.p12" in lines[0], result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_verify_exit_codes(files: dict[str, Path], tmp_path: Path) -> None:
    signed = tmp_path / "signed.pdf"
    assert (
        esign(
            "sign",
            "--level",
            "B-B",
            files["in"],
            "-o",
            signed,
            "--key",
            files["key"],
            "--cert",
            files["cert"],
            "--chain",
            files["chain"],
        ).returncode
        == 0
    )

    changed = tmp_path / "changed.pdf"
    changed.write_bytes(tampering.add_page(signed.read_bytes()))
    result = esign("verify", changed, "--trust", files["root"], "--json")
    assert result.returncode == 1
    [sig] = json.loads(result.stdout)["signatures"]
    assert sig["modifications"]["allowed"] is False

    assert esign("verify", signed).returncode == 1, "no trust anchor: not confirmed"
    result = esign("verify", signed, "--json")
    assert json.loads(result.stdout)["verdict"] == "indeterminate", "the advice goes to stderr, not into the JSON"
    [advice] = result.stderr.strip().splitlines()
    assert "--trust ROOT.pem" in advice and "/pki/ca" in advice, advice
    assert "trust anchor" not in esign("verify", signed, "--trust", files["root"]).stderr
    assert esign("verify", files["in"], "--trust", files["root"]).returncode == 1, "unsigned"

    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"definitely not a PDF")
    result = esign("verify", garbage)
    assert result.returncode == 2 and "not a PDF" in result.stderr
    assert esign("verify", tmp_path / "missing.pdf").returncode == 2


@pytest.mark.parametrize(
    "content",
    [b"\x30\x03\x02\x01\x05", b"hello\n", b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n", b""],
    ids=["der-not-a-certificate", "text", "broken-pem", "empty"],
)
def test_a_bad_trust_file_is_named_in_plain_words(files: dict[str, Path], tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "root.pem"
    bad.write_bytes(content)
    key = tmp_path / "key.der"
    result = esign("verify", files["in"], "--trust", bad)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"the trust anchor file {bad} is not an X.509 certificate in PEM or DER form" in line, line
    assert "--trust ROOT.pem" in line and "tag should" not in line and "Insufficient data" not in line, line
    # A private key in DER is a SEQUENCE too: asn1crypto takes it for a certificate until something reads it.
    private = serialization.load_pem_private_key(files["key"].read_bytes(), password=None)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    result = esign("verify", files["in"], "--trust", key)
    assert result.returncode == 2 and "trust anchor file" in result.stderr, result.stderr


def test_verify_prints_the_etsi_report(files: dict[str, Path], tmp_path: Path) -> None:
    signed = tmp_path / "signed.pdf"
    args = ("--key", files["key"], "--cert", files["cert"], "--chain", files["chain"])
    assert esign("sign", "--level", "B-B", files["in"], "-o", signed, *args).returncode == 0
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(tampering.flip_byte(signed.read_bytes(), b"Hello, signed world"))

    for path, exit_code in ((signed, 0), (tampered, 1)):
        result = esign("verify", path, "--trust", files["root"], "--format", "etsi")
        assert result.returncode == exit_code, result.stderr
        as_json = esign("verify", path, "--trust", files["root"], "--format", "json")
        assert as_json.returncode == exit_code
        assert_same_indications(result.stdout.encode(), json.loads(as_json.stdout))


def test_audit_verify_names_the_broken_event(db: Database) -> None:
    with db.transaction() as session:
        for n in range(4):
            audit.append(
                session,
                actor=Actor.system("", "clerk"),
                action="document.registered",
                subject=f"doc-{n}",
                payload={"n": n},
            )
    env = database_env(db)
    result = esign("audit", "verify", env=env)
    assert result.returncode == 0 and "4 events" in result.stdout

    with db.transaction() as session:
        session.execute(text("UPDATE audit_events SET actor = 'intruder' WHERE seq = 3"))
    result = esign("audit", "verify", env=env)
    assert result.returncode == 1
    assert "seq 3" in result.stderr and "edited" in result.stderr


@pytest.fixture
def service_env(db: Database, tmp_path: Path) -> dict[str, str]:
    """A set-up service whose TSA and CA ``esign sign --level`` draws on."""
    return initialised(db, tmp_path / "var")


def test_sign_level_defaults_to_b_lta_and_takes_the_service_tsa(
    files: dict[str, Path], tmp_path: Path, service_env: dict[str, str]
) -> None:
    key = ("--key", files["key"], "--cert", files["cert"], "--chain", files["chain"])
    refused = esign("sign", files["in"], "-o", tmp_path / "lta.pdf", *key, env=service_env)
    assert refused.returncode == 2 and "did not issue" in refused.stderr and "B-T" in refused.stderr, refused.stderr
    assert not (tmp_path / "lta.pdf").exists()

    stamped, plain = tmp_path / "t.pdf", tmp_path / "b.pdf"
    assert esign("sign", "--level", "B-T", files["in"], "-o", stamped, *key, env=service_env).returncode == 0
    assert esign("sign", "--level", "B-B", files["in"], "-o", plain, *key, env=service_env).returncode == 0
    service_root = tmp_path / "service-root.pem"
    chain = esign("pki", "show", env=service_env).stdout
    service_root.write_text("-----BEGIN" + chain.split("-----BEGIN")[-1])
    # the signer's certificate is valid for a year: in three years only the time-stamp proves the signature
    later = (datetime.now(UTC) + timedelta(days=3 * 365)).date().isoformat()
    trust = ("--trust", files["root"], "--trust", service_root)
    report = json.loads(esign("verify", stamped, *trust, "--json", "--at", later, env=service_env).stdout)
    assert report["valid"] and report["signatures"][0]["pades_level"] == "B-T", report["summary_en"]
    assert report["validation_time"].startswith(later)
    result = esign("verify", plain, *trust, "--json", "--at", later, env=service_env)
    assert result.returncode == 1
    [signature] = json.loads(result.stdout)["signatures"]
    assert signature["sub_indication"] == "OUT_OF_BOUNDS_NO_POE", signature
