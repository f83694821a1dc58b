"""收文 at the recipient: a document whose signature does not verify arrives flagged, is registered only with
an audited override, then goes through proposal, the leader's instruction naming two handling departments
(in parallel), reading, closure and archive."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from esign.audit import AuditEvent
from esign.db import Database
from esign.identity import Actor, Role
from esign.outbox import OutboxEvent
from keys import identities, tokens
from tests.conftest import make_pdf
from tests.world import World


def _steps(api: TestClient, headers: dict[str, str], document: str) -> list[dict]:
    return [s for s in api.get("/v1/inbox", headers=headers).json()["steps"] if s["document_id"] == document]


def _approve(api: TestClient, headers: dict[str, str], step: str, **body: object) -> dict:
    response = api.post(f"/v1/steps/{step}/approve", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_flagged_document_from_arrival_to_archive(api: TestClient, world: World, db: Database, ec_signer) -> None:
    from esign.sign import sign

    a, b = world.orgs["A"], world.orgs["B"]
    with db.transaction() as session:
        operator = Actor.operator(b.id)
        works = identities.create_department(session, actor=operator, name="住建局")
        builder = identities.create_official(
            session, actor=operator, department_id=works.id, name="B-builder", roles=[Role.OFFICIAL]
        )
        builder_headers = {
            "Authorization": "Bearer "
            + tokens.create_for_official(session, actor=operator, official_id=builder.id).token
        }

    # A sends a PDF signed with a key no one here trusts.
    a_clerk = a.members["clerk"].headers
    untrusted = sign(make_pdf(text="untrusted"), ec_signer)
    sent = api.post(
        "/v1/documents",
        headers=a_clerk,
        data={"title": "关于核查的函", "direction": "outgoing"},
        files={"file": ("letter.pdf", untrusted, "application/pdf")},
    ).json()["id"]
    route = {"definition": {"stages": [{"steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]}]}}
    assert api.post(f"/v1/documents/{sent}/route", headers=a_clerk, json=route).status_code == 201
    [dispatch] = _steps(api, a_clerk, sent)
    _approve(api, a_clerk, dispatch["id"], recipients=[b.id])

    clerk, leader, official = (b.members[m].headers for m in ("clerk", "leader", "official"))
    [receipt] = [s for s in api.get("/v1/inbox", headers=clerk).json()["steps"] if s["kind"] == "receipt"]
    incoming = receipt["document_id"]
    assert api.get(f"/v1/documents/{incoming}/verification", headers=clerk).json()["valid"] is False
    _approve(api, clerk, receipt["id"])
    assert api.get(f"/v1/documents/{sent}/timeline", headers=a_clerk).json()[-1]["type"] == "dispatch.receipt"

    [registration] = _steps(api, clerk, incoming)
    assert registration["kind"] == "registration"
    refused = api.post(f"/v1/steps/{registration['id']}/approve", headers=clerk, json={})
    assert refused.status_code == 409 and "override_reason" in refused.json()["message"]
    assert _steps(api, clerk, incoming)[0]["id"] == registration["id"], "the refusal changed nothing"
    _approve(api, clerk, registration["id"], override_reason="已电话核实来文真实")
    with db.transaction() as session:
        [overridden] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "document.flag_overridden", AuditEvent.subject == f"document:{incoming}"
            )
        ).all()
        assert overridden.actor == f"official:{b.members['clerk'].official_id}"

    [proposal] = _steps(api, clerk, incoming)
    assert proposal["kind"] == "proposal"
    _approve(api, clerk, proposal["id"], opinion="拟请办公室、住建局办理")
    [instruction] = _steps(api, leader, incoming)
    assert instruction["kind"] == "instruction"
    _approve(
        api,
        leader,
        instruction["id"],
        opinion="请两部门会同办理",
        handlers=[{"department_id": b.department_id}, {"department_id": works.id}],
    )

    [ours] = _steps(api, official, incoming)
    [theirs] = _steps(api, builder_headers, incoming)
    assert ours["kind"] == theirs["kind"] == "handling"
    _approve(api, builder_headers, theirs["id"], opinion="已核查")
    assert not [s for s in _steps(api, leader, incoming) if s["kind"] == "reading"], "reading waits for both"
    _approve(api, official, ours["id"], opinion="已答复")

    [reading] = [s for s in _steps(api, leader, incoming) if s["kind"] == "reading"]
    _approve(api, leader, reading["id"], opinion="阅")
    [closure] = _steps(api, clerk, incoming)
    assert closure["kind"] == "closure"
    _approve(api, clerk, closure["id"])

    archived = api.get(f"/v1/documents/{incoming}", headers=clerk).json()
    assert archived["state"] == "archived"
    timeline = api.get(f"/v1/documents/{incoming}/timeline", headers=clerk).json()
    opinions = [e["detail"].get("opinion") for e in timeline if e["type"] == "step.approve"]
    assert {"请两部门会同办理", "已核查", "已答复", "阅"} <= set(opinions)
    everyone = [b.members[m].headers for m in ("admin", "official", "leader", "custodian", "clerk")] + [builder_headers]
    assert not any(_steps(api, headers, incoming) for headers in everyone), "nothing left open"

    approvals = {e["by_name"] for e in timeline if e["type"] == "step.approve"}
    assert {"B-builder", "B-leader"} <= approvals, "the timeline names who acted"
    sender_side = api.get(f"/v1/documents/{sent}/timeline", headers=a_clerk).json()
    progress = [
        (e["type"], e["detail"]["to_organisation_name"]) for e in sender_side if e["type"].startswith("recipient.")
    ]
    assert progress == [
        ("recipient.registered", b.name),
        ("recipient.assigned", b.name),
        ("recipient.handled", b.name),
        ("recipient.handled", b.name),
        ("recipient.closed", b.name),
    ], "the sender follows the recipient's handling"
    leaked = [e for e in sender_side if e["type"].startswith("recipient.") and (e["by"] or "opinion" in e["detail"])]
    assert not leaked, "who acted and their opinions stay the recipient's"
    with db.transaction() as session:
        told = session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.organisation_id == a.id, OutboxEvent.type.like("recipient.%"))
            .order_by(OutboxEvent.created_at)
        ).all()
    assert told == [t for t, _ in progress], "and gets each as a webhook event"
