"""Routes through HTTP: the outgoing flow across two organisations, return, reroute, delegate, quorums,
and a failed sign-off that changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from esign import ltv
from esign.audit import AuditEvent
from esign.db import Database
from keys import ca
from tests.conftest import make_pdf
from tests.documents.circulation.conftest import Extra
from tests.validators import nss_db, pdfsig
from tests.world import PIN, World


def _document(api: TestClient, headers: dict[str, str], title: str = "关于试点的通知") -> str:
    response = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing"},
        files={"file": ("draft.pdf", make_pdf(pages=2), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _start(api: TestClient, headers: dict[str, str], document: str, stages: list[dict]) -> None:
    response = api.post(f"/v1/documents/{document}/route", headers=headers, json={"definition": {"stages": stages}})
    assert response.status_code == 201, response.text


def _open(api: TestClient, headers: dict[str, str], document: str) -> list[dict]:
    return [s for s in api.get("/v1/inbox", headers=headers).json()["steps"] if s["document_id"] == document]


def _one(api: TestClient, headers: dict[str, str], document: str, kind: str) -> str:
    [step] = [s for s in _open(api, headers, document) if s["kind"] == kind]
    return str(step["id"])


def _approve(api: TestClient, headers: dict[str, str], step: str, **body: object) -> dict:
    response = api.post(f"/v1/steps/{step}/approve", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_outgoing_flow_from_draft_to_the_recipients_receipt(
    api: TestClient, world: World, extra: Extra, tmp_path: Path
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    clerk, official, leader, custodian = (a.members[m] for m in ("clerk", "official", "leader", "custodian"))
    document = _document(api, clerk.headers)
    _start(
        api,
        clerk.headers,
        document,
        [
            {"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": official.official_id}}]},
            {
                "name": "会签",
                "steps": [
                    {"kind": "countersign", "assignee": {"department_id": extra.legal}},
                    {"kind": "countersign", "assignee": {"department_id": extra.finance}},
                ],
            },
            {"name": "签发", "steps": [{"kind": "sign_off", "assignee": {"official_id": leader.official_id}}]},
            {"name": "登记", "steps": [{"kind": "registration", "assignee": {"role": "clerk"}}]},
            {"name": "用印", "steps": [{"kind": "seal", "assignee": {"official_id": custodian.official_id}}]},
            {"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]},
        ],
    )
    [shown] = _open(api, official.headers, document)
    assert shown["document"]["title"] == "关于试点的通知" and shown["document"]["kind"] == "notice"
    assert (shown["stage_name"], shown["assignee_official_name"]) == ("核稿", "A-official")
    review = _one(api, official.headers, document, "review")
    assert api.post(f"/v1/steps/{review}/approve", headers=leader.headers, json={}).status_code == 403
    _approve(api, official.headers, review, opinion="文字已核")

    legal = _one(api, extra.legal_headers, document, "countersign")
    finance = _one(api, extra.finance_headers, document, "countersign")
    _approve(api, extra.legal_headers, legal, opinion="无意见")
    assert not _open(api, leader.headers, document), "sign-off waits for every countersignature"
    _approve(api, extra.finance_headers, finance, opinion="经费已落实")

    sign_off = _one(api, leader.headers, document, "sign_off")
    response = api.post(f"/v1/steps/{sign_off}/approve", headers=leader.headers, json={"opinion": "同意"})
    assert response.status_code == 422, "sign-off needs a signature"
    step = _approve(api, leader.headers, sign_off, opinion="同意", credential_id=leader.credential_id, pin=PIN)
    assert step["revision_seq"] == 2

    registration = _one(api, clerk.headers, document, "registration")
    number = _approve(api, clerk.headers, registration)["document"]["number"]
    assert number and number.startswith("A府办〔"), "a registration answers with the number it gave"
    assert api.get(f"/v1/documents/{document}", headers=clerk.headers).json()["number"] == number

    seal = _one(api, custodian.headers, document, "seal")
    step = _approve(api, custodian.headers, seal, credential_id=custodian.seal_id, pin=PIN)
    assert step["revision_seq"] == 4

    dispatch = _one(api, clerk.headers, document, "dispatch")
    _approve(api, clerk.headers, dispatch, recipients=[b.id])
    sent = api.get(f"/v1/documents/{document}", headers=clerk.headers).json()
    assert sent["state"] == "dispatched"
    again = api.post(
        f"/v1/documents/{document}/route",
        headers=clerk.headers,
        json={
            "definition": {
                "stages": [{"steps": [{"kind": "review", "assignee": {"official_id": official.official_id}}]}]
            }
        },
    )
    assert again.status_code == 409 and "dispatched" in again.json()["message"], again.text

    b_clerk = b.members["clerk"]
    [receipt] = [s for s in api.get("/v1/inbox", headers=b_clerk.headers).json()["steps"] if s["kind"] == "receipt"]
    incoming = receipt["document_id"]
    arrived = api.get(f"/v1/documents/{incoming}", headers=b_clerk.headers).json()
    assert arrived["direction"] == "incoming" and arrived["title"] == "关于试点的通知"
    assert arrived["number"] is None, "B's own number comes with B's registration"
    sender = {"organisation_id": a.id, "organisation_name": a.name, "number": number}
    assert arrived["sender"] == sender | {"reply_kind": None, "reply_due_on": None, "replied_at": None}
    assert receipt["document"]["sender"]["number"] == number
    listed = api.get("/v1/documents", headers=b_clerk.headers, params={"number": number}).json()["documents"]
    assert [d["id"] for d in listed] == [incoming], "B's register finds it by the sender's number"
    report = api.get(f"/v1/documents/{incoming}/verification", headers=b_clerk.headers).json()
    assert report["valid"] is True and len(report["signatures"]) == 3
    [revision] = api.get(f"/v1/documents/{incoming}/revisions", headers=b_clerk.headers).json()
    assert revision["reason"] == "received" and revision["has_verification"]
    sender_final = api.get(f"/v1/documents/{document}/pdf", headers=clerk.headers).content
    received = api.get(f"/v1/documents/{incoming}/pdf", headers=b_clerk.headers).content
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(sender_final).hexdigest()

    _approve(api, b_clerk.headers, receipt["id"])
    timeline = api.get(f"/v1/documents/{document}/timeline", headers=clerk.headers).json()
    types = [e["type"] for e in timeline]
    assert "dispatch.receipt" in types and "step.approve" in types and "revision.sealed" in types
    opinions = [e["detail"].get("opinion") for e in timeline if e["type"] == "step.approve"]
    assert "经费已落实" in opinions and "同意" in opinions

    path = tmp_path / "dispatched.pdf"
    path.write_bytes(received)
    found = pdfsig(path, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    # poppler 22 lists document time-stamps but cannot check them ("Signature Type: unknown")
    results = [r for r in found if not r.field.startswith(ltv.ARCHIVE_TIMESTAMP_FIELD)]
    assert len(results) == 3 and all(r.signature_valid for r in results)
    assert len(found) - len(results) == 3, "sign-off, number and seal are B-LTA: one document time-stamp each"
    signers = [r.signer for r in results]
    assert "A-leader" in signers and a.name in signers


def test_return_reroute_and_delegate(api: TestClient, world: World, extra: Extra, db: Database) -> None:
    a = world.orgs["A"]
    clerk, official, leader = a.members["clerk"], a.members["official"], a.members["leader"]
    document = _document(api, clerk.headers)
    _start(
        api,
        clerk.headers,
        document,
        [
            {"steps": [{"kind": "review", "assignee": {"official_id": official.official_id}}]},
            {"steps": [{"kind": "information", "assignee": {"department_id": extra.finance}}]},
            {"steps": [{"kind": "comment", "assignee": {"official_id": leader.official_id}}]},
        ],
    )
    _approve(api, official.headers, _one(api, official.headers, document, "review"))

    misdirected = _one(api, extra.finance_headers, document, "information")
    response = api.post(
        f"/v1/steps/{misdirected}/reroute",
        headers=extra.finance_headers,
        json={"department_id": extra.legal, "opinion": "非本处职责"},
    )
    assert response.status_code == 200 and response.json()["state"] == "rerouted"
    assert not _open(api, extra.finance_headers, document)
    rerouted = _one(api, extra.legal_headers, document, "information")
    assert api.post(f"/v1/steps/{misdirected}/approve", headers=extra.finance_headers, json={}).status_code == 409
    _approve(api, extra.legal_headers, rerouted, opinion="已提供")

    asked = _one(api, leader.headers, document, "comment")
    response = api.post(
        f"/v1/steps/{asked}/return", headers=leader.headers, json={"to_stage": 0, "opinion": "请重新核稿"}
    )
    assert response.status_code == 200 and response.json()["state"] == "returned"
    again = _one(api, official.headers, document, "review")

    response = api.post(
        f"/v1/steps/{again}/delegate", headers=official.headers, json={"official_id": extra.legal_official}
    )
    assert response.status_code == 200 and response.json()["state"] == "delegated"
    assert not _open(api, official.headers, document)
    delegated = _one(api, extra.legal_headers, document, "review")
    _approve(api, extra.legal_headers, delegated)
    assert _one(api, extra.finance_headers, document, "information")


def test_quorum_any_and_all(api: TestClient, world: World, extra: Extra) -> None:
    a = world.orgs["A"]
    clerk = a.members["clerk"]
    for quorum in ("any", "all"):
        document = _document(api, clerk.headers, title=f"quorum {quorum}")
        _start(
            api,
            clerk.headers,
            document,
            [
                {
                    "quorum": quorum,
                    "steps": [
                        {"kind": "comment", "assignee": {"department_id": extra.legal}},
                        {"kind": "comment", "assignee": {"department_id": extra.finance}},
                    ],
                },
                {"steps": [{"kind": "reading", "assignee": {"official_id": a.members["leader"].official_id}}]},
            ],
        )
        _approve(api, extra.legal_headers, _one(api, extra.legal_headers, document, "comment"))
        finance_open = _open(api, extra.finance_headers, document)
        leader_open = _open(api, a.members["leader"].headers, document)
        if quorum == "any":
            assert not finance_open and leader_open, "one is enough; the other is skipped"
        else:
            assert finance_open and not leader_open, "all must answer"


def test_a_wrong_pin_at_sign_off_changes_nothing(api: TestClient, world: World, db: Database) -> None:
    a = world.orgs["A"]
    clerk, leader = a.members["clerk"], a.members["leader"]
    document = _document(api, clerk.headers)
    _start(
        api,
        clerk.headers,
        document,
        [{"steps": [{"kind": "sign_off", "assignee": {"official_id": leader.official_id}}]}],
    )
    step = _one(api, leader.headers, document, "sign_off")

    def snapshot() -> tuple:
        with db.transaction() as session:
            events = session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "credential.pin_rejected")
            )
        doc = api.get(f"/v1/documents/{document}", headers=clerk.headers).json()
        revisions = api.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()
        steps = _open(api, leader.headers, document)
        return events, doc["state"], doc["revisions"], [r["sha256"] for r in revisions], steps

    before = snapshot()
    response = api.post(
        f"/v1/steps/{step}/approve",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": "000000"},
    )
    assert response.status_code == 403 and response.json()["code"] == "pin_invalid"
    assert snapshot() == before
    credential = api.get(f"/v1/credentials/{leader.credential_id}", headers=leader.headers).json()
    assert credential["failed_pin_attempts"] == 1, "only the wrong PIN is counted"
    with db.transaction() as session:
        rejected = session.scalars(select(AuditEvent).where(AuditEvent.action == "credential.pin_rejected")).all()
    assert [e.subject for e in rejected] == [f"credential:{leader.credential_id}"], "and audited"


def test_others_cannot_act(api: TestClient, world: World) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    document = _document(api, a.members["clerk"].headers)
    _start(
        api,
        a.members["clerk"].headers,
        document,
        [{"steps": [{"kind": "seal", "assignee": {"role": "seal_custodian"}}]}],
    )
    step = _one(api, a.members["custodian"].headers, document, "seal")
    assert api.post(f"/v1/steps/{step}/approve", headers=a.members["official"].headers, json={}).status_code == 403
    assert api.post(f"/v1/steps/{step}/approve", headers=b.members["custodian"].headers, json={}).status_code == 404
