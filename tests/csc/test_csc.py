"""The CSC API in process: each version's shapes, batches, every algorithm, and every refusal.

Signatures are checked with ``cryptography`` against the certificate ``credentials/info`` hands out; a
refusal is checked to produce no signature and to spend nothing (the same SAD then signs its full count).
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import threading
from datetime import timedelta
from typing import Any

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api.app import create_app
from esign import audit
from esign.audit import AuditEvent
from esign.db import Database
from esign.ids import now
from esign.settings import Settings
from keys import credentials, csc
from keys.credentials import Credential, Purpose, Status, Storage
from keys.csc import CscRefused, Refusal, SignatureActivation
from keys.signing_process import signing_process
from tests.csc.helpers import (
    ECDSA_SHA256,
    SHA256,
    SHA384,
    SHA512,
    authorize,
    b64,
    call,
    certificate,
    digests,
    pss_params,
    sign_hash,
    verifies,
)
from tests.keys.softhsm import MODULE, SoftHsm
from tests.world import PIN, World, actor_for

SHA256_RSA, SHA384_RSA, SHA512_RSA = "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"
RSA_PSS, RSA_ENCRYPTION = "1.2.840.113549.1.1.10", "1.2.840.113549.1.1.1"
ECDSA_SHA384, ECDSA_SHA512 = "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"
P256 = "1.2.840.10045.3.1.7"


def _member(world: World, name: str, org: str = "A") -> tuple[str, str]:
    """(token, signature credential id) of a world member."""
    member = world.orgs[org].members[name]
    assert member.credential_id is not None
    return member.token, member.credential_id


def _refused(response: Any, description: str, *, status: int = 400, error: str = "invalid_request") -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["error"] == error and body["error_description"] == description, body
    assert "signatures" not in body and "SAD" not in body
    return body


def _left(db: Database, sad: str) -> int | None:
    with db.transaction() as session:
        record = session.scalar(
            select(SignatureActivation).where(
                SignatureActivation.secret_hash == hashlib.sha256(sad.encode()).hexdigest()
            )
        )
        return None if record is None else record.signatures_left


def _signed_events(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).where(AuditEvent.action == "credential.csc_signed")) or 0)


# --- shapes -----------------------------------------------------------------------------------------


def test_info_answers_without_a_token_in_each_version(client: TestClient) -> None:
    for method in ("GET", "POST"):
        v1 = client.request(method, "/csc/v1/info").json()
        v2 = client.request(method, "/csc/v2/info").json()
        assert v1["specs"] == "1.0.4.0" and v2["specs"] == "2.0.0.2"
        for body in (v1, v2):
            assert body["authType"] == ["external"] and body["region"] == "CN" and body["lang"] == "zh-CN"
            assert set(body["methods"]) == {
                "info",
                "credentials/list",
                "credentials/info",
                "credentials/authorize",
                "signatures/signHash",
            }
        assert "signAlgorithms" not in v1
        assert {ECDSA_SHA256, SHA256_RSA, RSA_PSS} <= set(v2["signAlgorithms"]["algos"])
        assert v2["asynchronousOperationMode"] is False


def test_list_and_info_in_each_version(client: TestClient, world: World) -> None:
    token, credential_id = _member(world, "official")
    custodian = world.orgs["A"].members["custodian"]

    assert call(client, "v1", "credentials/list", token).json() == {"credentialIDs": [credential_id]}
    both = call(client, "v1", "credentials/list", custodian.token).json()["credentialIDs"]
    assert set(both) == {custodian.credential_id, custodian.seal_id}
    page = call(client, "v1", "credentials/list", custodian.token, {"maxResults": 1}).json()
    rest = call(
        client, "v1", "credentials/list", custodian.token, {"maxResults": 1, "pageToken": page["nextPageToken"]}
    ).json()
    assert page["credentialIDs"] + rest["credentialIDs"] == both and "nextPageToken" not in rest

    info = call(client, "v1", "credentials/info", token, {"credentialID": credential_id, "certInfo": True}).json()
    assert info["key"] == {
        "status": "enabled",
        "algo": [ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512],
        "len": 256,
        "curve": P256,
    }
    assert info["authMode"] == "explicit" and info["PIN"]["presence"] == "true" and info["OTP"] == {"presence": "false"}
    assert info["multisign"] == csc.MAX_SIGNATURES and info["SCAL"] == "1"
    [der] = [base64.b64decode(c) for c in info["cert"]["certificates"]]
    cert = x509.load_der_x509_certificate(der)
    assert info["cert"]["status"] == "valid" and info["cert"]["subjectDN"] == cert.subject.rfc4514_string()
    assert int(info["cert"]["serialNumber"], 16) == cert.serial_number and len(info["cert"]["validTo"]) == 15

    chain = call(
        client, "v1", "credentials/info", token, {"credentialID": credential_id, "certificates": "chain"}
    ).json()
    assert [base64.b64decode(c) for c in chain["cert"]["certificates"]][1:] == [
        c.public_bytes(serialization.Encoding.DER) for c in world.pki.chain
    ]
    assert "issuerDN" not in chain["cert"]
    none = call(client, "v1", "credentials/info", token, {"credentialID": credential_id, "certificates": "none"}).json()
    assert "certificates" not in none["cert"]

    v2 = call(client, "v2", "credentials/info", token, {"credentialID": credential_id}).json()
    assert v2["auth"]["mode"] == "explicit" and [o["id"] for o in v2["auth"]["objects"]] == ["PIN"]
    assert v2["key"]["status"] == "enabled" and len(v2["cert"]["certificates"]) == 1
    assert "authMode" not in v2 and "credentialID" not in v2
    listed = call(client, "v2", "credentials/list", token, {"credentialInfo": True, "certificates": "chain"}).json()
    assert listed["credentialIDs"] == [credential_id]
    [entry] = listed["credentialInfos"]
    assert entry["credentialID"] == credential_id and len(entry["cert"]["certificates"]) == 3


def test_a_credential_of_someone_else_is_not_there(client: TestClient, world: World) -> None:
    token, _ = _member(world, "official")
    _, leaders = _member(world, "leader")
    _, foreign = _member(world, "official", "B")
    for credential_id in (leaders, foreign, "no-such-id"):
        _refused(
            call(client, "v1", "credentials/info", token, {"credentialID": credential_id}),
            "Invalid parameter credentialID",
        )
        _refused(
            call(
                client,
                "v2",
                "credentials/authorize",
                token,
                {"credentialID": credential_id, "numSignatures": 1, "authData": [{"id": "PIN", "value": PIN}]},
            ),
            "Invalid parameter credentialID",
        )
    _refused(call(client, "v1", "credentials/list", token, {"userID": "someone-else"}), "Invalid parameter userID")


def test_service_authorisation_is_the_bearer_token(client: TestClient, world: World) -> None:
    _, credential_id = _member(world, "official")
    for version in ("v1", "v2"):
        missing = call(client, version, "credentials/list", None)
        assert missing.status_code == 401 and missing.json()["error"] == "invalid_request"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        for token in ("esk_unknown", world.orgs["A"].members["expired"].token):
            rejected = call(client, version, "credentials/info", token, {"credentialID": credential_id})
            assert rejected.status_code == 401 and rejected.json()["error"] == "invalid_token"
        clerk = call(client, version, "credentials/list", world.orgs["A"].members["clerk"].token)
        assert clerk.status_code == 403 and clerk.json()["error"] == "access_denied"


def test_requests_are_checked_in_the_specs_words(client: TestClient, world: World) -> None:
    token, credential_id = _member(world, "official")
    _refused(
        call(client, "v1", "credentials/authorize", token, {"numSignatures": 1, "PIN": PIN}),
        "Missing (or invalid type) string parameter credentialID",
    )
    _refused(
        call(
            client,
            "v1",
            "credentials/authorize",
            token,
            {"credentialID": credential_id, "numSignatures": "1", "PIN": PIN},
        ),
        "Missing (or invalid type) integer parameter numSignatures",
    )
    _refused(
        call(client, "v1", "credentials/authorize", token, {"credentialID": credential_id, "numSignatures": 1}),
        "Missing (or invalid type) string parameter PIN",
    )
    _refused(
        call(client, "v2", "credentials/authorize", token, {"credentialID": credential_id, "numSignatures": 1}),
        "Missing (or invalid type) array parameter authData",
    )
    _refused(
        call(
            client,
            "v1",
            "credentials/authorize",
            token,
            {"credentialID": credential_id, "numSignatures": 0, "PIN": PIN},
        ),
        "Invalid value for parameter numSignatures",
    )
    _refused(
        call(
            client,
            "v1",
            "credentials/authorize",
            token,
            {"credentialID": credential_id, "numSignatures": csc.MAX_SIGNATURES + 1, "PIN": PIN},
        ),
        "Numbers of signatures is too high",
    )
    _refused(
        call(
            client,
            "v1",
            "credentials/authorize",
            token,
            {"credentialID": credential_id, "numSignatures": 1, "PIN": PIN, "hash": ["%%%"]},
        ),
        "Invalid Base64 hash string parameter",
    )
    _refused(
        call(client, "v1", "credentials/info", token, {"credentialID": credential_id, "certificates": "all"}),
        "Invalid parameter certificates",
    )
    sad = authorize(client, token, credential_id, PIN, n=2)
    _refused(sign_hash(client, token, credential_id, sad, []), "Empty hash array")
    _refused(sign_hash(client, token, credential_id, sad, digests(1, 48)), "Invalid digest value length")
    _refused(
        sign_hash(client, token, credential_id, sad, digests(1), sign_algo="1.3.14.3.2.29"),
        "Invalid parameter signAlgo",
    )
    _refused(
        sign_hash(client, token, credential_id, sad, digests(1), sign_algo=SHA256_RSA), "Invalid parameter signAlgo"
    )
    _refused(sign_hash(client, token, credential_id, sad, digests(1), hash_algo=SHA512), "Invalid parameter hashAlgo")
    _refused(
        sign_hash(client, token, credential_id, sad, digests(1), version="v2", hash_algo=SHA512),
        "Invalid parameter hashAlgorithmOID",
    )
    assert _left(client_db(client), sad) == 2, "refused requests spend nothing"
    unknown = call(client, "v1", "auth/login", token)
    assert unknown.status_code == 501 and unknown.json()["error"] == "not_implemented"


def client_db(client: TestClient) -> Database:
    return client.app.state.database  # type: ignore[attr-defined, no-any-return]


# --- signing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_twenty_hashes_under_one_sad_in_one_call(client: TestClient, world: World, db: Database, version: str) -> None:
    token, credential_id = _member(world, "official")
    cert = certificate(client, token, credential_id)
    values = digests(20)
    sad = authorize(client, token, credential_id, PIN, n=20, version=version)
    response = sign_hash(client, token, credential_id, sad, values, version=version)
    assert response.status_code == 200, response.json()
    signatures = [base64.b64decode(s) for s in response.json()["signatures"]]
    assert len(signatures) == 20
    assert all(verifies(cert, sig, value) for sig, value in zip(signatures, values, strict=True))
    assert not verifies(cert, signatures[0], values[1]), "each signature belongs to its own hash, in order"
    assert _left(db, sad) is None, "a SAD used up is gone"
    _refused(sign_hash(client, token, credential_id, sad, digests(1), version=version), "Invalid parameter SAD")
    with db.transaction() as session:
        assert audit.verify(session).ok


def test_ecdsa_with_longer_hashes(client: TestClient, world: World) -> None:
    token, credential_id = _member(world, "official")
    cert = certificate(client, token, credential_id)
    sad = authorize(client, token, credential_id, PIN, n=2)
    for oid, hash_oid, size, name in ((ECDSA_SHA384, SHA384, 48, "sha384"), (ECDSA_SHA512, SHA512, 64, "sha512")):
        [value] = digests(1, size)
        response = sign_hash(client, token, credential_id, sad, [value], sign_algo=oid, hash_algo=hash_oid)
        assert response.status_code == 200, response.json()
        assert verifies(cert, base64.b64decode(response.json()["signatures"][0]), value, hash_name=name)


def test_rsa_pkcs1_pss_and_plain_rsa_encryption(client: TestClient, world: World, db: Database) -> None:
    leader = world.orgs["A"].members["leader"]
    actor = actor_for(world.orgs["A"].id, leader.official_id, leader.roles)
    with db.transaction() as session:
        credential_id = credentials.enrol(
            session,
            actor=actor,
            pki=world.pki,
            settings=world.settings.model_copy(update={"key_kind": "rsa"}),
            purpose=Purpose.SIGNATURE,
            pin=PIN,
        ).id
    info = call(client, "v2", "credentials/info", leader.token, {"credentialID": credential_id}).json()
    assert info["key"]["len"] == 3072 and "curve" not in info["key"]
    assert set(info["key"]["algo"]) == {SHA256_RSA, SHA384_RSA, SHA512_RSA, RSA_PSS, RSA_ENCRYPTION}
    cert = certificate(client, leader.token, credential_id)
    cases: list[tuple[str, str | None, str | None, int, str, int | None]] = [
        (SHA256_RSA, SHA256, None, 32, "sha256", None),
        (SHA384_RSA, None, None, 48, "sha384", None),
        (SHA512_RSA, SHA512, None, 64, "sha512", None),
        (RSA_ENCRYPTION, SHA256, None, 32, "sha256", None),
        (RSA_PSS, SHA256, pss_params("sha256", 32), 32, "sha256", 32),
        (RSA_PSS, None, pss_params("sha512", 64), 64, "sha512", 64),
    ]
    sad = authorize(client, leader.token, credential_id, PIN, n=len(cases) * 3 + 1, version="v2")
    for sign_algo, hash_algo, params, size, name, salt in cases:
        values = digests(3, size)
        response = sign_hash(
            client,
            leader.token,
            credential_id,
            sad,
            values,
            version="v2",
            sign_algo=sign_algo,
            hash_algo=hash_algo,
            params=params,
        )
        assert response.status_code == 200, (sign_algo, response.json())
        for sig, value in zip(response.json()["signatures"], values, strict=True):
            assert verifies(cert, base64.b64decode(sig), value, hash_name=name, pss_salt=salt), sign_algo
    _refused(
        sign_hash(
            client, leader.token, credential_id, sad, digests(1), version="v2", sign_algo=RSA_ENCRYPTION, hash_algo=None
        ),
        "Missing (or invalid type) string parameter hashAlgorithmOID",
    )
    _refused(
        sign_hash(client, leader.token, credential_id, sad, digests(1), sign_algo=RSA_PSS),
        "Missing (or invalid type) string parameter signAlgoParams",
    )
    _refused(
        sign_hash(
            client, leader.token, credential_id, sad, digests(1), sign_algo=RSA_PSS, params=pss_params("sha1", 20)
        ),
        "Invalid parameter signAlgoParams",
    )
    _refused(
        sign_hash(client, leader.token, credential_id, sad, digests(1), sign_algo=ECDSA_SHA256),
        "Invalid parameter signAlgo",
    )


# --- refusals ---------------------------------------------------------------------------------------


def test_wrong_pins_count_and_the_fifth_locks(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    wrong = {"credentialID": credential_id, "numSignatures": 1, "PIN": "000000"}
    for left in (4, 3, 2, 1):
        body = _refused(
            call(client, "v1", "credentials/authorize", token, wrong), "The PIN is invalid", error="invalid_pin"
        )
        assert body["tries_left"] == left
    _refused(call(client, "v1", "credentials/authorize", token, wrong), "PIN locked")
    right = {"credentialID": credential_id, "numSignatures": 1, "authData": [{"id": "PIN", "value": PIN}]}
    _refused(call(client, "v2", "credentials/authorize", token, right), "Credential locked")
    _refused(call(client, "v1", "credentials/authorize", token, {**wrong, "PIN": PIN}), "PIN locked")
    with db.transaction() as session:
        credential = session.get(Credential, credential_id)
        assert (
            credential is not None and credential.status == Status.LOCKED.value and credential.failed_pin_attempts == 5
        )
    info = call(client, "v1", "credentials/info", token, {"credentialID": credential_id}).json()
    assert info["key"]["status"] == "disabled" and info["cert"]["status"] == "valid"
    assert call(client, "v2", "credentials/list", token, {"onlyValid": True}).json()["credentialIDs"] == []


def test_a_right_pin_resets_the_count_and_v2_names_wrong_auth_data(
    client: TestClient, world: World, db: Database
) -> None:
    token, credential_id = _member(world, "official")
    body = {"credentialID": credential_id, "numSignatures": 1, "authData": [{"id": "PIN", "value": "999999"}]}
    refused = _refused(
        call(client, "v2", "credentials/authorize", token, body),
        "The authentication data is invalid",
        error="invalid_authentication_data",
    )
    assert refused["tries_left"] == 4
    legacy = {"credentialID": credential_id, "numSignatures": 1, "PIN": "999999"}
    assert (
        _refused(call(client, "v2", "credentials/authorize", token, legacy), "The PIN is invalid", error="invalid_pin")[
            "tries_left"
        ]
        == 3
    )
    authorize(client, token, credential_id, PIN, version="v2")
    with db.transaction() as session:
        credential = session.get(Credential, credential_id)
        assert credential is not None and credential.failed_pin_attempts == 0


def test_an_expired_sad_signs_nothing(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    sad = authorize(client, token, credential_id, PIN, n=3)
    with db.transaction() as session:
        session.execute(update(SignatureActivation).values(expires_at=now() - timedelta(seconds=1)))
    for version in ("v1", "v2"):
        _refused(sign_hash(client, token, credential_id, sad, digests(1), version=version), "SAD expired")
    assert _left(db, sad) == 3 and _signed_events(db) == 0


def test_a_sad_signs_no_more_than_it_authorises(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    sad = authorize(client, token, credential_id, PIN, n=3)
    _refused(sign_hash(client, token, credential_id, sad, digests(4)), "Invalid parameter SAD")
    assert _left(db, sad) == 3
    assert sign_hash(client, token, credential_id, sad, digests(2)).status_code == 200
    _refused(sign_hash(client, token, credential_id, sad, digests(2)), "Invalid parameter SAD")
    assert _left(db, sad) == 1
    assert sign_hash(client, token, credential_id, sad, digests(1)).status_code == 200
    _refused(sign_hash(client, token, credential_id, sad, digests(1)), "Invalid parameter SAD")
    assert _signed_events(db) == 2


def test_a_sad_is_for_its_own_credential(client: TestClient, world: World, db: Database) -> None:
    custodian = world.orgs["A"].members["custodian"]
    assert custodian.credential_id is not None and custodian.seal_id is not None
    sad = authorize(client, custodian.token, custodian.credential_id, PIN, n=1)
    _refused(sign_hash(client, custodian.token, custodian.seal_id, sad, digests(1)), "Invalid parameter SAD")
    _refused(sign_hash(client, custodian.token, custodian.seal_id, "sad_forged", digests(1)), "Invalid parameter SAD")
    assert _left(db, sad) == 1
    assert sign_hash(client, custodian.token, custodian.credential_id, sad, digests(1)).status_code == 200


def test_a_sad_bound_to_hashes_signs_those_once_each(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    cert = certificate(client, token, credential_id)
    first, second, other = digests(3)
    for version in ("v1", "v2"):
        sad = authorize(client, token, credential_id, PIN, n=2, hashes_=[first, second], version=version)
        _refused(
            sign_hash(client, token, credential_id, sad, [other], version=version), "Hash is not authorized by the SAD"
        )
        _refused(
            sign_hash(client, token, credential_id, sad, [first, other], version=version),
            "Hash is not authorized by the SAD",
        )
        assert _left(db, sad) == 2
        response = sign_hash(client, token, credential_id, sad, [first], version=version)
        assert response.status_code == 200 and verifies(cert, base64.b64decode(response.json()["signatures"][0]), first)
        _refused(
            sign_hash(client, token, credential_id, sad, [first], version=version), "Hash is not authorized by the SAD"
        )
        assert sign_hash(client, token, credential_id, sad, [second], version=version).status_code == 200
    _refused(
        call(
            client,
            "v1",
            "credentials/authorize",
            token,
            {"credentialID": credential_id, "numSignatures": 3, "PIN": PIN, "hash": b64([first])},
        ),
        "Invalid value for parameter numSignatures",
    )


def test_another_officials_token_cannot_present_the_sad(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    sad = authorize(client, token, credential_id, PIN, n=1)
    for other in (world.orgs["A"].members["leader"].token, world.orgs["B"].members["official"].token):
        for version in ("v1", "v2"):
            _refused(sign_hash(client, other, credential_id, sad, digests(1), version=version), "Invalid parameter SAD")
    assert _left(db, sad) == 1 and _signed_events(db) == 0
    assert sign_hash(client, token, credential_id, sad, digests(1)).status_code == 200


def test_a_revoked_credential_signs_nothing_more(client: TestClient, world: World, db: Database) -> None:
    token, credential_id = _member(world, "official")
    sad = authorize(client, token, credential_id, PIN, n=2)
    admin = world.orgs["A"].members["admin"]
    with db.transaction() as session:
        serial = session.get(Credential, credential_id).serial  # type: ignore[union-attr]
    assert (
        client.post(
            f"/v1/certificates/{serial}/revoke", headers=admin.headers, json={"reason": "keyCompromise"}
        ).status_code
        == 200
    )
    _refused(
        sign_hash(client, token, credential_id, sad, digests(1)),
        "The credential identified by credentialID is disabled",
    )
    info = call(client, "v1", "credentials/info", token, {"credentialID": credential_id}).json()
    assert info["key"]["status"] == "disabled" and info["cert"]["status"] == "revoked"
    assert call(client, "v1", "credentials/list", token).json()["credentialIDs"] == []


def test_concurrent_batches_cannot_overspend_a_sad(world: World, db: Database) -> None:
    """As the HTTP API does it: check and spend under the SAD's row lock, then sign outside any transaction.
    Four batches of two race for a SAD of five: two are spent and signed, two are refused and sign nothing."""
    official = world.orgs["A"].members["official"]
    assert official.credential_id is not None
    credential_id = official.credential_id
    actor = actor_for(world.orgs["A"].id, official.official_id, official.roles)
    with db.transaction() as session:
        sad = csc.authorize(
            session,
            actor=actor,
            pki=world.pki,
            settings=world.settings,
            credential_id=credential_id,
            pin=PIN,
            num_signatures=5,
        ).sad
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def spend() -> None:
        start.wait()
        try:
            with db.transaction() as session:
                batch = csc.spend(
                    session,
                    actor=actor,
                    credential_id=credential_id,
                    sad=sad,
                    hashes=digests(2),
                    sign_algo=ECDSA_SHA256,
                )
        except CscRefused as e:
            outcomes.append(e.refusal.value)
            return
        assert len(batch.sign()) == 2
        outcomes.append("signed")

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [Refusal.INVALID_SAD.value] * 2 + ["signed"] * 2
    assert _left(db, sad) == 1 and _signed_events(db) == 2


def test_a_batch_the_token_refuses_is_given_back_to_its_sad(
    world: World, db: Database, db_settings: Settings, hsm: SoftHsm
) -> None:
    """A batch is spent before the key works. When the token then refuses (its PIN was changed since the SAD
    was authorised), the client gets the refusal and the SAD gets the batch back, and the log says so: once
    the token takes the PIN again, the same hashes sign under the same SAD."""
    settings = db_settings.model_copy(update={"pkcs11_module": MODULE})
    token = hsm.new_token("csc-refund")
    leader = world.orgs["A"].members["leader"]
    with db.transaction() as session:
        credential_id = credentials.enrol(
            session,
            actor=actor_for(world.orgs["A"].id, leader.official_id, leader.roles),
            pki=world.pki,
            settings=settings,
            purpose=Purpose.SIGNATURE,
            pin=token.user_pin,
            storage=Storage.PKCS11,
            token_label=token.label,
        ).id

    def change_pin(old: str, new: str) -> None:
        with pkcs11.lib(str(MODULE)).get_token(token_label=token.label).open(user_pin=old, rw=True) as session:
            session.set_pin(old, new)

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        cert = certificate(client, leader.token, credential_id)
        values = digests(2)
        sad = authorize(client, leader.token, credential_id, token.user_pin, n=2, hashes_=values)
        change_pin(token.user_pin, "changed")
        _refused(sign_hash(client, leader.token, credential_id, sad, values), "Invalid parameter SAD")
        assert _left(db, sad) == 2
        change_pin("changed", token.user_pin)
        signed = sign_hash(client, leader.token, credential_id, sad, values)
        assert signed.status_code == 200, signed.json()
        signatures = [base64.b64decode(s) for s in signed.json()["signatures"]]
        assert all(verifies(cert, s, v) for s, v in zip(signatures, values, strict=True))
        _refused(sign_hash(client, leader.token, credential_id, sad, values[:1]), "Invalid parameter SAD")
    with db.transaction() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("credential.csc_%")).order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "credential.csc_authorized",
        "credential.csc_signed",
        "credential.csc_refunded",
        "credential.csc_signed",
    ]


def test_a_signing_process_that_died_fails_its_batch_which_the_sad_gets_back(
    client: TestClient, world: World, db: Database
) -> None:
    """Software keys sign in a child process. One killed between two batches fails the next one (503, nothing
    signed, the SAD keeps the batch), and the batch after starts a new child and signs."""
    token, credential_id = _member(world, "official")
    cert = certificate(client, token, credential_id)
    values = digests(3)
    sad = authorize(client, token, credential_id, PIN, n=3, hashes_=values)
    assert sign_hash(client, token, credential_id, sad, values[:1]).status_code == 200
    [pid] = signing_process.pids()
    os.kill(pid, signal.SIGKILL)
    failed = _refused(
        sign_hash(client, token, credential_id, sad, values[1:]),
        "the signing process stopped; nothing was signed, try again",
        status=503,
        error="temporarily_unavailable",
    )
    assert failed and _left(db, sad) == 2
    again = sign_hash(client, token, credential_id, sad, values[1:])
    assert again.status_code == 200, again.json()
    assert signing_process.pids() != [pid]
    signatures = [base64.b64decode(s) for s in again.json()["signatures"]]
    assert all(verifies(cert, s, v) for s, v in zip(signatures, values[1:], strict=True))
    assert _left(db, sad) is None


def test_the_openapi_document_describes_both_versions(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for version in ("v1", "v2"):
        for method in ("info", "credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash"):
            assert f"/csc/{version}/{method}" in document["paths"]
    sign = document["paths"]["/csc/v1/signatures/signHash"]["post"]
    assert sign["security"] == [{"CSC external": []}] and "external" in sign["description"]
    assert "security" not in document["paths"]["/csc/v2/info"]["post"]
