"""Requests between organisations through HTTP: reply deadlines on each recipient's calendar, replies linked to
their request, a route that waits on them, and 回流 to the competent organisation."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from documents.circulation import calendar
from documents.circulation.model import Dispatch
from esign.db import Database
from esign.identity import Actor
from esign.outbox import OutboxEvent
from tests.conftest import make_pdf
from tests.world import World, add_org


def _outgoing(api: TestClient, headers: dict[str, str], title: str, stages: list[dict]) -> str:
    document = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing", "kind": "letter"},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    ).json()["id"]
    response = api.post(f"/v1/documents/{document}/route", headers=headers, json={"definition": {"stages": stages}})
    assert response.status_code == 201, response.text
    return str(document)


def _step(api: TestClient, headers: dict[str, str], document: str, kind: str) -> dict:
    [step] = [
        s
        for s in api.get("/v1/inbox", headers=headers).json()["steps"]
        if s["document_id"] == document and s["kind"] == kind
    ]
    return step


def _received(api: TestClient, headers: dict[str, str], title: str) -> dict:
    [document] = api.get("/v1/documents", headers=headers, params={"direction": "incoming", "q": title}).json()[
        "documents"
    ]
    return document


DISPATCH = {"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]}


def test_a_request_its_deadlines_a_forward_and_the_replies_the_route_waits_for(
    api: TestClient, world: World, db: Database
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    with db.transaction() as session:
        c = add_org(session, world.pki, world.settings, "C", "丙区市场监管局", "11440106MB3000003", enrol=False)
        d = add_org(session, world.pki, world.settings, "D", "丙区卫生健康局", "11440106MB4000004", enrol=False)
        tomorrow = calendar.today() + timedelta(days=1)
        calendar.set_override(session, actor=Actor.operator(b.id), day=tomorrow, working=False)
    clerk = a.members["clerk"].headers
    title = "关于提供防汛物资储备数据的函"
    asked = _outgoing(
        api,
        clerk,
        title,
        [DISPATCH, {"name": "等待回复", "steps": [{"kind": "replies", "assignee": {"role": "clerk"}}]}],
    )
    dispatch = _step(api, clerk, asked, "dispatch")
    sent = api.post(
        f"/v1/steps/{dispatch['id']}/approve",
        headers=clerk,
        json={"recipients": [b.id, c.id], "reply_kind": "information"},
    )
    assert sent.status_code == 200, sent.text
    waiting = _step(api, clerk, asked, "replies")
    to_b = Dispatch.recipient_organisation_id == b.id
    with db.transaction() as session:
        due_at_b = session.scalar(select(Dispatch.reply_due_on).where(to_b))
        session.execute(update(Dispatch).where(to_b).values(reply_due_on=calendar.today() - timedelta(days=1)))
    awaited = api.get("/v1/supervision", headers=a.members["leader"].headers).json()["replies"]
    assert [(r["recipient_name"], r["colour"], r["title"]) for r in awaited] == [(b.name, "red", title)], (
        "C's is not due yet"
    )

    with db.transaction() as session:
        session.execute(update(Dispatch).where(to_b).values(reply_due_on=due_at_b))
        expected_b = calendar.load(session, organisation_id=b.id).add_working_days(calendar.today(), 2)
        expected_c = calendar.load(session, organisation_id=c.id).add_working_days(calendar.today(), 2)
        later_d = calendar.load(session, organisation_id=d.id).add_working_days(calendar.today(), 2)
    assert expected_b > expected_c or not calendar.official_working_day(tomorrow), "B's day off counts for B only"
    at_b = _received(api, b.members["clerk"].headers, title)
    at_c = _received(api, c.members["clerk"].headers, title)
    assert (at_b["sender"]["reply_kind"], at_b["sender"]["reply_due_on"]) == ("information", expected_b.isoformat())
    assert at_c["sender"]["reply_due_on"] == expected_c.isoformat()

    # C is not competent: 回流 to D, whose clock starts now.
    refused = api.post(
        f"/v1/documents/{at_c['id']}/forward",
        headers=c.members["clerk"].headers,
        json={"organisation_id": a.id, "reason": "x"},
    )
    assert refused.status_code == 422, "not back to the sender"
    moved = api.post(
        f"/v1/documents/{at_c['id']}/forward",
        headers=c.members["clerk"].headers,
        json={"organisation_id": d.id, "reason": "食品安全数据由卫生健康局掌握"},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["reply_due_on"] == later_d.isoformat()
    assert api.get(f"/v1/documents/{at_c['id']}", headers=c.members["clerk"].headers).json()["state"] == "forwarded"
    assert not api.get("/v1/inbox", headers=c.members["clerk"].headers).json()["steps"], "C's steps are cancelled"
    at_d = _received(api, d.members["clerk"].headers, title)
    assert at_d["id"] == moved.json()["incoming_document_id"] and at_d["sender"]["organisation_id"] == a.id
    assert (
        api.post(
            f"/v1/documents/{at_d['id']}/forward",
            headers=d.members["official"].headers,
            json={"organisation_id": c.id, "reason": "x"},
        ).status_code
        == 403
    ), "a clerk or a leader forwards"

    # B replies; the route still waits for D.
    reply = _outgoing(api, b.members["clerk"].headers, "关于防汛物资储备数据的复函", [DISPATCH])
    step = _step(api, b.members["clerk"].headers, reply, "dispatch")
    wrong = api.post(
        f"/v1/steps/{step['id']}/approve",
        headers=b.members["clerk"].headers,
        json={"in_reply_to": at_b["id"], "recipients": [c.id]},
    )
    assert wrong.status_code == 422 and "only to it" in wrong.text
    answered = api.post(
        f"/v1/steps/{step['id']}/approve", headers=b.members["clerk"].headers, json={"in_reply_to": at_b["id"]}
    )
    assert answered.status_code == 200, answered.text
    assert _step(api, clerk, asked, "replies")["id"] == waiting["id"], "one reply of two"

    reply_d = _outgoing(api, d.members["clerk"].headers, "卫生健康局的复函", [DISPATCH])
    step_d = _step(api, d.members["clerk"].headers, reply_d, "dispatch")
    assert (
        api.post(
            f"/v1/steps/{step_d['id']}/approve", headers=d.members["clerk"].headers, json={"in_reply_to": at_d["id"]}
        ).status_code
        == 200
    )
    assert not [s for s in api.get("/v1/inbox", headers=clerk).json()["steps"] if s["document_id"] == asked], (
        "done by itself"
    )

    timeline = api.get(f"/v1/documents/{asked}/timeline", headers=clerk).json()
    replied = [
        (e["detail"]["to_organisation_name"], e["detail"]["on_time"])
        for e in timeline
        if e["type"] == "request.replied"
    ]
    assert sorted(replied) == sorted([(b.name, True), (d.name, True)])
    [forwarded] = [e for e in timeline if e["type"] == "dispatch.forwarded"]
    assert (forwarded["detail"]["to_organisation_name"], forwarded["detail"]["forwarded_to_name"]) == (c.name, d.name)
    assert forwarded["detail"]["reason"] == "食品安全数据由卫生健康局掌握"
    [step_done] = [e for e in timeline if e["type"] == "step.approve" and e["detail"]["kind"] == "replies"]
    assert step_done["by"] == "system:replies"
    with db.transaction() as session:
        told = session.scalars(
            select(OutboxEvent.type).where(OutboxEvent.organisation_id == a.id, OutboxEvent.type.like("request.%"))
        ).all()
    assert sorted(told) == ["request.forwarded", "request.replied", "request.replied"]
    notified = api.get("/v1/notifications", headers=clerk).json()["items"]
    assert [(n["document_id"], n["title"]) for n in notified if n["kind"] == "replied"] == [(asked, title)] * 2, (
        "the clerk who drafted the request is told of each reply"
    )
    reply_at_a = _received(api, clerk, "关于防汛物资储备数据的复函")
    assert reply_at_a["sender"]["organisation_id"] == b.id
