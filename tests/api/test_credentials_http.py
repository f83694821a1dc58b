"""Key custody through HTTP: enrolment, PIN lockout and unlock, PIN change, signing sessions, revocation."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from esign.db import Database
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca, envelope
from keys.credentials import Credential, context
from tests.validators import nss_db, pdfsig
from tests.world import PIN, World


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


def _sign(api: TestClient, headers: dict[str, str], pdf: bytes, credential_id: str, **form: str):
    return api.post(
        "/v1/sign",
        headers=headers,
        files={"file": ("doc.pdf", pdf, "application/pdf")},
        data={"credential_id": credential_id, **form},
    )


def _trust(world: World) -> TrustSettings:
    return TrustSettings().with_anchors(ca.pem(world.pki.root.cert))


def test_pin_countdown_lock_and_admin_unlock(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    a = world.orgs["A"]
    official = a.members["official"]
    for left in (4, 3, 2, 1):
        response = _sign(api, official.headers, one_page_pdf, official.credential_id, pin="000000")
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "pin_invalid" and response.json()["tries_left"] == left
    response = _sign(api, official.headers, one_page_pdf, official.credential_id, pin="000000")
    assert response.status_code == 423 and response.json()["code"] == "credential_locked"
    response = _sign(api, official.headers, one_page_pdf, official.credential_id, pin=PIN)
    assert response.status_code == 423, "locked even for the right PIN"
    assert api.get(f"/v1/credentials/{official.credential_id}", headers=official.headers).json()["status"] == "locked"

    assert api.post(f"/v1/credentials/{official.credential_id}/unlock", headers=official.headers).status_code == 403
    response = api.post(f"/v1/credentials/{official.credential_id}/unlock", headers=a.members["admin"].headers)
    assert response.status_code == 200 and response.json()["status"] == "active"
    response = _sign(api, official.headers, one_page_pdf, official.credential_id, pin=PIN, reason="同意")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert verify(response.content, _trust(world)).valid


def test_a_right_pin_resets_the_count(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    official = world.orgs["A"].members["official"]
    assert _sign(api, official.headers, one_page_pdf, official.credential_id, pin="999999").json()["tries_left"] == 4
    assert _sign(api, official.headers, one_page_pdf, official.credential_id, pin=PIN).status_code == 200
    assert _sign(api, official.headers, one_page_pdf, official.credential_id, pin="999999").json()["tries_left"] == 4


def test_only_the_holder_signs_with_a_personal_credential(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    a = world.orgs["A"]
    response = _sign(api, a.members["leader"].headers, one_page_pdf, a.members["official"].credential_id, pin=PIN)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    response = _sign(
        api, world.orgs["B"].members["official"].headers, one_page_pdf, a.members["official"].credential_id, pin=PIN
    )
    assert response.status_code == 404


def test_changing_the_pin_re_encrypts_the_key(api: TestClient, world: World, db: Database, one_page_pdf: bytes) -> None:
    official = world.orgs["A"].members["official"]
    with db.transaction() as session:
        before = session.get(Credential, official.credential_id).encrypted_key
    path = f"/v1/credentials/{official.credential_id}/pin"
    response = api.post(path, headers=official.headers, json={"old_pin": "111111", "new_pin": "13572468"})
    assert response.status_code == 403 and response.json()["tries_left"] == 4
    response = api.post(path, headers=official.headers, json={"old_pin": PIN, "new_pin": "123"})
    assert response.status_code == 422
    response = api.post(path, headers=official.headers, json={"old_pin": PIN, "new_pin": "13572468"})
    assert response.status_code == 200 and response.json()["failed_pin_attempts"] == 0
    with db.transaction() as session:
        after = session.get(Credential, official.credential_id).encrypted_key
    assert after != before
    assert _sign(api, official.headers, one_page_pdf, official.credential_id, pin=PIN).status_code == 403
    assert _sign(api, official.headers, one_page_pdf, official.credential_id, pin="13572468").status_code == 200


def test_the_stored_key_is_never_in_the_clear(world: World, db: Database, db_settings: Settings) -> None:
    with db.transaction() as session:
        rows = session.scalars(select(Credential)).all()
        keys = [
            envelope.open_bytes(c.encrypted_key, PIN.encode(), context=context(c.id)) for c in rows if c.encrypted_key
        ]
        stored = [c.encrypted_key for c in rows if c.encrypted_key]
    assert len(keys) == 8
    for envelope_bytes in stored:
        assert json.loads(envelope_bytes)["kdf"] == "scrypt"
    dumps = [p.read_bytes() for p in Path(db_settings.data_dir).rglob("*") if p.is_file()] + stored
    if db.dialect == "sqlite":
        database_file = Path(db.url.database or "")
        sqlite_files = list(database_file.parent.glob(database_file.name + "*"))
        assert sqlite_files, "the SQLite file and its WAL are checked"
        # Read by another process: closing a descriptor of a file drops every POSIX lock this process holds on
        # it (fcntl(2)), SQLite's included. Another process opening the database would then think itself alone
        # and reset the shared-memory file under this one's live connections: "disk I/O error", or SIGBUS.
        dumps += [subprocess.run(["cat", str(p)], check=True, capture_output=True).stdout for p in sqlite_files]
    for der in keys:
        for secret in _secret_forms(der):
            for dump in dumps:
                assert secret not in dump


def _secret_forms(pkcs8: bytes) -> list[bytes]:
    """The key's DER, PEM body, and its secret number, raw and as hex."""
    key = serialization.load_der_private_key(pkcs8, password=None)
    numbers = key.private_numbers()
    secret = numbers.private_value if hasattr(numbers, "private_value") else numbers.d
    raw = secret.to_bytes((secret.bit_length() + 7) // 8, "big")
    return [pkcs8, base64.b64encode(pkcs8)[:60], raw, raw.hex().encode()]


def test_a_signing_session_serves_a_batch_then_ends(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    leader = world.orgs["A"].members["leader"]
    response = api.post(
        f"/v1/credentials/{leader.credential_id}/sessions",
        headers=leader.headers,
        json={"pin": PIN, "max_signatures": 2, "ttl_seconds": 60},
    )
    assert response.status_code == 201, response.text
    secret = response.json()["session"]
    for _ in range(2):
        signed = _sign(api, leader.headers, one_page_pdf, leader.credential_id, session=secret)
        assert signed.status_code == 200
        assert verify(signed.content, _trust(world)).valid
    spent = _sign(api, leader.headers, one_page_pdf, leader.credential_id, session=secret)
    assert spent.status_code == 422 and "no signatures left" in spent.json()["message"]
    other = world.orgs["A"].members["official"]
    assert _sign(api, other.headers, one_page_pdf, other.credential_id, session=secret).status_code == 404


def test_the_seal_is_drawn_and_names_the_organisation(
    api: TestClient, world: World, one_page_pdf: bytes, tmp_path: Path
) -> None:
    custodian = world.orgs["A"].members["custodian"]
    response = _sign(api, custodian.headers, one_page_pdf, custodian.seal_id, pin=PIN, visible="1:380,80,520,220")
    assert response.status_code == 200
    report = verify(response.content, _trust(world))
    assert report.valid
    assert world.orgs["A"].name in report.signatures[0].signer.subject
    path = tmp_path / "sealed.pdf"
    path.write_bytes(response.content)
    # poppler 22 lists the B-LTA document time-stamps too, but cannot check them
    [result, *_] = pdfsig(path, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    assert result.signature_valid and result.certificate_trusted

    official = world.orgs["A"].members["official"]
    response = _sign(api, official.headers, one_page_pdf, custodian.seal_id, pin=PIN)
    assert response.status_code == 403, "only seal custodians use the seal"


def test_revoked_credentials_cannot_sign(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    a = world.orgs["A"]
    official = a.members["official"]
    serial = api.get(f"/v1/credentials/{official.credential_id}", headers=official.headers).json()["certificate"][
        "serial"
    ]
    assert (
        api.post(
            f"/v1/certificates/{serial}/revoke", headers=official.headers, json={"reason": "keyCompromise"}
        ).status_code
        == 403
    )
    response = api.post(
        f"/v1/certificates/{serial}/revoke", headers=a.members["admin"].headers, json={"reason": "keyCompromise"}
    )
    assert response.status_code == 200 and response.json()["reason"] == "keyCompromise"
    response = _sign(api, official.headers, one_page_pdf, official.credential_id, pin=PIN)
    assert response.status_code == 409 and response.json()["code"] == "credential_unusable"
    again = api.post(
        f"/v1/certificates/{serial}/revoke", headers=a.members["admin"].headers, json={"reason": "keyCompromise"}
    )
    assert again.status_code == 409


def test_enrolment_through_the_api(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    clerk = a.members["clerk"]
    assert api.post("/v1/credentials", headers=clerk.headers, json={"pin": PIN}).status_code == 403
    leader = a.members["leader"]
    assert api.post("/v1/credentials", headers=leader.headers, json={"pin": "12"}).status_code == 422
    assert api.post("/v1/credentials", headers=leader.headers, json={"pin": PIN, "purpose": "seal"}).status_code == 403
    response = api.post("/v1/credentials", headers=leader.headers, json={"pin": PIN})
    assert response.status_code == 201
    body = response.json()
    assert body["purpose"] == "signature" and body["status"] == "active" and body["official_id"] == leader.official_id
    assert "BEGIN CERTIFICATE" in body["certificate"]["pem"] and body["chain_pem"].count("BEGIN CERTIFICATE") == 2
