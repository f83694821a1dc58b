"""The operator puts the CA keys in a PKCS#11 token (SoftHSM2): ``esign init`` makes them there, and
``esign pki move-ca-keys`` moves an existing CA's keys there; the CA keeps its certificates either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from esign.db import Database
from esign.settings import Settings
from keys import authorities, ca_token, certificates
from keys.authorities import PkiAuthority
from tests.api.cli import database_env, esign, initialised
from tests.keys.softhsm import SoftHsm, Token


@pytest.fixture
def token(hsm: SoftHsm) -> Token:
    return hsm.new_token("ca")


def _token_env(hsm: SoftHsm, token: Token) -> dict[str, str]:
    return {"ESIGN_PKCS11_MODULE": str(hsm.module), "ESIGN_CA_TOKEN": token.label, "ESIGN_CA_TOKEN_PIN": token.user_pin}


def _rows(db: Database) -> dict[str, PkiAuthority]:
    with db.transaction() as session:
        return {row.name: row for row in session.scalars(select(PkiAuthority))}


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["ESIGN_DATA_DIR"]),
        database_url=env["ESIGN_DATABASE_URL"],
        database_schema=env.get("ESIGN_DATABASE_SCHEMA"),
        ca_passphrase=env["ESIGN_CA_PASSPHRASE"],
        pkcs11_module=Path(env["ESIGN_PKCS11_MODULE"]),
        ca_token=env["ESIGN_CA_TOKEN"],
        ca_token_pin=env["ESIGN_CA_TOKEN_PIN"],
    )


def test_init_makes_the_ca_keys_in_the_token(db: Database, tmp_path: Path, hsm: SoftHsm, token: Token) -> None:
    env = {
        **database_env(db),
        "ESIGN_DATA_DIR": str(tmp_path / "var"),
        "ESIGN_CA_PASSPHRASE": "cli test passphrase",
        **_token_env(hsm, token),
    }
    result = esign("init", "--no-demo", env=env)
    assert result.returncode == 0, result.stderr
    assert f"generated in PKCS#11 token {token.label!r}" in result.stdout
    rows = _rows(db)
    assert rows["root"].encrypted_key == b"" and rows["issuing"].encrypted_key == b""
    shown = esign("pki", "show", env=env)
    assert shown.returncode == 0 and shown.stdout.count("BEGIN CERTIFICATE") == 2, shown.stderr

    wrong = esign("pki", "show", env={**env, "ESIGN_CA_TOKEN_PIN": "000000"})
    assert wrong.returncode == 2 and "refused ESIGN_CA_TOKEN_PIN" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_an_existing_ca_moves_into_the_token_and_keeps_its_certificates(
    db: Database, tmp_path: Path, hsm: SoftHsm, token: Token
) -> None:
    env = initialised(db, tmp_path / "var")
    before = esign("pki", "show", env=env).stdout
    assert all(row.key_uri is None and row.encrypted_key for row in _rows(db).values())

    unset = esign("pki", "move-ca-keys", env=env)
    assert unset.returncode == 2 and "ESIGN_CA_TOKEN" in unset.stderr

    env = {**env, **_token_env(hsm, token)}
    moved = esign("pki", "move-ca-keys", env=env)
    assert moved.returncode == 0 and f"moved the issuing and root CA key(s) into token {token.label!r}" in moved.stdout
    again = esign("pki", "move-ca-keys", env=env)
    assert again.returncode == 0 and "already" in again.stdout, again.stderr

    rows = _rows(db)
    for name in ("root", "issuing"):
        assert rows[name].encrypted_key == b"" and (rows[name].key_uri or "").startswith("pkcs11:")
    assert rows["tsa"].key_uri is None and rows["tsa"].encrypted_key
    assert esign("pki", "show", env=env).stdout == before

    settings = _settings(env)
    with db.transaction() as session:
        pki = authorities.load(session, settings)
        crl = x509.load_der_x509_crl(certificates.crl(session, pki=pki, settings=settings))
    assert isinstance(pki.issuing.key, ca_token.TokenCaKey)
    public = pki.issuing.cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and crl.is_signature_valid(public)
