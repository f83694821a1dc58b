"""The root and issuing CA keys in a PKCS#11 token (SoftHSM2, ``ESIGN_CA_TOKEN``): made there, never in the
database, and every certificate, CRL and signature's validation data they sign is accepted by the ``openssl``
clients and by pyhanko's long-term validator, offline, three years on."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11_errors
from pydantic import SecretStr
from sqlalchemy import select

from esign.db import Database
from esign.ids import now
from esign.report import Verdict
from esign.settings import Settings
from esign.verify import verify
from keys import authorities, ca, ca_token, certificates, revocation
from keys.authorities import IssuedCertificate, PkiAuthority
from keys.errors import PkiNotInitialised
from tests.documents.circulation.test_long_term import THREE_YEARS, _offline, _pyhanko, _route
from tests.keys.softhsm import SoftHsm, Token
from tests.world import World


@pytest.fixture
def token(hsm: SoftHsm) -> Token:
    return hsm.new_token("ca")


@pytest.fixture
def db_settings(db_settings: Settings, hsm: SoftHsm, token: Token) -> Settings:
    return db_settings.model_copy(
        update={"pkcs11_module": hsm.module, "ca_token": token.label, "ca_token_pin": SecretStr(token.user_pin)}
    )


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def test_the_ca_keys_are_made_in_the_token_and_never_leave_it(
    world: World, db: Database, hsm: SoftHsm, token: Token
) -> None:
    with db.transaction() as session:
        rows = {row.name: row for row in session.scalars(select(PkiAuthority))}
    for name in (authorities.ROOT, authorities.ISSUING):
        assert rows[name].encrypted_key == b"" and (rows[name].key_uri or "").startswith("pkcs11:token=ca-")
    for name in (authorities.TSA, authorities.OCSP, authorities.REGISTRY):
        assert rows[name].key_uri is None and len(rows[name].encrypted_key) > 100

    lib = pkcs11.lib(str(hsm.module))
    with lib.get_token(token_label=token.label).open(user_pin=token.user_pin) as session:
        for label in ca_token.KEY_LABELS.values():
            [key] = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
            assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
            with pytest.raises(p11_errors.AttributeSensitive):
                key[Attribute.VALUE]
    assert isinstance(world.pki.root.key, ca_token.TokenCaKey)
    assert isinstance(world.pki.issuing.key, ca_token.TokenCaKey)


def test_openssl_accepts_the_certificates_and_crls_the_token_signs(
    api: TestClient, world: World, db: Database, tmp_path: Path
) -> None:
    root, issuing = tmp_path / "root.pem", tmp_path / "issuing.pem"
    root.write_bytes(ca.pem(world.pki.root.cert))
    issuing.write_bytes(ca.pem(world.pki.issuing.cert))
    with db.transaction() as session:
        issued = session.scalars(select(IssuedCertificate).where(IssuedCertificate.profile == "signature")).first()
        assert issued is not None
        leaf_der, serial = issued.certificate, issued.serial
    leaf = tmp_path / "leaf.der"
    leaf.write_bytes(leaf_der)
    assert _openssl("x509", "-inform", "DER", "-in", str(leaf), "-out", str(tmp_path / "leaf.pem")).returncode == 0

    def verified() -> subprocess.CompletedProcess[str]:
        crl_args = []
        for name, path in (("issuing", "/pki/crl"), ("root", "/pki/crl/root")):
            served = api.get(path)
            assert served.status_code == 200, served.text
            der = tmp_path / f"{name}.crl"
            der.write_bytes(served.content)
            pem_crl = tmp_path / f"{name}.crl.pem"
            signer = root if name == "root" else issuing
            converted = _openssl("crl", "-inform", "DER", "-in", str(der), "-out", str(pem_crl), "-CAfile", str(signer))
            assert "verify OK" in converted.stdout + converted.stderr, converted.stderr
            crl_args += ["-CRLfile", str(pem_crl)]
        return _openssl(
            "verify",
            "-crl_check_all",
            "-CAfile",
            str(root),
            "-untrusted",
            str(issuing),
            *crl_args,
            str(tmp_path / "leaf.pem"),
        )

    first = verified()
    assert first.returncode == 0 and "OK" in first.stdout, first.stdout + first.stderr
    with db.transaction() as session:
        certificates.revoke(session, serial=serial, reason="keyCompromise", actor=None)
    revoked = verified()
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr


def test_a_route_signed_under_the_token_ca_verifies_offline_three_years_on(
    api: TestClient, world: World, db: Database, db_settings: Settings
) -> None:
    dispatched = _route(api, world, db, db_settings, "B-LTA")
    report = verify(dispatched.pdf, _offline(world), at=dispatched.made + THREE_YEARS)
    assert report.verdict is Verdict.VALID, report.summary_en
    assert [s.pades_level for s in report.signatures] == ["B-LTA"] * 3
    assert _pyhanko(dispatched.pdf, world, dispatched.made + THREE_YEARS) == ["PASSED"] * 3


def test_a_wrong_ca_token_pin_is_the_deployment_s_fault(
    world: World, db: Database, db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authorities, "_cache", {})
    wrong = db_settings.model_copy(update={"ca_token_pin": SecretStr("000000")})
    with db.transaction() as session, pytest.raises(PkiNotInitialised, match="refused ESIGN_CA_TOKEN_PIN"):
        authorities.load(session, wrong)
    unset = db_settings.model_copy(update={"ca_token": None})
    with db.transaction() as session, pytest.raises(PkiNotInitialised, match="set ESIGN_CA_TOKEN, ESIGN_CA_TOKEN_PIN"):
        authorities.load(session, unset)


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_held_key_of_either_kind_signs_certificates_and_crls(db_settings: Settings, kind: ca.KeyKind) -> None:
    root = ca.new_root(
        "test root",
        organisation="test",
        urls=ca.PkiUrls("http://127.0.0.1:9"),
        key=ca_token.generate(db_settings, authorities.ROOT, kind=kind),
    )
    root.cert.verify_directly_issued_by(root.cert)
    moment = now()
    revoked = revocation.Revoked(serial=7, revoked_at=moment, reason=x509.ReasonFlags.key_compromise)
    crl = x509.load_der_x509_crl(
        revocation.build_crl(root, [revoked], number=1, this_update=moment, next_update=moment + timedelta(days=1))
    )
    assert crl.is_signature_valid(root.cert.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(7) is not None
