"""Certificates the issuing CA signs name their certificate policy and its CPS (RFC 5280 §4.2.1.4), as
``openssl x509 -text`` shows them."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from cryptography import x509
from pydantic import ValidationError

from esign.db import Database
from esign.settings import CERTIFICATE_POLICY, Settings
from keys import ca, credentials
from keys.credentials import Credential
from tests.support import require
from tests.world import World, build


def _openssl_policies(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(policy OIDs, CPS URIs) in what ``openssl x509 -text`` prints for the certificate."""
    require(shutil.which("openssl") is not None, "openssl is not installed")
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text"], input=ca.pem(cert), capture_output=True, check=True
    ).stdout.decode()
    if "X509v3 Certificate Policies:" not in text:
        return [], []
    section = text.split("X509v3 Certificate Policies:", 1)[1].split("X509v3", 1)[0]
    return re.findall(r"Policy: ([\d.]+)", section), re.findall(r"CPS: (\S+)", section)


def _leaf(db: Database, world: World, purpose: str) -> x509.Certificate:
    member = world.orgs["A"].members["custodian"]
    credential_id = member.seal_id if purpose == "seal" else member.credential_id
    with db.transaction() as session:
        credential = session.get(Credential, credential_id)
        assert credential is not None
        return credentials.certificate(session, credential)


def test_issued_certificates_carry_the_default_policy_with_a_cps_under_the_public_url(
    world: World, db: Database
) -> None:
    expected = ([CERTIFICATE_POLICY], [f"{world.settings.public_url}/pki/cps"])
    for cert in (_leaf(db, world, "signature"), _leaf(db, world, "seal"), world.pki.tsa.cert, world.pki.issuing.cert):
        assert _openssl_policies(cert) == expected, cert.subject
    assert _openssl_policies(world.pki.root.cert) == ([], []), "a trust anchor's policies mean nothing"


def test_the_policy_and_the_cps_are_settings(db: Database, db_settings: Settings) -> None:
    settings = db_settings.model_copy(
        update={"certificate_policy": "1.2.156.112233.1.2", "cps_url": "https://ca.example.gov.cn/cps.pdf"}
    )
    world = build(db, settings)
    expected = (["1.2.156.112233.1.2"], ["https://ca.example.gov.cn/cps.pdf"])
    assert _openssl_policies(_leaf(db, world, "signature")) == expected
    assert _openssl_policies(world.pki.issuing.cert) == expected


def test_a_policy_that_is_not_an_oid_is_refused() -> None:
    with pytest.raises(ValidationError, match="not an object identifier"):
        Settings(certificate_policy="our-policy")
